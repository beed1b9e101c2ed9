/** Baseline: SELinux type only from the container set; user and role unset. */
import type { SELinuxOptions } from 'kubernetes-types/core/v1.js';
import { allContainers, containersPhrase, joinQuote, pluralize, sortedSet, type Check } from '../check.js';

const allowedTypes = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t']);

export const seLinuxOptions: Check = {
  id: 'seLinuxOptions',
  level: 'baseline',
  minVersion: 0,
  check(_meta, spec) {
    const types: string[] = [];
    let setUser = false;
    let setRole = false;
    const valid = (o: SELinuxOptions): boolean => {
      let ok = true;
      if (!allowedTypes.has(o.type ?? '')) {
        ok = false;
        types.push(o.type ?? '');
      }
      if (o.user) {
        ok = false;
        setUser = true;
      }
      if (o.role) {
        ok = false;
        setRole = true;
      }
      return ok;
    };
    const setters: string[] = [];
    const podOpts = spec.securityContext?.seLinuxOptions;
    if (podOpts && !valid(podOpts)) setters.push('pod');
    const bad = allContainers(spec)
      .filter((c) => c.securityContext?.seLinuxOptions && !valid(c.securityContext.seLinuxOptions))
      .map((c) => c.name);
    if (bad.length) setters.push(containersPhrase(bad));
    if (!setters.length) return undefined;
    const data: string[] = [];
    const t = sortedSet(types);
    if (t.length) data.push(`${pluralize('type', 'types', t.length)} ${joinQuote(t)}`);
    if (setUser) data.push('user may not be set');
    if (setRole) data.push('role may not be set');
    return { reason: 'seLinuxOptions', detail: `${setters.join(' and ')} set forbidden securityContext.seLinuxOptions: ${data.join('; ')}` };
  },
};
