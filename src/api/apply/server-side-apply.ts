/**
 * Server-side apply (`application/apply-patch+yaml`) and managed-fields tracking for ordinary writes,
 * after upstream's fieldmanager and structured-merge-diff:
 *
 * - an applier owns exactly the fields of its applied configuration;
 * - fields it applied before and no longer applies are removed, unless another manager owns them;
 * - changing a field another manager owns is a conflict, unless forced (ownership then moves);
 * - an Update (create, update, patch) gives its manager the fields it changed and takes them from others.
 */
import { StatusError } from '../errors.js';
import { cloneJson, goJson, isObject, jsonEqual, type JsonObject } from '../patch/json-value.js';
import { badPatch, plainServerError } from '../patch/patch-errors.js';
import type { PatchSchema } from '../patch/schema.js';
import {
  difference,
  emptySet,
  fieldKey,
  formatPath,
  insert,
  intersection,
  isEmpty,
  paths,
  recursiveDifference,
  union,
  type FieldNode,
} from './field-set.js';
import {
  capUpdateManagers,
  decodeManagedFields,
  encodeManagedFields,
  isResetManagedFields,
  managerId,
  type Managed,
  type ManagerRecord,
} from './managed-fields.js';
import {
  changed,
  compare,
  ensureNamedFieldsAreMembers,
  mergeApplied,
  removeItems,
  toFieldSet,
  TypedError,
  Typer,
  type NodeType,
} from './typed.js';

/** The annotation client-side apply keeps its configuration in. */
export const lastAppliedAnnotation = 'kubectl.kubernetes.io/last-applied-configuration';

/** Options of {@link serverSideApply}. */
export interface ServerSideApplyOptions {
  /** The field manager (`?fieldManager=`). */
  manager: string;
  /** `?force=true`: take conflicting fields from their owners. */
  force: boolean;
  /** The apiVersion of the request, e.g. 'apps/v1'; the applied configuration must carry it. */
  apiVersion: string;
  /** The time to record, RFC 3339 (e.g. '2025-01-01T00:00:00Z'). */
  now: string;
  /** Type knowledge. */
  schema: PatchSchema;
  /** Definition name of the object's type, e.g. 'io.k8s.api.apps.v1.Deployment'. */
  rootType: string;
  /** The kind of the endpoint; when given, the applied configuration must carry it. */
  kind?: string;
  /** The subresource applied to, e.g. 'status'. */
  subresource?: string;
  /**
   * Field paths this endpoint resets and so never tracks (e.g. `[['status']]` on the main resource,
   * as upstream's ResetFieldsStrategy).
   */
  ignoredFields?: ReadonlyArray<readonly string[]>;
}

/** A field another manager owns with a different value. */
export interface ApplyConflict {
  /** The owning manager's name. */
  manager: string;
  operation: 'Apply' | 'Update';
  /** Set for Update managers. */
  apiVersion?: string;
  subresource?: string;
  /** The field, as upstream prints it: `.spec.replicas`, `.spec.containers[name="c"].image`. */
  field: string;
}

/** Result of {@link serverSideApply}. */
export interface ServerSideApplyResult {
  /** The new object with updated `metadata.managedFields`; on conflicts, the live object unchanged. */
  object: JsonObject;
  /** Conflicts that stopped the apply (not forced); absent when it succeeded. */
  conflicts?: ApplyConflict[];
}

/** Options of {@link updateManagedFields}. */
export interface UpdateManagedFieldsOptions {
  /** The subresource written, e.g. 'status' or 'scale'. */
  subresource?: string;
  /** Field paths the endpoint resets and so never tracks. */
  ignoredFields?: ReadonlyArray<readonly string[]>;
}

/** Fields upstream never tracks (stripMetaManager): exact members only. */
const strippedFields = (() => {
  const s = emptySet();
  for (const p of [
    ['apiVersion'],
    ['kind'],
    ['metadata'],
    ['metadata', 'name'],
    ['metadata', 'namespace'],
    ['metadata', 'creationTimestamp'],
    ['metadata', 'selfLink'],
    ['metadata', 'uid'],
    ['metadata', 'clusterName'],
    ['metadata', 'generation'],
    ['metadata', 'managedFields'],
    ['metadata', 'resourceVersion'],
  ]) {
    insert(s, p.map(fieldKey));
  }
  return s;
})();

function ignoredSet(ignored: ReadonlyArray<readonly string[]> | undefined): FieldNode {
  const s = emptySet();
  for (const p of ignored ?? []) if (p.length) insert(s, p.map(fieldKey));
  return s;
}

