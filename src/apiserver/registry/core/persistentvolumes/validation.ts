/**
 * Defaulting and validation of PersistentVolumes and PersistentVolumeClaims with upstream's
 * wording (pkg/apis/core/v1 defaults, pkg/apis/core/validation), and the helpers kubectl's
 * printers use for them (access-mode abbreviations, storage class of an object).
 */
import { field, type FieldError } from '../../../../api/errors.js';
import { tryParseQuantity } from '../../../../api/quantity.js';
import { isDNS1123Subdomain } from '../../../../api/validation/identifiers.js';
import { child, get, list, map, semanticEqual, validateImmutable, validateLabelSelector, type Obj } from '../../../../api/validation/helpers.js';
import { parseQuantityField, validateResourceQuantityValue } from '../../../../api/validation/pod.js';

/** Access modes in the order upstream lists them as supported values. */
export const supportedAccessModes = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];
const supportedReclaimPolicies = ['Delete', 'Recycle', 'Retain'];
const supportedVolumeModes = ['Block', 'Filesystem'];
/** Upstream's isNotPositiveErrorMsg for quantities. */
const notPositive = 'must be greater than zero';

/** The beta annotation older objects carry their storage class in. */
export const BETA_STORAGE_CLASS_ANNOTATION = 'volume.beta.kubernetes.io/storage-class';

/**
 * The PV volume sources in upstream's validation order: a second source is reported at its own
 * path, so the order decides which one is named.
 */
export const persistentVolumeSources = [
  'hostPath', 'gcePersistentDisk', 'awsElasticBlockStore', 'glusterfs', 'flocker', 'nfs', 'rbd', 'quobyte', 'cephfs', 'iscsi', 'cinder',
  'fc', 'flexVolume', 'azureFile', 'vsphereVolume', 'photonPersistentDisk', 'portworxVolume', 'azureDisk', 'scaleIO', 'local', 'storageos', 'csi',
];

/** `RWO,ROX,RWX,RWOP` as kubectl prints access modes (upstream's GetAccessModesAsString). */
export function accessModesString(modes: unknown): string {
  const have = new Set(list(modes));
  const out: string[] = [];
  for (const [m, abbr] of [['ReadWriteOnce', 'RWO'], ['ReadOnlyMany', 'ROX'], ['ReadWriteMany', 'RWX'], ['ReadWriteOncePod', 'RWOP']]) if (have.has(m)) out.push(abbr!);
  return out.join(',');
}

/** A PV's storage class: the beta annotation, else spec.storageClassName (upstream's GetPersistentVolumeClass). */
export function persistentVolumeClass(pv: Obj): string {
  const ann = get(pv, 'metadata', 'annotations', BETA_STORAGE_CLASS_ANNOTATION);
  if (typeof ann === 'string') return ann;
  return String(get(pv, 'spec', 'storageClassName') ?? '');
}

/** A claim's storage class: the beta annotation, else spec.storageClassName ('' when unset). */
export function claimClass(pvc: Obj): string {
  const ann = get(pvc, 'metadata', 'annotations', BETA_STORAGE_CLASS_ANNOTATION);
  if (typeof ann === 'string') return ann;
  return String(get(pvc, 'spec', 'storageClassName') ?? '');
}

/** A quantity's canonical string, '' when absent or malformed. */
export function quantityString(v: unknown): string {
  return v === undefined ? '' : (tryParseQuantity(v)?.toString() ?? '');
}

/** Upstream's SetDefaults_PersistentVolume: phase Pending, reclaim policy Retain, volume mode Filesystem. */
export function defaultPersistentVolume(pv: Obj): void {
  const spec = (pv.spec ??= {});
  if (!spec.persistentVolumeReclaimPolicy) spec.persistentVolumeReclaimPolicy = 'Retain';
  if (spec.volumeMode === undefined || spec.volumeMode === null) spec.volumeMode = 'Filesystem';
  if (spec.hostPath && typeof spec.hostPath === 'object' && spec.hostPath.type === undefined) spec.hostPath.type = '';
  const status = (pv.status ??= {});
  if (!status.phase) status.phase = 'Pending';
}

