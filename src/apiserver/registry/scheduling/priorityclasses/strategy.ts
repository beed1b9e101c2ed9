/** scheduling.k8s.io/v1 priorityclasses: cluster-scoped, immutable value, Value/Global-Default columns. */
import { defaultPriorityClass } from '../../../../api/defaulting/core.js';
import { validatePriorityClass, validatePriorityClassUpdate } from '../../../../api/validation/groups.js';
import type { Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, int, nameColumn } from '../../strategy-helpers.js';

/** The priorityclasses strategy. */
export function priorityClassStrategy(): Strategy {
  return {
    info: { group: 'scheduling.k8s.io', version: 'v1', resource: 'priorityclasses', singular: 'priorityclass', kind: 'PriorityClass', namespaced: false, shortNames: ['pc'] },
    nameValidation: 'dns-subdomain',
    defaults: (obj) => {
      defaultPriorityClass(obj);
    },
    validate: validatePriorityClass,
    validateUpdate: (obj, old) => [...validatePriorityClass(obj), ...validatePriorityClassUpdate(obj, old)],
    table: {
      columns: [
        nameColumn(),
        col('Value', 'integer', 'value represents the integer value of this priority class.'),
        col('Global-Default', 'boolean', 'globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.'),
        ageColumn(),
      ],
      cells: (pc, now) => [pc.metadata?.name ?? '', int(pc.value), pc.globalDefault === true, age(pc, now)],
    },
  };
}
