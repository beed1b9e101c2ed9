/** Baseline: no host ports. */
import { allContainers, containersPhrase, pluralize, type Check } from '../check.js';

export const hostPorts: Check = {
  id: 'hostPorts',
  level: 'baseline',
  minVersion: 0,
  check(_meta, spec) {
    const bad: string[] = [];
    const ports = new Set<string>();
    for (const c of allContainers(spec)) {
      const used = (c.ports ?? []).filter((p) => p.hostPort != null && p.hostPort !== 0);
      if (!used.length) continue;
      bad.push(c.name);
      for (const p of used) ports.add(String(p.hostPort));
    }
    if (!bad.length) return undefined;
    // Sorted as strings, as upstream's string set lists them ("443" before "80").
    const list = [...ports].sort();
    return {
      reason: 'hostPort',
      detail: `${containersPhrase(bad)} ${pluralize('uses', 'use', bad.length)} ${pluralize('hostPort', 'hostPorts', list.length)} ${list.join(', ')}`,
    };
  },
};
