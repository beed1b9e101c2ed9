/**
 * Typed walks over JSON objects for server-side apply, after structured-merge-diff's typed package:
 * the field set of a value, the merge of an applied configuration into a live object, the comparison
 * of two objects, and removal of field paths. Types come from a PatchSchema; unknown parts are
 * "deduced" as upstream does (maps granular, lists atomic).
 */
import { cloneJson, isObject, jsonEqual, type JsonObject } from '../patch/json-value.js';
import { listTypeOf, type PatchFieldMeta, type PatchSchema } from '../patch/schema.js';
import { child, difference, emptySet, fieldKey, formatPath, insert, keyKey, union, valueKey, type FieldNode } from './field-set.js';

/** The server-side apply view of a type. */
export type NodeType =
  | { t: 'struct'; name: string; atomic: boolean }
  | { t: 'map'; value: NodeType; atomic: boolean }
  | { t: 'list'; listType: 'atomic' | 'map' | 'set'; keys: readonly string[]; keyDefaults: Readonly<Record<string, unknown>>; item: NodeType }
  | { t: 'scalar' }
  | { t: 'deduced' };

const deduced: NodeType = { t: 'deduced' };
const scalar: NodeType = { t: 'scalar' };

/** A value that cannot be typed; upstream's "failed to create typed ... object". */
export class TypedError extends Error {
  constructor(
    readonly path: readonly string[],
    readonly detail: string,
  ) {
    super(path.length ? `${formatPath(path)}: ${detail}` : detail);
  }
}

/** Resolves NodeTypes from a PatchSchema. */
export class Typer {
  constructor(private readonly schema: PatchSchema) {}

  /** The type of a named struct. */
  struct(name: string, atomicOverride?: 'atomic' | 'granular'): NodeType {
    const atomic = atomicOverride ? atomicOverride === 'atomic' : this.schema.type?.(name)?.mapType === 'atomic';
    return { t: 'struct', name, atomic };
  }

  /** The type of map key `key` under `parent`, and whether it is a declared struct field. */
  field(parent: NodeType, key: string): { type: NodeType; declared: boolean } {
    if (parent.t === 'map') return { type: parent.value, declared: false };
    if (parent.t !== 'struct') return { type: deduced, declared: false };
    const meta = this.schema.field(parent.name, key);
    if (!meta) return { type: deduced, declared: false };
    return { type: this.fromMeta(meta), declared: true };
  }

  private fromMeta(meta: PatchFieldMeta): NodeType {
    switch (meta.kind) {
      case 'scalar':
        return scalar;
      case 'map':
        if (meta.mapOfValues) return { t: 'map', value: meta.elementType ? this.struct(meta.elementType) : deduced, atomic: meta.mapType === 'atomic' };
        return meta.elementType ? this.struct(meta.elementType, meta.mapType) : deduced;
      case 'list': {
        const { listType, keys } = listTypeOf(meta);
        const item = meta.elementType ? this.struct(meta.elementType) : deduced;
        if (listType === 'map' && keys.length === 0) return { t: 'list', listType: 'atomic', keys, keyDefaults: {}, item };
        return { t: 'list', listType, keys, keyDefaults: meta.keyDefaults ?? {}, item };
      }
    }
  }
}

/** Whether the value is owned as a whole at this node (no finer field paths). */
function isLeaf(t: NodeType, v: unknown): boolean {
  if (Array.isArray(v)) return !(t.t === 'list' && t.listType !== 'atomic');
  if (isObject(v)) return t.t === 'scalar' || t.t === 'list' || ((t.t === 'struct' || t.t === 'map') && t.atomic);
  return true;
}

function isEmptyContainer(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}

/** The path-element key of a list item, or an error text. */
function itemKey(t: Extract<NodeType, { t: 'list' }>, item: unknown, index: number): string | { error: string } {
  if (t.listType === 'set') {
    if (isObject(item) || Array.isArray(item)) return { error: `element ${index}: expected a scalar in a set` };
    return valueKey(item);
  }
  if (!isObject(item)) return { error: `element ${index}: associative list with keys has an element that is not a map` };
  const fields: Array<[string, unknown]> = [];
  for (const k of t.keys) {
    let v = item[k];
    if (v === undefined || v === null) v = t.keyDefaults[k];
    if (v === undefined || v === null) {
      return { error: `element ${index}: associative list with keys has an element that omits key field ${JSON.stringify(k)} (and doesn't have default value)` };
    }
    fields.push([k, v]);
  }
  return keyKey(fields);
}

/** The keys of a list's items; an item that cannot be keyed throws (strict) or is skipped. */
function keyedItems(t: Extract<NodeType, { t: 'list' }>, list: unknown[], path: readonly string[], strict: boolean): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  const seen = new Set<string>();
  list.forEach((item, i) => {
    const k = itemKey(t, item, i);
    if (typeof k !== 'string') {
      if (strict) throw new TypedError(path, k.error);
      return;
    }
    if (seen.has(k)) {
      if (strict) throw new TypedError(path, `duplicate entries for key ${formatPath([k])}`);
      return;
    }
    seen.add(k);
    out.push([k, item]);
  });
  return out;
}

