/** Baseline: a seccomp profile, if set, is RuntimeDefault or Localhost (never Unconfined). */
import { allContainers, containersPhrase, joinQuote, sortedSet, type Check } from '../check.js';

/** True for the seccomp profile types both levels accept. */
export function validSeccomp(t: string | undefined): boolean {
  return t === 'RuntimeDefault' || t === 'Localhost';
}

export const seccompProfileBaseline: Check = {
  id: 'seccompProfile_baseline',
  level: 'baseline',
  minVersion: 0,
  check(_meta, spec) {
    const setters: string[] = [];
    const values: string[] = [];
    const podProfile = spec.securityContext?.seccompProfile;
    if (podProfile && !validSeccomp(podProfile.type)) {
      setters.push('pod');
      values.push(podProfile.type ?? '');
    }
    const bad: string[] = [];
    for (const c of allContainers(spec)) {
      const p = c.securityContext?.seccompProfile;
      if (p && !validSeccomp(p.type)) {
        bad.push(c.name);
        values.push(p.type ?? '');
      }
    }
    if (bad.length) setters.push(containersPhrase(bad));
    if (!setters.length) return undefined;
    return {
      reason: 'seccompProfile',
      detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(sortedSet(values))}`,
    };
  },
};
