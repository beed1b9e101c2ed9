/** core/v1 configmaps: key and size validation, `immutable`, and the Data column. */
import { validateConfigMap, validateConfigMapUpdate } from '../../../../api/validation/core.js';
import type { Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, nameColumn } from '../../strategy-helpers.js';

/** The configmaps strategy. */
export function configMapStrategy(): Strategy {
  return {
    info: { group: '', version: 'v1', resource: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] },
    nameValidation: 'dns-subdomain',
    validate: validateConfigMap,
    validateUpdate: validateConfigMapUpdate,
    table: {
      columns: [nameColumn(), col('Data', 'string', 'Data contains the configuration data.'), ageColumn()],
      cells: (cm, now) => [cm.metadata?.name ?? '', Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length, age(cm, now)],
    },
  };
}
