/** core/v1 endpoints: subset validation and the Endpoints column (`10.0.0.1:80,… + 2 more...`). */
import { defaultEndpoints } from '../../../../api/defaulting/core.js';
import { validateEndpoints } from '../../../../api/validation/core.js';
import type { KObject, Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, nameColumn } from '../../strategy-helpers.js';

const arr = (v: unknown): any[] => (Array.isArray(v) ? v : []);

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Up to three `ip:port` pairs, then `+ N more...` (upstream's formatEndpoints). */
export function formatEndpoints(ep: KObject): string {
  const subsets = arr(ep.subsets);
  if (subsets.length === 0) return '<none>';
  const max = 3;
  const list: string[] = [];
  let more = false;
  let count = 0;
  for (const ss of subsets) {
    const addrs = arr(ss?.addresses);
    const ports = arr(ss?.ports);
    if (ports.length === 0) {
      count += addrs.length;
      for (const a of addrs) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(a?.ip ?? '');
      }
      continue;
    }
    for (const p of ports) {
      count += addrs.length;
      for (const a of addrs) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(hostPort(a?.ip ?? '', p?.port ?? 0));
      }
    }
  }
  const s = list.join(',');
  return more ? `${s} + ${count - max} more...` : s;
}

/** The endpoints strategy. */
export function endpointsStrategy(): Strategy {
  return {
    info: { group: '', version: 'v1', resource: 'endpoints', singular: 'endpoints', kind: 'Endpoints', namespaced: true, shortNames: ['ep'] },
    nameValidation: 'dns-subdomain',
    defaults: (obj) => {
      defaultEndpoints(obj);
    },
    validate: validateEndpoints,
    validateUpdate: validateEndpoints,
    table: {
      columns: [nameColumn(), col('Endpoints', 'string', 'The set of all endpoints is the union of all subsets.'), ageColumn()],
      cells: (ep, now) => [ep.metadata?.name ?? '', formatEndpoints(ep), age(ep, now)],
    },
  };
}
