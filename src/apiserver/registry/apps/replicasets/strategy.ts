/** apps/v1 replicasets: defaults, validation, status and scale subresources, the table. */
import { defaultReplicaSet } from '../../../../api/defaulting/apps.js';
import { formatLabelSelector } from '../../../../api/labels/label-selector.js';
import { validateReplicaSet, validateReplicaSetStatusUpdate, validateReplicaSetUpdate } from '../../../../api/validation/apps.js';
import type { Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, containerCells, containersColumn, imagesColumn, int, keepStatus, nameColumn, replicasScale, resetStatus, statusStrategy } from '../../strategy-helpers.js';

/** The replicasets strategy. */
export function replicaSetStrategy(): Strategy {
  return {
    info: { group: 'apps', version: 'v1', resource: 'replicasets', singular: 'replicaset', kind: 'ReplicaSet', namespaced: true, shortNames: ['rs'], categories: ['all'] },
    nameValidation: 'dns-subdomain',
    defaults: (obj) => {
      defaultReplicaSet(obj);
    },
    prepareForCreate: resetStatus,
    prepareForUpdate: keepStatus,
    validate: validateReplicaSet,
    validateUpdate: validateReplicaSetUpdate,
    bumpsGeneration: true,
    table: {
      columns: [
        nameColumn(),
        col('Desired', 'integer', 'Replicas is the number of desired pods.'),
        col('Current', 'integer', 'Replicas is the most recently observed number of replicas.'),
        col('Ready', 'integer', 'The number of ready replicas for this replica set.'),
        ageColumn(),
        containersColumn(),
        imagesColumn(),
        col('Selector', 'string', 'Selector is a label query over pods that should match the replica count.', 1),
      ],
      cells: (rs, now) => {
        const [names, images] = containerCells(rs.spec?.template?.spec?.containers);
        return [rs.metadata?.name ?? '', int(rs.spec?.replicas), int(rs.status?.replicas), int(rs.status?.readyReplicas), age(rs, now), names, images, formatLabelSelector(rs.spec?.selector)];
      },
    },
    selectableFields: (rs) => ({ 'status.replicas': String(int(rs.status?.replicas)) }),
    status: statusStrategy({ resetMeta: true, validate: validateReplicaSetStatusUpdate }),
    scale: replicasScale(),
  };
}
