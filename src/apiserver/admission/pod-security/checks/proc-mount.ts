/** Baseline: the default /proc masks stay on (procMount unset or Default). */
import { allContainers, containersPhrase, joinQuote, sortedSet, type Check } from '../check.js';

export const procMount: Check = {
  id: 'procMount',
  level: 'baseline',
  minVersion: 0,
  check(_meta, spec) {
    const bad: string[] = [];
    const types: string[] = [];
    for (const c of allContainers(spec)) {
      const pm = c.securityContext?.procMount;
      if (pm != null && pm !== 'Default') {
        bad.push(c.name);
        types.push(pm);
      }
    }
    if (!bad.length) return undefined;
    return { reason: 'procMount', detail: `${containersPhrase(bad)} must not set securityContext.procMount to ${joinQuote(sortedSet(types))}` };
  },
};
