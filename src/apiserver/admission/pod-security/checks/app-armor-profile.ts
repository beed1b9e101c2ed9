/** Baseline: AppArmor may not be disabled (field or deprecated annotation), only RuntimeDefault or Localhost. */
import { allContainers, containersPhrase, joinQuote, pluralize, sortedSet, type Check } from '../check.js';

const annotationPrefix = 'container.apparmor.security.beta.kubernetes.io/';

function allowedType(t: string | undefined): boolean {
  return t === 'RuntimeDefault' || t === 'Localhost';
}
function allowedAnnotation(v: string): boolean {
  return v === '' || v === 'runtime/default' || v.startsWith('localhost/');
}

export const appArmorProfile: Check = {
  id: 'appArmorProfile',
  level: 'baseline',
  minVersion: 0,
  check(meta, spec) {
    const setters: string[] = [];
    const values: string[] = [];
    const podProfile = spec.securityContext?.appArmorProfile;
    if (podProfile && !allowedType(podProfile.type)) {
      setters.push('pod');
      values.push(podProfile.type ?? '');
    }
    const bad: string[] = [];
    for (const c of allContainers(spec)) {
      const p = c.securityContext?.appArmorProfile;
      if (p && !allowedType(p.type)) {
        bad.push(c.name);
        values.push(p.type ?? '');
      }
    }
    if (bad.length) setters.push(containersPhrase(bad));
    const annotations = Object.entries(meta.annotations ?? {})
      .filter(([k, v]) => k.startsWith(annotationPrefix) && !allowedAnnotation(v))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .sort();
    const list = [...sortedSet(values), ...annotations];
    if (annotations.length) setters.push(pluralize('annotation', 'annotations', annotations.length));
    if (!setters.length) return undefined;
    return {
      reason: pluralize('forbidden AppArmor profile', 'forbidden AppArmor profiles', list.length),
      detail: `${setters.join(' and ')} must not set AppArmor profile type to ${joinQuote(list)}`,
    };
  },
};