function withoutManagedFields(obj: JsonObject): JsonObject {
  const out = cloneJson(obj);
  if (isObject(out.metadata)) delete out.metadata.managedFields;
  return out;
}

/** Splits 'apps/v1' into group and version. */
function splitApiVersion(apiVersion: unknown): { group: string; version: string } {
  const s = typeof apiVersion === 'string' ? apiVersion : '';
  const i = s.indexOf('/');
  return i < 0 ? { group: '', version: s } : { group: s.slice(0, i), version: s.slice(i + 1) };
}

/** The typed-conversion failure: upstream answers a plain 500, but it is the client's bad input, so k8ts answers 400. */
function typedFailure(what: 'patch' | 'live', obj: JsonObject, err: TypedError): StatusError {
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const { group, version } = splitApiVersion(obj.apiVersion);
  const ns = typeof meta.namespace === 'string' ? meta.namespace : '';
  const name = typeof meta.name === 'string' ? meta.name : '';
  return badPatch(`failed to create typed ${what} object (${ns}/${name}; ${group}/${version}, Kind=${String(obj.kind ?? '')}): ${err.message}`);
}

/** Records an Update by `id` of the fields changed from `before` to `after` (upstream's Updater.Update). */
function recordUpdate(
  typer: Typer,
  root: NodeType,
  managed: Managed,
  before: JsonObject | undefined,
  after: JsonObject,
  rec: Omit<ManagerRecord, 'set'>,
  ignored: FieldNode,
): void {
  const cmp = compare(typer, before ?? {}, after, root, before === undefined);
  const modifiedOrAdded = recursiveDifference(changed(cmp), ignored);
  const removed = cmp.removed;
  for (const [id, r] of managed) {
    const set = difference(difference(r.set, modifiedOrAdded), removed);
    if (isEmpty(set)) managed.delete(id);
    else managed.set(id, { ...r, set });
  }
  const took = difference(modifiedOrAdded, strippedFields);
  if (isEmpty(took)) return;
  const id = managerId(rec);
  const prev = managed.get(id);
  managed.set(id, { ...rec, set: prev ? union(prev.set, took) : took });
}

function finishManaged(obj: JsonObject, managed: Managed): JsonObject {
  for (const [id, r] of managed) {
    const set = difference(r.set, strippedFields);
    if (isEmpty(set)) managed.delete(id);
    else managed.set(id, { ...r, set });
  }
  const entries = encodeManagedFields(capUpdateManagers(managed));
  const meta = isObject(obj.metadata) ? obj.metadata : (obj.metadata = {});
  if (entries.length) meta.managedFields = entries;
  else delete meta.managedFields;
  return obj;
}

/**
 * Records an ordinary write (create, update, patch) in `metadata.managedFields`: the fields it changed
 * become `manager`'s (operation Update) and leave every other manager's set.
 * @param old the object before the write, or undefined for a create
 * @param updated the object being written (not modified); managedFields it carries replace the live ones
 *   (`[]` or `[{}]` clears them), as upstream allows
 * @param options the subresource written (a string, for short) or {@link UpdateManagedFieldsOptions}
 * @returns a copy of `updated` with `metadata.managedFields` set
 */
export function updateManagedFields(
  old: object | undefined,
  updated: object,
  manager: string,
  apiVersion: string,
  now: string,
  schema: PatchSchema,
  rootType: string,
  options: UpdateManagedFieldsOptions | string = {},
): JsonObject {
  const opts: UpdateManagedFieldsOptions = typeof options === 'string' ? { subresource: options || undefined } : options;
  const typer = new Typer(schema);
  const root = typer.struct(rootType);
  const next = cloneJson(updated) as JsonObject;
  const oldObj = old === undefined ? undefined : (old as JsonObject);
  const given = isObject(next.metadata) ? next.metadata.managedFields : undefined;
  let managed: Managed = new Map();
  const fromLive = (): Managed => {
    try {
      return decodeManagedFields(isObject(oldObj?.metadata) ? oldObj.metadata.managedFields : undefined);
    } catch {
      return new Map();
    }
  };
  if (!opts.subresource && isResetManagedFields(given)) managed = new Map();
  else if (!opts.subresource && Array.isArray(given) && given.length > 0) {
    try {
      managed = decodeManagedFields(given);
    } catch {
      managed = fromLive();
    }
    if (managed.size === 0) managed = fromLive();
  } else managed = fromLive();

  const after = withoutManagedFields(next);
  const before = oldObj === undefined ? undefined : withoutManagedFields(oldObj);
  recordUpdate(typer, root, managed, before, after, { manager, operation: 'Update', apiVersion, subresource: opts.subresource, time: now }, ignoredSet(opts.ignoredFields));
  return finishManaged(next, managed);
}

