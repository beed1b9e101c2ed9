/** Restricted: the pod or every container sets runAsNonRoot=true, and none sets it false. */
import { allContainers, containersPhrase, type Check } from '../check.js';

export const runAsNonRoot: Check = {
  id: 'runAsNonRoot',
  level: 'restricted',
  minVersion: 0,
  check(_meta, spec) {
    const setters: string[] = [];
    const podValue = spec.securityContext?.runAsNonRoot;
    if (podValue === false) setters.push('pod');
    const podNonRoot = podValue === true;
    const explicit: string[] = [];
    const implicit: string[] = [];
    for (const c of allContainers(spec)) {
      const v = c.securityContext?.runAsNonRoot;
      if (v != null) {
        if (!v) explicit.push(c.name);
      } else if (!podNonRoot) implicit.push(c.name);
    }
    if (explicit.length) setters.push(containersPhrase(explicit));
    if (setters.length) return { reason: 'runAsNonRoot != true', detail: `${setters.join(' and ')} must not set securityContext.runAsNonRoot=false` };
    if (implicit.length) return { reason: 'runAsNonRoot != true', detail: `pod or ${containersPhrase(implicit)} must set securityContext.runAsNonRoot=true` };
    return undefined;
  },
};
