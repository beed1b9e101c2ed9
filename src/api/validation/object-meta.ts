/**
 * ObjectMeta validation on create and update (upstream's ValidateObjectMeta and
 * ValidateObjectMetaUpdate, including the core group's finalizer-name rule).
 */
import { field, type FieldError } from '../errors.js';
import { isLabelKey, nameIsDNS1035Label, nameIsDNSLabel, nameIsDNSSubdomain, nameIsPathSegment, type NameCheck } from './identifiers.js';
import { child, goStringSlice, index, list, map, semanticEqual, tooLong, validateImmutable, validateLabels, validateNonnegative, validateQualifiedName, type Obj } from './helpers.js';

/** How metadata.name is checked. `dns-1035-label` is for Services. */
export type NameValidation = 'dns-subdomain' | 'dns-label' | 'dns-1035-label' | 'path-segment';

/** Options for {@link validateObjectMeta}. */
export interface ObjectMetaOptions {
  namespaced: boolean;
  nameValidation: NameValidation;
}

/** Total size limit of all annotation keys and values: 256 KiB. */
export const TotalAnnotationSizeLimitB = 256 * 1024;

const nameChecks: Record<NameValidation, NameCheck> = {
  'dns-subdomain': nameIsDNSSubdomain,
  'dns-label': nameIsDNSLabel,
  'dns-1035-label': nameIsDNS1035Label,
  'path-segment': nameIsPathSegment,
};

/** The name check for a {@link NameValidation}. */
export function nameCheck(v: NameValidation): NameCheck {
  return nameChecks[v];
}

/** Annotations: keys are qualified names (case-insensitively), total size ≤ 256 KiB. */
export function validateAnnotations(annotations: unknown, path: string): FieldError[] {
  const a = map(annotations);
  const errs: FieldError[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(a)) {
    for (const m of isLabelKey(k.toLowerCase())) errs.push(field.invalid(path, k, m));
    total += Buffer.byteLength(k) + Buffer.byteLength(String(v ?? ''));
  }
  if (total > TotalAnnotationSizeLimitB) errs.push(tooLong(path, TotalAnnotationSizeLimitB));
  return errs;
}