/**
 * Server-side apply of `applied` onto `live` (or a create when `live` is undefined).
 * @returns the new object with `metadata.managedFields`, or the unchanged live object and the conflicts
 * @throws StatusError 400 for a configuration of the wrong kind or version or carrying managedFields,
 *   500 (as upstream) for one that cannot be typed (list items without keys, duplicate keys)
 */
export function serverSideApply(live: object | undefined, applied: object, opts: ServerSideApplyOptions): ServerSideApplyResult {
  if (!isObject(applied)) throw badPatch('error decoding YAML: the applied configuration must be an object');
  const liveObj = live === undefined ? undefined : (live as JsonObject);
  if (applied.apiVersion !== opts.apiVersion || (opts.kind !== undefined && applied.kind !== opts.kind)) {
    const { group, version } = splitApiVersion(applied.apiVersion);
    throw badPatch(`invalid object type: ${group}/${version}, Kind=${String(applied.kind ?? '')}`);
  }
  if (isObject(applied.metadata) && applied.metadata.managedFields !== undefined && applied.metadata.managedFields !== null) {
    throw badPatch('metadata.managedFields must be nil');
  }

  const typer = new Typer(opts.schema);
  const root = typer.struct(opts.rootType);
  const ignored = ignoredSet(opts.ignoredFields);
  const current = liveObj === undefined ? {} : withoutManagedFields(liveObj);

  let managed: Managed;
  try {
    managed = decodeManagedFields(isObject(liveObj?.metadata) ? liveObj.metadata.managedFields : undefined);
  } catch (err) {
    throw plainServerError(`failed to decode managed fields: ${(err as Error).message}`);
  }
  // Fields that existed before anyone applied belong to "before-first-apply".
  if (liveObj !== undefined && managed.size === 0) {
    recordUpdate(typer, root, managed, undefined, current, { manager: 'before-first-apply', operation: 'Update', apiVersion: opts.apiVersion, time: opts.now }, ignored);
  }

  let appliedSet: FieldNode;
  try {
    appliedSet = recursiveDifference(toFieldSet(typer, applied, root, true), ignored);
  } catch (err) {
    if (err instanceof TypedError) throw typedFailure('patch', applied, err);
    throw err;
  }

  const attempt = (force: boolean): { object: JsonObject; managed: Managed } | { conflicts: Map<string, FieldNode> } => {
    const mgd: Managed = new Map([...managed].map(([k, r]) => [k, { ...r }]));
    const applierId = managerId({ manager: opts.manager, operation: 'Apply', subresource: opts.subresource });
    const last = mgd.get(applierId);
    let merged = mergeApplied(typer, current, applied, root) as JsonObject;
    mgd.set(applierId, {
      manager: opts.manager,
      operation: 'Apply',
      apiVersion: opts.apiVersion,
      ...(opts.subresource ? { subresource: opts.subresource } : {}),
      ...(last?.time !== undefined ? { time: last.time } : {}),
      set: appliedSet,
    });
    if (last && !isEmpty(last.set)) {
      let owned = emptySet();
      for (const r of mgd.values()) owned = union(owned, r.set);
      const prune = difference(ensureNamedFieldsAreMembers(typer, last.set, root), ensureNamedFieldsAreMembers(typer, owned, root));
      merged = removeItems(typer, merged, prune, root) as JsonObject;
    }
    const cmp = compare(typer, current, merged, root);
    const setByWrite = recursiveDifference(changed(cmp), ignored);
    const conflicts = new Map<string, FieldNode>();
    for (const [id, r] of mgd) {
      if (id === applierId) continue;
      const c = intersection(r.set, setByWrite);
      if (!isEmpty(c)) conflicts.set(id, c);
    }
    if (conflicts.size && !force) return { conflicts };
    for (const [id, r] of mgd) {
      if (id === applierId) continue;
      const set = difference(difference(r.set, conflicts.get(id) ?? emptySet()), cmp.removed);
      if (isEmpty(set)) mgd.delete(id);
      else mgd.set(id, { ...r, set });
    }
    const applier = mgd.get(applierId)!;
    if (!jsonEqual(merged, current) || applier.time === undefined) mgd.set(applierId, { ...applier, time: opts.now });
    return { object: merged, managed: mgd };
  };

  let result = attempt(opts.force);
  if ('conflicts' in result && opts.manager === 'kubectl' && liveObj !== undefined) {
    // Fields kubectl's client-side apply owned with the value in its annotation move without conflict.
    const allowed = allowedConflictsFromLastApplied(typer, root, current);
    if (allowed) {
      const remaining = new Map<string, FieldNode>();
      for (const [id, set] of result.conflicts) {
        const rest = difference(set, allowed);
        if (!isEmpty(rest)) remaining.set(id, rest);
      }
      result = remaining.size ? { conflicts: remaining } : attempt(true);
    }
  }
  if ('conflicts' in result) {
    return { object: cloneJson(liveObj ?? {}) as JsonObject, conflicts: conflictList(managed, result.conflicts) };
  }

  const object = result.object;
  if (opts.manager === 'kubectl' && liveObj !== undefined && hasLastApplied(liveObj)) {
    const meta = isObject(object.metadata) ? object.metadata : (object.metadata = {});
    const annotations = isObject(meta.annotations) ? meta.annotations : (meta.annotations = {});
    annotations[lastAppliedAnnotation] = buildLastApplied(applied);
  }
  return { object: finishManaged(object, result.managed) };
}

