/** apps/v1 statefulsets: defaults, validation, status and scale subresources, the table. */
import { defaultStatefulSet } from '../../../../api/defaulting/apps.js';
import { validateStatefulSet, validateStatefulSetStatusUpdate, validateStatefulSetUpdate } from '../../../../api/validation/apps.js';
import type { Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, containerCells, containersColumn, imagesColumn, int, keepStatus, nameColumn, replicasScale, resetStatus, statusStrategy } from '../../strategy-helpers.js';

/** The statefulsets strategy. */
export function statefulSetStrategy(): Strategy {
  return {
    info: { group: 'apps', version: 'v1', resource: 'statefulsets', singular: 'statefulset', kind: 'StatefulSet', namespaced: true, shortNames: ['sts'], categories: ['all'] },
    nameValidation: 'dns-subdomain',
    defaults: (obj) => {
      defaultStatefulSet(obj);
    },
    prepareForCreate: resetStatus,
    prepareForUpdate: keepStatus,
    validate: validateStatefulSet,
    validateUpdate: validateStatefulSetUpdate,
    bumpsGeneration: true,
    table: {
      columns: [nameColumn(), col('Ready', 'string', 'Number of the pod with ready state'), ageColumn(), containersColumn(), imagesColumn()],
      cells: (s, now) => {
        const [names, images] = containerCells(s.spec?.template?.spec?.containers);
        return [s.metadata?.name ?? '', `${int(s.status?.readyReplicas)}/${int(s.spec?.replicas)}`, age(s, now), names, images];
      },
    },
    status: statusStrategy({ resetMeta: true, validate: validateStatefulSetStatusUpdate }),
    scale: replicasScale(),
  };
}