/** Upstream's SetDefaults_PersistentVolumeClaim(Spec): phase Pending, volume mode Filesystem. */
export function defaultPersistentVolumeClaim(pvc: Obj): void {
  const spec = (pvc.spec ??= {});
  if (spec.volumeMode === undefined || spec.volumeMode === null) spec.volumeMode = 'Filesystem';
  const status = (pvc.status ??= {});
  if (!status.phase) status.phase = 'Pending';
}

function validateClassName(value: unknown, path: string): FieldError[] {
  if (typeof value !== 'string' || value === '') return [];
  return isDNS1123Subdomain(value).map((m) => field.invalid(path, value, m));
}

function validateAccessModes(modes: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  let rwop = false;
  let other = false;
  for (const m of list(modes)) {
    if (!supportedAccessModes.includes(m)) errs.push(field.notSupported(path, m, supportedAccessModes));
    else if (m === 'ReadWriteOncePod') rwop = true;
    else other = true;
  }
  if (rwop && other) errs.push(field.forbidden(path, 'may not use ReadWriteOncePod with other access modes'));
  return errs;
}

function validatePositiveQuantity(v: unknown, path: string, resource: string): FieldError[] {
  const errs: FieldError[] = [];
  const q = parseQuantityField(v, path, errs);
  if (!q) return errs;
  if (q.sign() <= 0) return [field.invalid(path, q.toString(), notPositive)];
  return validateResourceQuantityValue(resource, q, path);
}

/** Upstream's ValidatePersistentVolumeSpec (non-inline) for the fields k8ts acts on. */
export function validatePersistentVolume(pv: Obj): FieldError[] {
  const spec = map(pv.spec);
  const errs: FieldError[] = [];
  if (list(spec.accessModes).length === 0) errs.push(field.required('spec.accessModes', ''));
  errs.push(...validateAccessModes(spec.accessModes, 'spec.accessModes'));
  const capacity = map(spec.capacity);
  const keys = Object.keys(capacity);
  if (keys.length === 0) errs.push(field.required('spec.capacity', ''));
  if (!keys.includes('storage') || keys.length > 1) errs.push(field.notSupported('spec.capacity', capacity, ['storage']));
  for (const k of keys) errs.push(...validatePositiveQuantity(capacity[k], `spec.capacity[${k}]`, k));
  const policy = spec.persistentVolumeReclaimPolicy;
  if (policy && !supportedReclaimPolicies.includes(policy)) errs.push(field.notSupported('spec.persistentVolumeReclaimPolicy', policy, supportedReclaimPolicies));
  let affinity = false;
  if (spec.nodeAffinity) {
    if (!spec.nodeAffinity.required) errs.push(field.required('spec.nodeAffinity.required', 'must specify required node constraints'));
    else {
      affinity = true;
      if (list(spec.nodeAffinity.required.nodeSelectorTerms).length === 0) errs.push(field.required('spec.nodeAffinity.required.nodeSelectorTerms', 'must have at least one node selector term'));
    }
  }
  let sources = 0;
  for (const s of persistentVolumeSources) {
    if (spec[s] === undefined || spec[s] === null) continue;
    if (sources > 0 && s !== 'flexVolume') {
      errs.push(field.forbidden(child('spec', s === 'cephfs' ? 'cephFS' : s), 'may not specify more than 1 volume type'));
      continue;
    }
    sources++;
    if (s === 'hostPath' && !spec.hostPath.path) errs.push(field.required('spec.hostPath.path', ''));
    if (s === 'nfs') {
      if (!spec.nfs.server) errs.push(field.required('spec.nfs.server', ''));
      if (!spec.nfs.path) errs.push(field.required('spec.nfs.path', ''));
      else if (!String(spec.nfs.path).startsWith('/')) errs.push(field.invalid('spec.nfs.path', spec.nfs.path, 'must be an absolute path'));
    }
    if (s === 'local') {
      if (!spec.local.path) errs.push(field.required('spec.local.path', ''));
      if (!affinity) errs.push(field.required('spec.nodeAffinity', 'Local volume requires node affinity'));
    }
    if (s === 'csi') {
      if (!spec.csi.driver) errs.push(field.required('spec.csi.driver', ''));
      if (!spec.csi.volumeHandle) errs.push(field.required('spec.csi.volumeHandle', ''));
    }
  }
  if (sources === 0) errs.push(field.required('spec', 'must specify a volume type'));
  if (spec.hostPath && /^\/+$/.test(String(spec.hostPath.path ?? '')) && policy === 'Recycle') {
    errs.push(field.forbidden('spec.persistentVolumeReclaimPolicy', "may not be 'recycle' for a hostPath mount of '/'"));
  }
  errs.push(...validateClassName(spec.storageClassName, 'spec.storageClassName'));
  if (spec.volumeMode !== undefined && spec.volumeMode !== null && !supportedVolumeModes.includes(spec.volumeMode)) {
    errs.push(field.notSupported('spec.volumeMode', spec.volumeMode, supportedVolumeModes));
  }
  if (spec.volumeAttributesClassName !== undefined && spec.volumeAttributesClassName !== null) {
    if (spec.volumeAttributesClassName === '') errs.push(field.required('spec.volumeAttributesClassName', 'an empty string is disallowed'));
    else errs.push(...validateClassName(spec.volumeAttributesClassName, 'spec.volumeAttributesClassName'));
    if (!spec.csi) errs.push(field.required('spec.csi', 'has to be specified when using volumeAttributesClassName'));
  }
  return errs;
}

