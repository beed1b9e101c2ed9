/** core/v1 resourcequotas: status written by the quota controller, and the Request/Limit columns. */
import { tryParseQuantity } from '../../../../api/quantity.js';
import { validateResourceQuota, validateResourceQuotaStatusUpdate, validateResourceQuotaUpdate } from '../../../../api/validation/core.js';
import type { KObject, Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, keepStatus, nameColumn, resetStatus, statusStrategy } from '../../strategy-helpers.js';

function q(v: unknown): string {
  const p = tryParseQuantity(v);
  return p ? p.toString() : '0';
}

/** The Request and Limit cells: `cpu: 100m/1, pods: 2/10`, limits.* in the second. */
export function quotaCells(rq: KObject): [string, string] {
  const hard = rq.status?.hard ?? {};
  const used = rq.status?.used ?? {};
  const req: string[] = [];
  const lim: string[] = [];
  for (const name of Object.keys(hard).sort()) {
    const entry = `${name}: ${q(used[name])}/${q(hard[name])}`;
    const pieces = name.split('.');
    if (pieces.length > 1 && pieces[0] === 'limits') lim.push(entry);
    else req.push(entry);
  }
  return [req.join(', '), lim.join(', ')];
}

/** The resourcequotas strategy. */
export function resourceQuotaStrategy(): Strategy {
  return {
    info: { group: '', version: 'v1', resource: 'resourcequotas', singular: 'resourcequota', kind: 'ResourceQuota', namespaced: true, shortNames: ['quota'] },
    nameValidation: 'dns-subdomain',
    prepareForCreate: resetStatus,
    prepareForUpdate: keepStatus,
    validate: validateResourceQuota,
    validateUpdate: validateResourceQuotaUpdate,
    table: {
      columns: [
        nameColumn(),
        ageColumn(),
        col('Request', 'string', 'Request represents a minimum amount of cpu/memory that a container may consume.'),
        col('Limit', 'string', 'Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.'),
      ],
      cells: (rq, now) => {
        const [req, lim] = quotaCells(rq);
        return [rq.metadata?.name ?? '', age(rq, now), req, lim];
      },
    },
    status: statusStrategy({ validate: validateResourceQuotaStatusUpdate }),
  };
}
