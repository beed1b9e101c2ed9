/** Baseline: no privileged containers. */
import { allContainers, containersPhrase, type Check } from '../check.js';

export const privileged: Check = {
  id: 'privileged',
  level: 'baseline',
  minVersion: 0,
  check(_meta, spec) {
    const bad = allContainers(spec).filter((c) => c.securityContext?.privileged === true).map((c) => c.name);
    if (!bad.length) return undefined;
    return { reason: 'privileged', detail: `${containersPhrase(bad)} must not set securityContext.privileged=true` };
  },
};