/**
 * The field set of a value, as upstream's ToFieldSet: leaves, atomic values, list items, and map entries
 * that are null, empty, or not declared struct fields are members.
 * @param strict throw TypedError for list items without keys and duplicate keys
 */
export function toFieldSet(typer: Typer, v: unknown, t: NodeType, strict = true): FieldNode {
  const root = emptySet();
  const walk = (value: unknown, type: NodeType, node: FieldNode, path: string[]): void => {
    if (isLeaf(type, value)) return;
    if (Array.isArray(value)) {
      const lt = type as Extract<NodeType, { t: 'list' }>;
      for (const [k, item] of keyedItems(lt, value, path, strict)) {
        const c = child(node, k);
        c.member = true;
        walk(item, lt.item, c, [...path, k]);
      }
      return;
    }
    const obj = value as JsonObject;
    for (const key of Object.keys(obj)) {
      const { type: ft, declared } = typer.field(type, key);
      const k = fieldKey(key);
      const c = child(node, k);
      const fv = obj[key];
      if (isLeaf(ft, fv) || (isObject(fv) && Object.keys(fv).length === 0) || !declared) c.member = true;
      walk(fv, ft, c, [...path, k]);
    }
  };
  walk(v, t, root, []);
  // Empty lists leave no path behind, as upstream's walker inserts nothing for them.
  return difference(root, emptySet());
}

/** Named struct fields on the paths of a set become members themselves (upstream's EnsureNamedFieldsAreMembers). */
export function ensureNamedFieldsAreMembers(typer: Typer, set: FieldNode, t: NodeType): FieldNode {
  const walk = (node: FieldNode, type: NodeType): FieldNode => {
    const out: FieldNode = { member: node.member, children: new Map() };
    for (const [k, c] of node.children) {
      let ct: NodeType = deduced;
      let named = false;
      if (k.startsWith('f:')) {
        const f = typer.field(type, k.slice(2));
        ct = f.type;
        named = f.declared;
      } else if (type.t === 'list') {
        ct = type.item;
      }
      const w = walk(c, ct);
      if (named) w.member = true;
      out.children.set(k, w);
    }
    return out;
  };
  return walk(set, t);
}

/**
 * Merges an applied configuration into a live object: applied values win, maps and list-maps/sets merge
 * (element order as upstream's merging walker), atomic values are replaced.
 */
export function mergeApplied(typer: Typer, live: unknown, applied: unknown, t: NodeType): unknown {
  if (applied === undefined) return cloneJson(live);
  if (live === undefined || live === null) return cloneJson(applied);
  if (applied === null) {
    // A null leaves a non-empty granular container alone, and clears anything else.
    return !isLeaf(t, live) && !isEmptyContainer(live) ? cloneJson(live) : null;
  }
  const bothMaps = isObject(live) && isObject(applied);
  const bothLists = Array.isArray(live) && Array.isArray(applied);
  if ((!bothMaps && !bothLists) || isLeaf(t, applied) || (isEmptyContainer(live) && isEmptyContainer(applied))) return cloneJson(applied);
  if (bothMaps) {
    const out: JsonObject = {};
    const l = live as JsonObject;
    const a = applied as JsonObject;
    for (const k of Object.keys(l)) out[k] = k in a ? mergeApplied(typer, l[k], a[k], typer.field(t, k).type) : cloneJson(l[k]);
    for (const k of Object.keys(a)) if (!(k in l)) out[k] = cloneJson(a[k]);
    for (const k of Object.keys(out)) if (out[k] === null && a[k] === null) delete out[k];
    return out;
  }
  return mergeList(typer, live as unknown[], applied as unknown[], t as Extract<NodeType, { t: 'list' }>);
}

/** upstream's visitListItems ordering: live order, with shared items following the applied order. */
function mergeList(typer: Typer, lhs: unknown[], rhs: unknown[], t: Extract<NodeType, { t: 'list' }>): unknown[] {
  const rItems = keyedItems(t, rhs, [], false);
  // Live items that cannot be keyed, or repeat a key, are kept where they are, untouched.
  const seen = new Set<string>();
  const lItems: Array<[string, unknown]> = lhs.map((item, i) => {
    const k = itemKey(t, item, i);
    const key = typeof k === 'string' && !seen.has(k) ? k : `#${i}`;
    seen.add(key);
    return [key, item];
  });
  const observedR = new Map(rItems);
  const observedL = new Map(lItems);
  const sharedOrder = rItems.map(([k]) => k).filter((k) => observedL.has(k));
  let nextShared = sharedOrder.shift();
  const mergedR = new Set<string>();
  const out: unknown[] = [];
  const mergeItem = (k: string): unknown => mergeApplied(typer, observedL.get(k), observedR.get(k), t.item);
  let li = 0;
  let ri = 0;
  while (li < lItems.length || ri < rItems.length) {
    if (li < lItems.length && ri < rItems.length) {
      const k = lItems[li]![0];
      if (k === rItems[ri]![0]) {
        mergedR.add(k);
        out.push(mergeItem(k));
        li++;
        ri++;
        nextShared = sharedOrder.shift();
        continue;
      }
      if (observedR.has(k) && nextShared !== undefined && nextShared !== k) {
        li++;
        continue;
      }
    }
    if (li < lItems.length) {
      const k = lItems[li]![0];
      if (!observedR.has(k)) {
        out.push(cloneJson(lItems[li]![1]));
        li++;
        continue;
      }
      if (mergedR.has(k)) {
        li++;
        continue;
      }
    }
    if (ri < rItems.length) {
      const k = rItems[ri]![0];
      mergedR.add(k);
      out.push(mergeItem(k));
      ri++;
      if (nextShared === k) nextShared = sharedOrder.shift();
    }
  }
  return out;
}

