/** Restricted (1.23+): neither the pod nor a container runs as UID 0. */
import { allContainers, containersPhrase, type Check } from '../check.js';

export const runAsUser: Check = {
  id: 'runAsUser',
  level: 'restricted',
  minVersion: 23,
  check(_meta, spec) {
    const setters: string[] = [];
    if (spec.securityContext?.runAsUser === 0) setters.push('pod');
    const bad = allContainers(spec).filter((c) => c.securityContext?.runAsUser === 0).map((c) => c.name);
    if (bad.length) setters.push(containersPhrase(bad));
    if (!setters.length) return undefined;
    return { reason: 'runAsUser=0', detail: `${setters.join(' and ')} must not set runAsUser=0` };
  },
};
