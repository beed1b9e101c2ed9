/**
 * core/v1 persistentvolumeclaims: a spec immutable but for a first volumeName and a bound claim's
 * storage request, status (phase Pending on create) written by the binder, and kubectl's columns.
 */
import type { KObject, Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, keepStatus, nameColumn, statusStrategy } from '../../strategy-helpers.js';
import {
  accessModesString,
  claimClass,
  defaultPersistentVolumeClaim,
  quantityString,
  validatePersistentVolumeClaim,
  validatePersistentVolumeClaimStatusUpdate,
  validatePersistentVolumeClaimUpdate,
} from '../persistentvolumes/validation.js';

/** The persistentvolumeclaims strategy. */
export function persistentVolumeClaimStrategy(): Strategy {
  return {
    info: { group: '', version: 'v1', resource: 'persistentvolumeclaims', singular: 'persistentvolumeclaim', kind: 'PersistentVolumeClaim', namespaced: true, shortNames: ['pvc'] },
    nameValidation: 'dns-subdomain',
    defaults: defaultPersistentVolumeClaim,
    prepareForCreate: (pvc) => {
      pvc.status = {};
    },
    prepareForUpdate: keepStatus,
    validate: validatePersistentVolumeClaim,
    validateUpdate: validatePersistentVolumeClaimUpdate,
    table: {
      columns: [
        nameColumn(),
        col('Status', 'string', 'phase represents the current phase of PersistentVolumeClaim.'),
        col('Volume', 'string', 'volumeName is the binding reference to the PersistentVolume backing this claim.'),
        col('Capacity', 'string', 'capacity represents the actual resources of the underlying volume.'),
        col('Access Modes', 'string', 'accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1'),
        col('StorageClass', 'string', 'StorageClass of the pvc'),
        col('VolumeAttributesClass', 'string', 'VolumeAttributesClass of the pvc'),
        ageColumn(),
        col('VolumeMode', 'string', 'volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.', 1),
      ],
      cells: (pvc, t) => persistentVolumeClaimCells(pvc, t),
    },
    status: statusStrategy({ validate: validatePersistentVolumeClaimStatusUpdate }),
  };
}

/** One `kubectl get pvc` row (upstream's printPersistentVolumeClaim): capacity and modes only once bound to a volume. */
export function persistentVolumeClaimCells(pvc: KObject, now: Date): unknown[] {
  const spec = pvc.spec ?? {};
  const phase = pvc.metadata?.deletionTimestamp ? 'Terminating' : (pvc.status?.phase ?? '');
  const volume = spec.volumeName ?? '';
  const capacity = volume ? quantityString(pvc.status?.capacity?.storage) || '0' : '';
  const modes = volume ? accessModesString(pvc.status?.accessModes) : '';
  return [pvc.metadata?.name ?? '', phase, volume, capacity, modes, claimClass(pvc), spec.volumeAttributesClassName ?? '<unset>', age(pvc, now), spec.volumeMode ?? '<unset>'];
}
