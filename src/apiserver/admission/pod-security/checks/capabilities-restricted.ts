/** Restricted (1.22+): containers drop ALL and add at most NET_BIND_SERVICE. */
import { allContainers, containersPhrase, joinQuote, sortedSet, type Check } from '../check.js';

export const capabilitiesRestricted: Check = {
  id: 'capabilities_restricted',
  level: 'restricted',
  minVersion: 22,
  overrides: ['capabilities_baseline'],
  check(_meta, spec) {
    const missingDrop: string[] = [];
    const adding: string[] = [];
    const caps: string[] = [];
    for (const c of allContainers(spec)) {
      const cap = c.securityContext?.capabilities;
      if (!cap) {
        missingDrop.push(c.name);
        continue;
      }
      if (!(cap.drop ?? []).includes('ALL')) missingDrop.push(c.name);
      const extra = (cap.add ?? []).filter((x) => x !== 'NET_BIND_SERVICE');
      if (extra.length) {
        adding.push(c.name);
        caps.push(...extra);
      }
    }
    const details: string[] = [];
    if (missingDrop.length) details.push(`${containersPhrase(missingDrop)} must set securityContext.capabilities.drop=["ALL"]`);
    if (adding.length) details.push(`${containersPhrase(adding)} must not include ${joinQuote(sortedSet(caps))} in securityContext.capabilities.add`);
    if (!details.length) return undefined;
    return { reason: 'unrestricted capabilities', detail: details.join('; ') };
  },
};
