/** core/v1 secrets: type Opaque by default, stringData folded into data, `type` selectable. */
import { defaultSecret } from '../../../../api/defaulting/core.js';
import { validateSecret, validateSecretUpdate } from '../../../../api/validation/core.js';
import type { Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, nameColumn } from '../../strategy-helpers.js';

/** The secrets strategy. */
export function secretStrategy(): Strategy {
  return {
    info: { group: '', version: 'v1', resource: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true },
    nameValidation: 'dns-subdomain',
    defaults: (obj) => {
      defaultSecret(obj);
    },
    validate: validateSecret,
    validateUpdate: validateSecretUpdate,
    table: {
      columns: [nameColumn(), col('Type', 'string', 'Used to facilitate programmatic handling of secret data.'), col('Data', 'string', 'Data contains the secret data.'), ageColumn()],
      cells: (s, now) => [s.metadata?.name ?? '', s.type ?? '', Object.keys(s.data ?? {}).length, age(s, now)],
    },
    selectableFields: (s) => ({ type: s.type ?? '' }),
  };
}
