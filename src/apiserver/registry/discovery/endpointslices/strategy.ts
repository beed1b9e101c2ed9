/** discovery.k8s.io/v1 endpointslices: validation and the AddressType/Ports/Endpoints columns. */
import { defaultEndpointSlice } from '../../../../api/defaulting/core.js';
import { validateEndpointSlice, validateEndpointSliceUpdate } from '../../../../api/validation/groups.js';
import type { KObject, Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, nameColumn } from '../../strategy-helpers.js';

function listWithMore(list: string[], more: boolean, count: number, max: number): string {
  const s = list.join(',');
  if (more) return `${s} + ${count - max} more...`;
  return s || '<unset>';
}

/** Up to three ports (`80`, a name, or `*`). */
export function formatSlicePorts(es: KObject): string {
  const ports: any[] = Array.isArray(es.ports) ? es.ports : [];
  const list: string[] = [];
  let more = false;
  for (const p of ports) {
    if (list.length < 3) list.push(p?.port !== undefined && p?.port !== null ? String(p.port) : p?.name !== undefined && p?.name !== null ? String(p.name) : '*');
    else more = true;
  }
  return listWithMore(list, more, ports.length, 3);
}

/** Up to three endpoint addresses. */
export function formatSliceEndpoints(es: KObject): string {
  const list: string[] = [];
  let more = false;
  let count = 0;
  for (const ep of Array.isArray(es.endpoints) ? es.endpoints : []) {
    for (const a of Array.isArray(ep?.addresses) ? ep.addresses : []) {
      if (list.length < 3) list.push(String(a));
      else more = true;
      count++;
    }
  }
  return listWithMore(list, more, count, 3);
}

/** The endpointslices strategy. */
export function endpointSliceStrategy(): Strategy {
  return {
    info: { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices', singular: 'endpointslice', kind: 'EndpointSlice', namespaced: true },
    nameValidation: 'dns-subdomain',
    defaults: (obj) => {
      defaultEndpointSlice(obj);
    },
    validate: validateEndpointSlice,
    validateUpdate: validateEndpointSliceUpdate,
    table: {
      columns: [
        nameColumn(),
        col('AddressType', 'string', 'addressType specifies the type of address carried by this EndpointSlice.'),
        col('Ports', 'string', 'ports specifies the list of network ports exposed by each endpoint in this slice.'),
        col('Endpoints', 'string', 'endpoints is a list of unique endpoints in this slice.'),
        ageColumn(),
      ],
      cells: (es, now) => [es.metadata?.name ?? '', es.addressType ?? '', formatSlicePorts(es), formatSliceEndpoints(es), age(es, now)],
    },
  };
}
