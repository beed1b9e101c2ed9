/**
 * storage.k8s.io/v1 storageclasses: cluster-scoped, Delete/Immediate defaults, everything but
 * metadata, allowVolumeExpansion, mountOptions and allowedTopologies fixed after creation, and
 * kubectl's columns with `(default)` after the default class.
 */
import { field, type FieldError } from '../../../../api/errors.js';
import { child, map, semanticEqual, validateImmutable, validateQualifiedName, type Obj } from '../../../../api/validation/helpers.js';
import type { KObject, Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, nameColumn } from '../../strategy-helpers.js';

/** The annotation marking the class claims without one get. */
export const IS_DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';
const BETA_IS_DEFAULT_CLASS_ANNOTATION = 'storageclass.beta.kubernetes.io/is-default-class';

const reclaimPolicies = ['Delete', 'Retain'];
const bindingModes = ['Immediate', 'WaitForFirstConsumer'];
const maxParameters = 512;
const maxParametersSize = 256 * 1024;

/** True when the class is marked default (upstream's IsDefaultAnnotation; the beta annotation counts too). */
export function isDefaultClass(sc: KObject): boolean {
  const a = sc.metadata?.annotations ?? {};
  return a[IS_DEFAULT_CLASS_ANNOTATION] === 'true' || a[BETA_IS_DEFAULT_CLASS_ANNOTATION] === 'true';
}

/** Upstream's SetDefaults_StorageClass. */
export function defaultStorageClass(sc: Obj): void {
  if (!sc.reclaimPolicy) sc.reclaimPolicy = 'Delete';
  if (!sc.volumeBindingMode) sc.volumeBindingMode = 'Immediate';
}

/** Upstream's ValidateStorageClass (without metadata). */
export function validateStorageClass(sc: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const prov = typeof sc.provisioner === 'string' ? sc.provisioner : '';
  if (!prov) errs.push(field.required('provisioner', ''));
  else errs.push(...validateQualifiedName(prov.toLowerCase(), 'provisioner'));
  const params = map(sc.parameters);
  const keys = Object.keys(params);
  if (keys.length > maxParameters) errs.push({ type: 'FieldValueTooMany', field: 'parameters', value: keys.length, detail: `must have at most ${maxParameters} items` });
  let size = 0;
  for (const k of keys) {
    if (k === '') errs.push(field.invalid('parameters', k, 'field can not be empty.'));
    size += k.length + String(params[k] ?? '').length;
  }
  if (size > maxParametersSize) errs.push({ type: 'FieldValueTooLong', field: 'parameters', detail: `must have at most ${maxParametersSize} bytes` });
  if (sc.reclaimPolicy && !reclaimPolicies.includes(sc.reclaimPolicy)) errs.push(field.notSupported('reclaimPolicy', sc.reclaimPolicy, reclaimPolicies));
  if (!sc.volumeBindingMode) errs.push(field.required('volumeBindingMode', ''));
  else if (!bindingModes.includes(sc.volumeBindingMode)) errs.push(field.notSupported('volumeBindingMode', sc.volumeBindingMode, bindingModes));
  (Array.isArray(sc.allowedTopologies) ? sc.allowedTopologies : []).forEach((term: Obj, i: number) => {
    const exprs = Array.isArray(term?.matchLabelExpressions) ? term.matchLabelExpressions : [];
    if (exprs.length === 0) errs.push(field.required(`allowedTopologies[${i}].matchLabelExpressions`, 'must have at least one label expression'));
    exprs.forEach((e: Obj, j: number) => {
      const p = child(`allowedTopologies[${i}].matchLabelExpressions[${j}]`);
      errs.push(...validateQualifiedName(String(e?.key ?? ''), child(p, 'key')));
      if (!Array.isArray(e?.values) || e.values.length === 0) errs.push(field.required(child(p, 'values'), 'must specify as least one value'));
    });
  });
  return errs;
}

/** Upstream's ValidateStorageClassUpdate. */
export function validateStorageClassUpdate(sc: Obj, old: Obj): FieldError[] {
  const errs = validateStorageClass(sc);
  if (!semanticEqual(sc.parameters, old.parameters)) errs.push(field.forbidden('parameters', 'updates to parameters are forbidden.'));
  if (sc.provisioner !== old.provisioner) errs.push(field.forbidden('provisioner', 'updates to provisioner are forbidden.'));
  if (sc.reclaimPolicy !== old.reclaimPolicy) errs.push(field.forbidden('reclaimPolicy', 'updates to reclaimPolicy are forbidden.'));
  errs.push(...validateImmutable(sc.volumeBindingMode, old.volumeBindingMode, 'volumeBindingMode'));
  return errs;
}

/** The storageclasses strategy. */
export function storageClassStrategy(): Strategy {
  return {
    info: { group: 'storage.k8s.io', version: 'v1', resource: 'storageclasses', singular: 'storageclass', kind: 'StorageClass', namespaced: false, shortNames: ['sc'] },
    nameValidation: 'dns-subdomain',
    defaults: defaultStorageClass,
    validate: validateStorageClass,
    validateUpdate: validateStorageClassUpdate,
    table: {
      columns: [
        nameColumn(),
        col('Provisioner', 'string', 'provisioner indicates the type of the provisioner.'),
        col('ReclaimPolicy', 'string', 'reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.'),
        col(
          'VolumeBindingMode',
          'string',
          'volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.',
        ),
        col('AllowVolumeExpansion', 'string', 'allowVolumeExpansion shows whether the storage class allow volume expand.'),
        ageColumn(),
      ],
      cells: (sc, now) => [
        `${sc.metadata?.name ?? ''}${isDefaultClass(sc) ? ' (default)' : ''}`,
        sc.provisioner ?? '',
        sc.reclaimPolicy ?? 'Delete',
        sc.volumeBindingMode ?? 'Immediate',
        sc.allowVolumeExpansion === true,
        age(sc, now),
      ],
    },
  };
}
