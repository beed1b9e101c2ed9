/** Restricted (1.8+): every container sets allowPrivilegeEscalation=false. */
import { allContainers, containersPhrase, type Check } from '../check.js';

export const allowPrivilegeEscalation: Check = {
  id: 'allowPrivilegeEscalation',
  level: 'restricted',
  minVersion: 8,
  check(_meta, spec) {
    const bad = allContainers(spec).filter((c) => c.securityContext?.allowPrivilegeEscalation !== false).map((c) => c.name);
    if (!bad.length) return undefined;
    return { reason: 'allowPrivilegeEscalation != false', detail: `${containersPhrase(bad)} must set securityContext.allowPrivilegeEscalation=false` };
  },
};
