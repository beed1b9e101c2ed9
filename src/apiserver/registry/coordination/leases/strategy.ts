/** coordination.k8s.io/v1 leases: validation and the Holder column. */
import { validateLease } from '../../../../api/validation/groups.js';
import type { Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, nameColumn } from '../../strategy-helpers.js';

/** The leases strategy. */
export function leaseStrategy(): Strategy {
  return {
    info: { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', singular: 'lease', kind: 'Lease', namespaced: true },
    nameValidation: 'dns-subdomain',
    validate: validateLease,
    validateUpdate: validateLease,
    table: {
      columns: [nameColumn(), col('Holder', 'string', 'holderIdentity contains the identity of the holder of a current lease.'), ageColumn()],
      cells: (l, now) => [l.metadata?.name ?? '', l.spec?.holderIdentity ?? '', age(l, now)],
    },
  };
}