function volumeSourceOf(spec: Obj): Obj {
  const out: Obj = {};
  for (const s of persistentVolumeSources) if (spec[s] !== undefined) out[s] = spec[s];
  return out;
}

/** Upstream's ValidatePersistentVolumeUpdate: the volume source and volume mode are immutable. */
export function validatePersistentVolumeUpdate(pv: Obj, old: Obj): FieldError[] {
  const errs = validatePersistentVolume(pv);
  const spec = map(pv.spec);
  const oldSpec = map(old.spec);
  const src = volumeSourceOf(spec);
  const oldSrc = volumeSourceOf(oldSpec);
  // A CSI volume may gain its controllerExpandSecretRef.
  if (oldSrc.csi && !oldSrc.csi.controllerExpandSecretRef && src.csi?.controllerExpandSecretRef) {
    src.csi = { ...src.csi };
    delete src.csi.controllerExpandSecretRef;
  }
  if (!semanticEqual(src, oldSrc)) errs.push(field.forbidden('spec.persistentvolumesource', 'spec.persistentvolumesource is immutable after creation'));
  errs.push(...validateImmutable(spec.volumeMode, oldSpec.volumeMode, 'volumeMode'));
  if (oldSpec.nodeAffinity && !semanticEqual(spec.nodeAffinity, oldSpec.nodeAffinity)) errs.push(...validateImmutable(spec.nodeAffinity, oldSpec.nodeAffinity, 'nodeAffinity'));
  if (oldSpec.volumeAttributesClassName && !spec.volumeAttributesClassName) {
    errs.push(field.forbidden('spec.volumeAttributesClassName', 'update from non-nil value to nil is forbidden'));
  }
  return errs;
}

/** Upstream's ValidatePersistentVolumeClaimSpec. */
export function validatePersistentVolumeClaimSpec(specIn: unknown, path: string): FieldError[] {
  const spec = map(specIn);
  const errs: FieldError[] = [];
  if (list(spec.accessModes).length === 0) errs.push(field.required(child(path, 'accessModes'), 'at least 1 access mode is required'));
  if (spec.selector) errs.push(...validateLabelSelector(spec.selector, child(path, 'selector')));
  errs.push(...validateAccessModes(spec.accessModes, child(path, 'accessModes')));
  const requests = map(get(spec, 'resources', 'requests'));
  const storagePath = `${child(path, 'resources')}[storage]`;
  if (requests.storage === undefined) errs.push(field.required(storagePath, ''));
  else errs.push(...validatePositiveQuantity(requests.storage, storagePath, 'storage'));
  errs.push(...validateClassName(spec.storageClassName, child(path, 'storageClassName')));
  if (spec.volumeMode !== undefined && spec.volumeMode !== null && !supportedVolumeModes.includes(spec.volumeMode)) {
    errs.push(field.notSupported(child(path, 'volumeMode'), spec.volumeMode, supportedVolumeModes));
  }
  for (const ds of ['dataSource', 'dataSourceRef']) {
    const ref = spec[ds];
    if (!ref) continue;
    const p = child(path, ds);
    if (!ref.name) errs.push(field.required(child(p, 'name'), ''));
    if (!ref.kind) errs.push(field.required(child(p, 'kind'), ''));
    if (!ref.apiGroup && ref.kind !== 'PersistentVolumeClaim') errs.push(field.invalid(p, ref.kind ?? '', "must be 'PersistentVolumeClaim' when referencing the default apiGroup"));
  }
  errs.push(...validateClassName(spec.volumeAttributesClassName, child(path, 'volumeAttributesClassName')));
  return errs;
}

