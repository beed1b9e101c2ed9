/** Baseline: only the namespaced, isolated ("safe") sysctls. */
import type { Check } from '../check.js';

/** The safe set as of the newest policy version (1.32 added tcp_rmem/tcp_wmem). */
const safe = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
]);

export const sysctls: Check = {
  id: 'sysctls',
  level: 'baseline',
  minVersion: 0,
  check(_meta, spec) {
    const bad = (spec.securityContext?.sysctls ?? []).map((s) => s.name).filter((n) => !safe.has(n));
    if (!bad.length) return undefined;
    return { reason: 'forbidden sysctls', detail: bad.join(', ') };
  },
};
