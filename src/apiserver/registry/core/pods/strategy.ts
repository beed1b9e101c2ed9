/**
 * core/v1 pods: defaults (including what upstream's admission adds), validation, the status
 * split, graceful deletion, field selectors and the table.
 */
import { computePodQOS, defaultPod } from '../../../../api/defaulting/pod.js';
import { validatePod, validatePodEphemeralContainersUpdate, validatePodStatusUpdate, validatePodUpdate } from '../../../../api/validation/pod.js';
import type { KObject, Strategy } from '../../generic/strategy.js';
import { boolField, keepStatus, statusStrategy } from '../../strategy-helpers.js';
import { podTable } from './table.js';

/** The grace period a pod delete gets (upstream's podStrategy.CheckGracefulDelete). */
export function podDeleteGracePeriod(pod: KObject, requested: number | undefined): number {
  let period = requested ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
  if (!pod.spec?.nodeName) period = 0;
  const phase = pod.status?.phase;
  if (phase === 'Failed' || phase === 'Succeeded') period = 0;
  if (period < 0) period = 1;
  return period;
}

/** Field-selector values of a pod beyond metadata.name/namespace. */
export function podSelectableFields(pod: KObject): Record<string, string> {
  const spec = pod.spec ?? {};
  const status = pod.status ?? {};
  const podIP = Array.isArray(status.podIPs) && status.podIPs.length ? status.podIPs[0]?.ip ?? '' : status.podIP ?? '';
  return {
    'spec.nodeName': spec.nodeName ?? '',
    'spec.restartPolicy': spec.restartPolicy ?? '',
    'spec.schedulerName': spec.schedulerName ?? '',
    'spec.serviceAccountName': spec.serviceAccountName ?? '',
    'spec.hostNetwork': boolField(spec.hostNetwork),
    'status.phase': status.phase ?? '',
    'status.podIP': podIP,
    'status.nominatedNodeName': status.nominatedNodeName ?? '',
  };
}

/** The pods strategy. */
export function podStrategy(): Strategy {
  return {
    info: { group: '', version: 'v1', resource: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, shortNames: ['po'], categories: ['all'] },
    nameValidation: 'dns-subdomain',
    defaults: (obj) => {
      defaultPod(obj);
    },
    prepareForCreate(obj) {
      defaultPod(obj);
      // The deprecated field mirrors serviceAccountName (ServiceAccount admission picks the account).
      if (obj.spec && (obj.spec.serviceAccountName || obj.spec.serviceAccount)) {
        obj.spec.serviceAccountName ||= obj.spec.serviceAccount;
        obj.spec.serviceAccount = obj.spec.serviceAccountName;
      }
      obj.status = { phase: 'Pending', qosClass: computePodQOS(obj) };
    },
    prepareForUpdate: keepStatus,
    validate: validatePod,
    validateUpdate: validatePodUpdate,
    bumpsGeneration: false,
    table: podTable,
    selectableFields: podSelectableFields,
    status: statusStrategy({ keepOwnerReferences: true, validate: validatePodStatusUpdate }),
    updateSubresources: {
      // kubectl debug: only spec.ephemeralContainers may change (upstream's dropNonEphemeralContainerUpdates).
      ephemeralcontainers: {
        prepareForUpdate(obj: KObject, old: KObject) {
          const ephemeral = obj.spec?.ephemeralContainers;
          const kept = structuredClone(old);
          // The metadata object stays the same one: the store goes on writing to it.
          const meta = obj.metadata;
          const { name, namespace, resourceVersion, uid } = meta;
          for (const k of Object.keys(meta)) delete meta[k];
          Object.assign(meta, kept.metadata, { name, namespace, resourceVersion, uid });
          for (const k of Object.keys(obj)) if (k !== 'metadata') delete obj[k];
          for (const [k, v] of Object.entries(kept)) if (k !== 'metadata') obj[k] = v;
          if (ephemeral === undefined) delete obj.spec.ephemeralContainers;
          else obj.spec.ephemeralContainers = ephemeral;
        },
        validateUpdate: validatePodEphemeralContainersUpdate,
      },
    },
    deleteGracePeriod: podDeleteGracePeriod,
  };
}
