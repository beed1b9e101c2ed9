/** Baseline: no sharing of the host's network, PID or IPC namespaces. */
import type { Check } from '../check.js';

export const hostNamespaces: Check = {
  id: 'hostNamespaces',
  level: 'baseline',
  minVersion: 0,
  check(_meta, spec) {
    const set: string[] = [];
    if (spec.hostNetwork) set.push('hostNetwork');
    if (spec.hostPID) set.push('hostPID');
    if (spec.hostIPC) set.push('hostIPC');
    if (!set.length) return undefined;
    return { reason: 'host namespaces', detail: set.sort().map((n) => `${n}=true`).join(', ') };
  },
};
