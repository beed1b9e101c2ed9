/** apps/v1 daemonsets: defaults, validation, the status subresource, the table. */
import { defaultDaemonSet } from '../../../../api/defaulting/apps.js';
import { formatLabelSelector, formatLabels } from '../../../../api/labels/label-selector.js';
import { validateDaemonSet, validateDaemonSetStatusUpdate, validateDaemonSetUpdate } from '../../../../api/validation/apps.js';
import type { Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, containerCells, containersColumn, imagesColumn, int, keepStatus, nameColumn, resetStatus, statusStrategy } from '../../strategy-helpers.js';

/** The daemonsets strategy. */
export function daemonSetStrategy(): Strategy {
  return {
    info: { group: 'apps', version: 'v1', resource: 'daemonsets', singular: 'daemonset', kind: 'DaemonSet', namespaced: true, shortNames: ['ds'], categories: ['all'] },
    nameValidation: 'dns-subdomain',
    defaults: (obj) => {
      defaultDaemonSet(obj);
    },
    prepareForCreate: resetStatus,
    prepareForUpdate: keepStatus,
    validate: validateDaemonSet,
    validateUpdate: validateDaemonSetUpdate,
    bumpsGeneration: true,
    table: {
      columns: [
        nameColumn(),
        col('Desired', 'integer', 'The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).'),
        col('Current', 'integer', 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.'),
        col('Ready', 'integer', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.'),
        col('Up-to-date', 'integer', 'The total number of nodes that are running updated daemon pod'),
        col('Available', 'integer', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)'),
        col('Node Selector', 'string', "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node."),
        ageColumn(),
        containersColumn(),
        imagesColumn(),
        col('Selector', 'string', 'A label query over pods that are managed by the daemon set.', 1),
      ],
      cells: (ds, now) => {
        const st = ds.status ?? {};
        const [names, images] = containerCells(ds.spec?.template?.spec?.containers);
        return [
          ds.metadata?.name ?? '',
          int(st.desiredNumberScheduled),
          int(st.currentNumberScheduled),
          int(st.numberReady),
          int(st.updatedNumberScheduled),
          int(st.numberAvailable),
          formatLabels(ds.spec?.template?.spec?.nodeSelector),
          age(ds, now),
          names,
          images,
          formatLabelSelector(ds.spec?.selector),
        ];
      },
    },
    status: statusStrategy({ resetMeta: true, validate: validateDaemonSetStatusUpdate }),
  };
}
