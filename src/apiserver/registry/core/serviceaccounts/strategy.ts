/** core/v1 serviceaccounts: the Secrets column. */
import { validateServiceAccount } from '../../../../api/validation/core.js';
import type { Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, nameColumn } from '../../strategy-helpers.js';

/** The serviceaccounts strategy. */
export function serviceAccountStrategy(): Strategy {
  return {
    info: { group: '', version: 'v1', resource: 'serviceaccounts', singular: 'serviceaccount', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'] },
    nameValidation: 'dns-subdomain',
    validate: validateServiceAccount,
    validateUpdate: validateServiceAccount,
    table: {
      columns: [nameColumn(), col('Secrets', 'string', 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.'), ageColumn()],
      cells: (sa, now) => [sa.metadata?.name ?? '', Array.isArray(sa.secrets) ? sa.secrets.length : 0, age(sa, now)],
    },
  };
}