function splitAPIVersion(apiVersion: string): { group: string; version: string } {
  if (apiVersion === '') return { group: '', version: '' };
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** OwnerReferences: apiVersion/kind/name/uid set, no Event owners, at most one controller. */
export function validateOwnerReferences(refs: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  let firstController = '';
  for (const ref of list(refs) as Obj[]) {
    const apiVersion = String(ref?.apiVersion ?? '');
    const { group, version } = splitAPIVersion(apiVersion);
    if (version === '') errs.push(field.invalid(child(path, 'apiVersion'), apiVersion, 'version must not be empty'));
    if (!ref?.kind) errs.push(field.invalid(child(path, 'kind'), ref?.kind ?? '', 'must not be empty'));
    if (!ref?.name) errs.push(field.invalid(child(path, 'name'), ref?.name ?? '', 'must not be empty'));
    if (!ref?.uid) errs.push(field.invalid(child(path, 'uid'), ref?.uid ?? '', 'must not be empty'));
    if (group === '' && version === 'v1' && ref?.kind === 'Event') {
      errs.push(field.invalid(path, ref, '/v1, Kind=Event is disallowed from being an owner'));
    }
    if (ref?.controller === true) {
      const cur = `${ref.kind}/${ref.name}`;
      if (firstController !== '') {
        errs.push(field.invalid(path, refs, `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${cur}`));
      } else {
        firstController = cur;
      }
    }
  }
  return errs;
}

const standardFinalizers = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

/** The core group's extra rule: an unqualified finalizer must be a standard one. */
export function validateKubeFinalizerName(value: string, path: string): FieldError[] {
  if (!value.includes('/') && !standardFinalizers.has(value)) {
    return [field.invalid(path, value, 'name is neither a standard finalizer name nor is it fully qualified')];
  }
  return [];
}

/** Finalizers: qualified names; `orphan` and `foregroundDeletion` are exclusive; unqualified ones must be standard. */
export function validateFinalizers(finalizers: unknown, path: string): FieldError[] {
  const fins = list(finalizers).map((f) => String(f));
  const errs: FieldError[] = [];
  for (const f of fins) errs.push(...validateQualifiedName(f, path));
  if (fins.includes('orphan') && fins.includes('foregroundDeletion')) {
    errs.push(field.invalid(path, fins, 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
  fins.forEach((f, i) => errs.push(...validateKubeFinalizerName(f, index(path, i))));
  return errs;
}

function validateManagedFields(entries: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  list(entries).forEach((e: Obj, i) => {
    const p = index(path, i);
    if (e?.operation !== 'Apply' && e?.operation !== 'Update') errs.push(field.invalid(child(p, 'operation'), e?.operation ?? '', 'must be `Apply` or `Update`'));
    if (e?.fieldsType && e.fieldsType !== 'FieldsV1') errs.push(field.invalid(child(p, 'fieldsType'), e.fieldsType, 'must be `FieldsV1`'));
    if (typeof e?.manager === 'string' && e.manager.length > 128) errs.push(tooLong(child(p, 'manager'), 128));
  });
  return errs;
}

function validateCommon(meta: Obj, namespaced: boolean, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const ns = meta.namespace;
  if (namespaced) {
    if (!ns) errs.push(field.required(child(path, 'namespace'), ''));
    else for (const m of nameIsDNSLabel(String(ns))) errs.push(field.invalid(child(path, 'namespace'), ns, m));
  } else if (ns) {
    errs.push(field.forbidden(child(path, 'namespace'), 'not allowed on this type'));
  }
  errs.push(...validateNonnegative(meta.generation, child(path, 'generation')));
  errs.push(...validateLabels(meta.labels, child(path, 'labels')));
  errs.push(...validateAnnotations(meta.annotations, child(path, 'annotations')));
  errs.push(...validateOwnerReferences(meta.ownerReferences, child(path, 'ownerReferences')));
  errs.push(...validateFinalizers(meta.finalizers, child(path, 'finalizers')));
  errs.push(...validateManagedFields(meta.managedFields, child(path, 'managedFields')));
  return errs;
}

/**
 * Metadata of a new object. Name generation has already happened; an empty name means
 * neither name nor generateName was given (`metadata.name: Required value: name or generateName is required`).
 */
export function validateObjectMeta(meta: Obj | undefined | null, opts: ObjectMetaOptions, path = 'metadata'): FieldError[] {
  const m = map(meta);
  const check = nameChecks[opts.nameValidation];
  const errs: FieldError[] = [];
  if (m.generateName) {
    for (const msg of check(String(m.generateName), true)) errs.push(field.invalid(child(path, 'generateName'), m.generateName, msg));
  }
  if (!m.name) errs.push(field.required(child(path, 'name'), 'name or generateName is required'));
  else for (const msg of check(String(m.name), false)) errs.push(field.invalid(child(path, 'name'), m.name, msg));
  errs.push(...validateCommon(m, opts.namespaced, path));
  return errs;
}

/**
 * Metadata of an update: name, namespace, uid, creationTimestamp, deletionTimestamp and
 * deletionGracePeriodSeconds are immutable; generation may not go down; no new finalizers
 * once deletion started.
 */
export function validateObjectMetaUpdate(newMeta: Obj | undefined | null, oldMeta: Obj | undefined | null, path = 'metadata'): FieldError[] {
  const n = map(newMeta);
  const o = map(oldMeta);
  const errs: FieldError[] = [];
  if (o.deletionTimestamp) {
    const oldFins = new Set(list(o.finalizers).map(String));
    const extra = [...new Set(list(n.finalizers).map(String))].filter((f) => !oldFins.has(f)).sort();
    if (extra.length) {
      errs.push(field.forbidden(child(path, 'finalizers'), `no new finalizers can be added if the object is being deleted, found new finalizers ${goStringSlice(extra)}`));
    }
  }
  // Upstream also demands metadata.resourceVersion here, but its store fills it in for
  // unconditional updates first; k8ts's store handles preconditions itself, so no check.
  if (typeof n.generation === 'number' && typeof o.generation === 'number' && n.generation < o.generation) {
    errs.push(field.invalid(child(path, 'generation'), n.generation, 'must not be decremented'));
  }
  for (const f of ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds']) {
    errs.push(...validateImmutable(n[f], o[f], child(path, f)));
  }
  errs.push(...validateLabels(n.labels, child(path, 'labels')));
  errs.push(...validateAnnotations(n.annotations, child(path, 'annotations')));
  errs.push(...validateOwnerReferences(n.ownerReferences, child(path, 'ownerReferences')));
  errs.push(...validateManagedFields(n.managedFields, child(path, 'managedFields')));
  list(n.finalizers).forEach((f, i) => errs.push(...validateKubeFinalizerName(String(f), index(child(path, 'finalizers'), i))));
  return errs;
}

/** True when the two metadata blocks differ only in fields an update may change. */
export function metaEqual(a: Obj | undefined, b: Obj | undefined): boolean {
  return semanticEqual(a, b);
}