function hasLastApplied(obj: JsonObject): boolean {
  const meta = isObject(obj.metadata) ? obj.metadata : undefined;
  const a = meta && isObject(meta.annotations) ? meta.annotations[lastAppliedAnnotation] : undefined;
  return typeof a === 'string' && a !== '';
}

/** The applied configuration as client-side apply would record it: without the annotation itself, Go's JSON, newline-terminated. */
function buildLastApplied(applied: JsonObject): string {
  const copy = cloneJson(applied);
  if (isObject(copy.metadata) && isObject(copy.metadata.annotations)) delete copy.metadata.annotations[lastAppliedAnnotation];
  return `${goJson(copy)}\n`;
}

/** Fields of the last-applied annotation whose live value still matches it (upstream's lastAppliedManager). */
function allowedConflictsFromLastApplied(typer: Typer, root: NodeType, live: JsonObject): FieldNode | undefined {
  if (!hasLastApplied(live)) return undefined;
  const text = ((live.metadata as JsonObject).annotations as JsonObject)[lastAppliedAnnotation] as string;
  let last: unknown;
  try {
    last = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(last)) return undefined;
  try {
    const set = toFieldSet(typer, last, root, true);
    const cmp = compare(typer, last, live, root);
    return difference(difference(difference(set, cmp.modified), cmp.added), cmp.removed);
  } catch {
    return undefined;
  }
}

function conflictList(managed: Managed, conflicts: Map<string, FieldNode>): ApplyConflict[] {
  const out: ApplyConflict[] = [];
  for (const id of [...conflicts.keys()].sort()) {
    const r = managed.get(id)!;
    for (const p of paths(conflicts.get(id)!)) {
      out.push({
        manager: r.manager,
        operation: r.operation,
        ...(r.operation === 'Update' ? { apiVersion: r.apiVersion } : {}),
        ...(r.subresource ? { subresource: r.subresource } : {}),
        field: formatPath(p),
      });
    }
  }
  return out;
}

/** How upstream names a manager in conflict messages: `"kubectl-client-side-apply" using apps/v1`. */
function printManager(c: ApplyConflict): string {
  let s = JSON.stringify(c.manager);
  if (c.subresource) s = `${s} with subresource ${JSON.stringify(c.subresource)}`;
  if (c.operation === 'Update') s = `${s} using ${c.apiVersion ?? ''}`;
  return s;
}

/**
 * The 409 Conflict Status upstream answers an apply with conflicts with
 * ("Apply failed with 1 conflict: conflict with \"x\" using apps/v1: .spec.replicas"), one
 * FieldManagerConflict cause per field.
 */
export function applyConflictError(conflicts: readonly ApplyConflict[]): StatusError {
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0]!)}: ${conflicts[0]!.field}`;
  } else {
    const groups = new Map<string, ApplyConflict[]>();
    for (const c of conflicts) {
      const id = managerId({ manager: c.manager, operation: c.operation, apiVersion: c.apiVersion, subresource: c.subresource });
      groups.set(id, [...(groups.get(id) ?? []), c]);
    }
    const lines: string[] = [];
    for (const id of [...groups.keys()].sort()) {
      const group = groups.get(id)!;
      lines.push(`conflicts with ${printManager(group[0]!)}:`);
      for (const c of group) lines.push(`- ${c.field}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return new StatusError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: 'Conflict',
    details: {
      causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${printManager(c)}`, field: c.field })),
    },
    code: 409,
  });
}
