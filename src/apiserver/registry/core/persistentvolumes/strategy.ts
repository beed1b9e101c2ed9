/**
 * core/v1 persistentvolumes: cluster-scoped, Retain/Filesystem defaults, status written by the
 * binder (phase Pending on create, lastPhaseTransitionTime stamped on every phase change), and
 * kubectl's columns.
 */
import type { KObject, Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, keepStatus, nameColumn, statusStrategy } from '../../strategy-helpers.js';
import { accessModesString, defaultPersistentVolume, persistentVolumeClass, quantityString, validatePersistentVolume, validatePersistentVolumeUpdate } from './validation.js';

/** metav1.Time of now: RFC 3339 with seconds. */
function nowTime(now: () => Date): string {
  return now().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The persistentvolumes strategy; `now` is the clock for phase transition times. */
export function persistentVolumeStrategy(now: () => Date = () => new Date()): Strategy {
  const status = statusStrategy();
  return {
    info: { group: '', version: 'v1', resource: 'persistentvolumes', singular: 'persistentvolume', kind: 'PersistentVolume', namespaced: false, shortNames: ['pv'] },
    nameValidation: 'dns-subdomain',
    defaults: defaultPersistentVolume,
    // Upstream resets status and starts every volume Pending with a transition time.
    prepareForCreate: (pv) => {
      pv.status = { phase: 'Pending', lastPhaseTransitionTime: nowTime(now) };
    },
    prepareForUpdate: keepStatus,
    validate: validatePersistentVolume,
    validateUpdate: validatePersistentVolumeUpdate,
    table: {
      columns: [
        nameColumn(),
        col('Capacity', 'string', "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity"),
        col('Access Modes', 'string', 'accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes'),
        col(
          'Reclaim Policy',
          'string',
          'persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming',
        ),
        col('Status', 'string', 'phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase'),
        col(
          'Claim',
          'string',
          'claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding',
        ),
        col('StorageClass', 'string', 'StorageClass of the pv'),
        col('VolumeAttributesClass', 'string', 'VolumeAttributesClass of the pv'),
        col('Reason', 'string', 'reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.'),
        ageColumn(),
        col('VolumeMode', 'string', 'volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.', 1),
      ],
      cells: (pv, t) => persistentVolumeCells(pv, t),
    },
    status: {
      prepareForUpdate(pv: KObject, old: KObject) {
        status.prepareForUpdate(pv, old);
        const st = (pv.status ??= {});
        const was = old.status ?? {};
        if (st.phase === was.phase) {
          if (!st.lastPhaseTransitionTime && was.lastPhaseTransitionTime) st.lastPhaseTransitionTime = was.lastPhaseTransitionTime;
        } else if (!st.lastPhaseTransitionTime || st.lastPhaseTransitionTime === was.lastPhaseTransitionTime) {
          st.lastPhaseTransitionTime = nowTime(now);
        }
      },
    },
  };
}

/** One `kubectl get pv` row (upstream's printPersistentVolume). */
export function persistentVolumeCells(pv: KObject, now: Date): unknown[] {
  const spec = pv.spec ?? {};
  const ref = spec.claimRef;
  const claim = ref ? `${ref.namespace ?? ''}/${ref.name ?? ''}` : '';
  const phase = pv.metadata?.deletionTimestamp ? 'Terminating' : (pv.status?.phase ?? '');
  return [
    pv.metadata?.name ?? '',
    quantityString(spec.capacity?.storage) || '0',
    accessModesString(spec.accessModes),
    spec.persistentVolumeReclaimPolicy ?? '',
    phase,
    claim,
    persistentVolumeClass(pv),
    spec.volumeAttributesClassName ?? '<unset>',
    pv.status?.reason ?? '',
    age(pv, now),
    spec.volumeMode ?? '<unset>',
  ];
}