/** The fields added, modified and removed between two objects (upstream's Compare). */
export interface Comparison {
  added: FieldNode;
  modified: FieldNode;
  removed: FieldNode;
}

/**
 * Compares two objects. Leaves are added/removed/modified; containers that appear or disappear are
 * added/removed themselves too. With `assumeStructs`, struct-typed fields missing on the left count as
 * present, approximating upstream, whose object being created starts from its Go type's zero value.
 */
export function compare(typer: Typer, lhs: unknown, rhs: unknown, t: NodeType, assumeStructs = false): Comparison {
  const c: Comparison = { added: emptySet(), modified: emptySet(), removed: emptySet() };
  const walk = (l: unknown, r: unknown, type: NodeType, path: string[]): void => {
    if (l === undefined && r === undefined) return;
    const absent = (v: unknown): boolean => v === undefined || v === null;
    const container = (v: unknown): boolean => !absent(v) && !isLeaf(type, v);
    const lc = container(l);
    const rc = container(r);
    const granular =
      (lc || rc) &&
      !(lc && rc && Array.isArray(l) !== Array.isArray(r)) &&
      !(lc && !rc && !absent(r)) &&
      !(rc && !lc && !absent(l)) &&
      !(isEmptyContainer(l) && isEmptyContainer(r));
    if (!granular) {
      if (path.length === 0) return;
      if (l === undefined) insert(c.added, path);
      else if (r === undefined) insert(c.removed, path);
      else if (!jsonEqual(l, r)) insert(c.modified, path);
      return;
    }
    if (path.length > 0) {
      // A present null counts as there, as upstream's walker sees a value on that side.
      const structField = assumeStructs && type.t === 'struct' && path[path.length - 1]!.startsWith('f:');
      if (l === undefined && !structField) insert(c.added, path);
      else if (r === undefined) insert(c.removed, path);
    }
    const lv = lc ? l : Array.isArray(r) ? [] : {};
    const rv = rc ? r : Array.isArray(l) ? [] : {};
    if (Array.isArray(lv) && Array.isArray(rv)) {
      const lt = type as Extract<NodeType, { t: 'list' }>;
      const lm = new Map(keyedItems(lt, lv, path, false));
      const rm = new Map(keyedItems(lt, rv, path, false));
      for (const k of new Set([...lm.keys(), ...rm.keys()])) walk(lm.get(k), rm.get(k), lt.item, [...path, k]);
      return;
    }
    const lo = (lv ?? {}) as JsonObject;
    const ro = (rv ?? {}) as JsonObject;
    for (const key of new Set([...Object.keys(lo), ...Object.keys(ro)])) {
      walk(key in lo ? lo[key] : undefined, key in ro ? ro[key] : undefined, typer.field(type, key).type, [...path, fieldKey(key)]);
    }
  };
  walk(lhs, rhs, t, []);
  return c;
}

/** Added and modified fields together: the fields a write set. */
export function changed(c: Comparison): FieldNode {
  return union(c.added, c.modified);
}

/** A copy of `v` without the members of `remove` (a removed path takes its subtree with it). */
export function removeItems(typer: Typer, v: unknown, remove: FieldNode, t: NodeType): unknown {
  const walk = (value: unknown, type: NodeType, node: FieldNode): unknown => {
    if (node.children.size === 0 || isLeaf(type, value)) return value;
    if (Array.isArray(value)) {
      const lt = type as Extract<NodeType, { t: 'list' }>;
      const out: unknown[] = [];
      value.forEach((item, i) => {
        const k = itemKey(lt, item, i);
        const c = typeof k === 'string' ? node.children.get(k) : undefined;
        if (c?.member) return;
        out.push(c ? walk(item, lt.item, c) : item);
      });
      return out;
    }
    const obj = value as JsonObject;
    const out: JsonObject = {};
    for (const key of Object.keys(obj)) {
      const c = node.children.get(fieldKey(key));
      if (c?.member) continue;
      if (!c) {
        out[key] = obj[key];
        continue;
      }
      const nv = walk(obj[key], typer.field(type, key).type, c);
      // A container emptied by the removal goes too, as upstream leaves it null.
      if (isEmptyContainer(nv) && !isEmptyContainer(obj[key])) continue;
      out[key] = nv;
    }
    return out;
  };
  return walk(v, t, remove);
}