/** Upstream's ValidatePersistentVolumeClaim (without metadata). */
export function validatePersistentVolumeClaim(pvc: Obj): FieldError[] {
  return validatePersistentVolumeClaimSpec(pvc.spec, 'spec');
}

/**
 * Upstream's ValidatePersistentVolumeClaimUpdate: the spec is immutable except a first
 * volumeName, resources.requests of a bound claim (never shrinking) and volumeAttributesClassName.
 */
export function validatePersistentVolumeClaimUpdate(pvc: Obj, old: Obj): FieldError[] {
  const errs = validatePersistentVolumeClaim(pvc);
  const newSpec = structuredClone(map(pvc.spec));
  const oldSpec = structuredClone(map(old.spec));
  // The binder sets volumeName once.
  if (!oldSpec.volumeName) oldSpec.volumeName = newSpec.volumeName;
  // A class may be set on a claim that had none (upgrade from nil), unless the beta annotation disagrees.
  const oldAnn = get(old, 'metadata', 'annotations', BETA_STORAGE_CLASS_ANNOTATION);
  if (typeof newSpec.storageClassName === 'string' && (oldSpec.storageClassName === undefined || oldSpec.storageClassName === null)) {
    if (oldAnn === undefined || oldAnn === newSpec.storageClassName) oldSpec.storageClassName = newSpec.storageClassName;
  }
  const bound = get(pvc, 'status', 'phase') === 'Bound';
  if (bound && newSpec.resources?.requests) {
    const oldStorage = get(oldSpec, 'resources', 'requests', 'storage');
    if (oldStorage === undefined) delete newSpec.resources.requests.storage;
    else newSpec.resources.requests.storage = oldStorage;
  }
  newSpec.volumeAttributesClassName = oldSpec.volumeAttributesClassName;
  if (!semanticEqual(newSpec, oldSpec)) {
    errs.push(field.forbidden('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'));
  }
  const oldSize = tryParseQuantity(get(old, 'spec', 'resources', 'requests', 'storage'));
  const newSize = tryParseQuantity(get(pvc, 'spec', 'resources', 'requests', 'storage'));
  if (oldSize && newSize && newSize.cmp(oldSize) < 0) {
    const statusSize = tryParseQuantity(get(old, 'status', 'capacity', 'storage'));
    // RecoverVolumeExpansionFailure (beta, on): a claim may shrink back down to just above its actual capacity.
    if (statusSize ? newSize.cmp(statusSize) <= 0 : newSize.sign() <= 0) errs.push(field.forbidden('spec.resources.requests.storage', 'field can not be less than status.capacity'));
  }
  errs.push(...validateImmutable(get(pvc, 'spec', 'volumeMode'), get(old, 'spec', 'volumeMode'), 'volumeMode'));
  const oldVAC = get(old, 'spec', 'volumeAttributesClassName');
  const newVAC = get(pvc, 'spec', 'volumeAttributesClassName');
  if (oldVAC !== undefined && oldVAC !== null && oldVAC !== newVAC) {
    if (newVAC === undefined || newVAC === null) errs.push(field.forbidden('spec.volumeAttributesClassName', 'update from non-nil value to nil is forbidden'));
    else if (newVAC === '') errs.push(field.forbidden('spec.volumeAttributesClassName', 'update from non-nil value to an empty string is forbidden'));
  }
  return errs;
}

/** Upstream's ValidatePersistentVolumeClaimStatusUpdate (the parts without feature gates). */
export function validatePersistentVolumeClaimStatusUpdate(pvc: Obj, _old: Obj): FieldError[] {
  const errs: FieldError[] = [];
  if (list(get(pvc, 'spec', 'accessModes')).length === 0) errs.push(field.required('Spec.accessModes', ''));
  for (const [k, v] of Object.entries(map(get(pvc, 'status', 'capacity')))) {
    const p = `status.capacity[${k}]`;
    const q = parseQuantityField(v, p, errs);
    if (q) errs.push(...validateResourceQuantityValue(k, q, p));
  }
  return errs;
}
