/**
 * `metadata.managedFields`: decoding entries into per-manager field sets and encoding them back,
 * with upstream's manager identity, entry order and cap on the number of Update managers.
 */
import { isObject, type JsonObject } from '../patch/json-value.js';
import { fromFieldsV1, isEmpty, toFieldsV1, union, type FieldNode } from './field-set.js';

/** One entry of `metadata.managedFields` (meta/v1 ManagedFieldsEntry). */
export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time?: string;
  fieldsType: 'FieldsV1';
  fieldsV1: JsonObject;
  subresource?: string;
}

/** A manager's decoded entry. */
export interface ManagerRecord {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource?: string;
  time?: string;
  set: FieldNode;
}

/** Managers by identifier, in entry order. */
export type Managed = Map<string, ManagerRecord>;

/**
 * The identity of a manager, as upstream's BuildManagerIdentifier: the entry without its fields and
 * time, and without its apiVersion for appliers, as JSON.
 */
export function managerId(m: { manager: string; operation: string; apiVersion?: string; subresource?: string }): string {
  const id: JsonObject = { manager: m.manager, operation: m.operation };
  if (m.operation !== 'Apply' && m.apiVersion) id.apiVersion = m.apiVersion;
  if (m.subresource) id.subresource = m.subresource;
  return JSON.stringify(id);
}

/** Parses `metadata.managedFields`; throws an Error describing the first bad entry. */
export function decodeManagedFields(entries: unknown): Managed {
  const out: Managed = new Map();
  if (entries === undefined || entries === null) return out;
  if (!Array.isArray(entries)) throw new Error('managedFields must be a list');
  entries.forEach((e, i) => {
    if (!isObject(e)) throw new Error(`managedFields[${i}] must be an object`);
    if (e.fieldsType !== 'FieldsV1') throw new Error(`error decoding managed fields entry ${i}: invalid fieldsType ${JSON.stringify(e.fieldsType ?? '')}`);
    if (e.operation !== 'Apply' && e.operation !== 'Update') {
      throw new Error(`error decoding managed fields entry ${i}: invalid operation ${JSON.stringify(e.operation ?? '')}`);
    }
    let set: FieldNode;
    try {
      set = fromFieldsV1(e.fieldsV1 ?? {});
    } catch (err) {
      throw new Error(`error decoding managed fields entry ${i}: ${(err as Error).message}`);
    }
    const rec: ManagerRecord = {
      manager: typeof e.manager === 'string' ? e.manager : '',
      operation: e.operation,
      apiVersion: typeof e.apiVersion === 'string' ? e.apiVersion : '',
      set,
    };
    if (typeof e.subresource === 'string' && e.subresource) rec.subresource = e.subresource;
    if (typeof e.time === 'string') rec.time = e.time;
    out.set(managerId(rec), rec);
  });
  return out;
}

/** Whether a write asks to clear managedFields (`[]` or `[{}]`), as upstream's isResetManagedFields. */
export function isResetManagedFields(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  if (v.length === 0) return true;
  return v.length === 1 && isObject(v[0]) && Object.keys(v[0]).length === 0;
}

function seconds(time: string | undefined): number {
  if (!time) return 0;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Encodes managers as entries, empty sets dropped, in upstream's order (operation, time, manager, apiVersion, subresource). */
export function encodeManagedFields(managed: Managed): ManagedFieldsEntry[] {
  const entries: ManagedFieldsEntry[] = [];
  for (const r of managed.values()) {
    if (isEmpty(r.set)) continue;
    const e: ManagedFieldsEntry = {
      manager: r.manager,
      operation: r.operation,
      apiVersion: r.apiVersion,
      ...(r.time !== undefined ? { time: r.time } : {}),
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(r.set),
    };
    if (r.subresource) e.subresource = r.subresource;
    entries.push(e);
  }
  return entries.sort(
    (p, q) =>
      cmp(p.operation, q.operation) ||
      seconds(p.time) - seconds(q.time) ||
      cmp(p.manager, q.manager) ||
      cmp(p.apiVersion, q.apiVersion) ||
      cmp(p.subresource ?? '', q.subresource ?? ''),
  );
}

/** Upstream's default cap on Update managers, and the bucket older ones merge into. */
export const maxUpdateManagers = 10;
const ancientChanges = 'ancient-changes';

/**
 * Keeps at most `max` Update managers: the oldest merge, per apiVersion, into an "ancient-changes"
 * entry (upstream's capManagersManager).
 */
export function capUpdateManagers(managed: Managed, max = maxUpdateManagers): Managed {
  const updaters = [...managed.entries()].filter(([, r]) => r.operation === 'Update').map(([id]) => id);
  if (updaters.length <= max) return managed;
  updaters.sort((a, b) => seconds(managed.get(a)!.time) - seconds(managed.get(b)!.time) || cmp(a, b));
  const firstByVersion = new Map<string, string>();
  let length = updaters.length;
  for (let i = 0; i < updaters.length && length > max; i++) {
    const id = updaters[i]!;
    const rec = managed.get(id)!;
    const bucketId = managerId({ manager: ancientChanges, operation: 'Update', apiVersion: rec.apiVersion });
    const first = firstByVersion.get(rec.apiVersion);
    if (first === undefined) {
      firstByVersion.set(rec.apiVersion, id);
      continue;
    }
    if (!managed.has(bucketId)) {
      const firstRec = managed.get(first)!;
      managed.delete(first);
      managed.set(bucketId, { ...firstRec, manager: ancientChanges, operation: 'Update' });
    }
    const bucket = managed.get(bucketId)!;
    managed.set(bucketId, { ...bucket, set: union(rec.set, bucket.set), time: rec.time });
    managed.delete(id);
    length--;
  }
  return managed;
}
