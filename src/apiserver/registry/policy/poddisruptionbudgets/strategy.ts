/** policy/v1 poddisruptionbudgets: validation, the status subresource, the table. */
import { validatePodDisruptionBudget, validatePodDisruptionBudgetStatusUpdate } from '../../../../api/validation/groups.js';
import type { Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, int, keepStatus, nameColumn, statusStrategy } from '../../strategy-helpers.js';

/** The poddisruptionbudgets strategy. */
export function podDisruptionBudgetStrategy(): Strategy {
  return {
    info: { group: 'policy', version: 'v1', resource: 'poddisruptionbudgets', singular: 'poddisruptionbudget', kind: 'PodDisruptionBudget', namespaced: true, shortNames: ['pdb'] },
    nameValidation: 'dns-subdomain',
    prepareForCreate(obj) {
      obj.status = {};
    },
    prepareForUpdate: keepStatus,
    validate: validatePodDisruptionBudget,
    validateUpdate: validatePodDisruptionBudget,
    bumpsGeneration: true,
    table: {
      columns: [
        nameColumn(),
        col('Min Available', 'string', 'The minimum number of pods that must be available.'),
        col('Max Unavailable', 'string', 'The maximum number of pods that may be unavailable.'),
        col('Allowed Disruptions', 'integer', 'Calculated number of pods that may be disrupted at this time.'),
        ageColumn(),
      ],
      cells: (pdb, now) => {
        const s = pdb.spec ?? {};
        const show = (v: unknown) => (v === undefined || v === null ? 'N/A' : String(v));
        return [pdb.metadata?.name ?? '', show(s.minAvailable), show(s.maxUnavailable), int(pdb.status?.disruptionsAllowed), age(pdb, now)];
      },
    },
    status: statusStrategy({ resetMeta: true, validate: validatePodDisruptionBudgetStatusUpdate }),
  };
}
