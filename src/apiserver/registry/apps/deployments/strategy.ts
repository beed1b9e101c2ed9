/** apps/v1 deployments: defaults, validation, status and scale subresources, the table. */
import { defaultDeployment } from '../../../../api/defaulting/apps.js';
import { validateDeployment, validateDeploymentStatusUpdate, validateDeploymentUpdate } from '../../../../api/validation/apps.js';
import { semanticEqual } from '../../../../api/validation/helpers.js';
import type { Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, containerCells, containersColumn, imagesColumn, int, keepStatus, nameColumn, replicasScale, resetStatus, selectorStringOf, statusStrategy } from '../../strategy-helpers.js';

/** The deployments strategy. */
export function deploymentStrategy(): Strategy {
  return {
    info: { group: 'apps', version: 'v1', resource: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true, shortNames: ['deploy'], categories: ['all'] },
    nameValidation: 'dns-subdomain',
    defaults: (obj) => {
      defaultDeployment(obj);
    },
    prepareForCreate: resetStatus,
    prepareForUpdate(obj, old) {
      keepStatus(obj, old);
      // Annotations are copied to ReplicaSets, so changing them is a new generation too.
      if (!semanticEqual(obj.metadata?.annotations, old.metadata?.annotations)) {
        (obj.metadata ??= {}).generation = (old.metadata?.generation ?? 0) + 1;
      }
    },
    validate: validateDeployment,
    validateUpdate: validateDeploymentUpdate,
    bumpsGeneration: true,
    table: {
      columns: [
        nameColumn(),
        col('Ready', 'string', 'Number of the pod with ready state'),
        col('Up-to-date', 'string', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
        col('Available', 'string', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
        ageColumn(),
        containersColumn(),
        imagesColumn(),
        col('Selector', 'string', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.', 1),
      ],
      cells: (d, now) => {
        const [names, images] = containerCells(d.spec?.template?.spec?.containers);
        const sel = selectorStringOf(d.spec?.selector);
        return [
          d.metadata?.name ?? '',
          `${int(d.status?.readyReplicas)}/${int(d.spec?.replicas)}`,
          int(d.status?.updatedReplicas),
          int(d.status?.availableReplicas),
          age(d, now),
          names,
          images,
          sel === undefined ? '<invalid>' : sel,
        ];
      },
    },
    status: statusStrategy({ keepMeta: ['labels'], validate: validateDeploymentStatusUpdate }),
    scale: replicasScale(),
  };
}
