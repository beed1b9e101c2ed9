/** Baseline: containers may add only capabilities from the container runtime's default set. */
import { allContainers, containersPhrase, joinQuote, sortedSet, type Check } from '../check.js';

const allowed = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD',
  'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);

export const capabilitiesBaseline: Check = {
  id: 'capabilities_baseline',
  level: 'baseline',
  minVersion: 0,
  check(_meta, spec) {
    const bad: string[] = [];
    const caps: string[] = [];
    for (const c of allContainers(spec)) {
      const extra = (c.securityContext?.capabilities?.add ?? []).filter((cap) => !allowed.has(cap));
      if (extra.length) {
        bad.push(c.name);
        caps.push(...extra);
      }
    }
    if (!bad.length) return undefined;
    return {
      reason: 'non-default capabilities',
      detail: `${containersPhrase(bad)} must not include ${joinQuote(sortedSet(caps))} in securityContext.capabilities.add`,
    };
  },
};
