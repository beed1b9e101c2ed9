/**
 * Sets of field paths, as structured-merge-diff's fieldpath.Set, with the FieldsV1 encoding that
 * `metadata.managedFields[].fieldsV1` uses: `f:<field>`, `k:<json key object>` for list-map elements,
 * `v:<json value>` for set elements, `i:<index>`, and `.` for "this node itself is a member".
 */
import { isObject, type JsonObject } from '../patch/json-value.js';

/** One node of a set: whether the path to it is a member, and its children by path-element key. */
export interface FieldNode {
  member: boolean;
  children: Map<string, FieldNode>;
}

/** A path element: a field name, a list-map key, a set value or an index. */
export type PathElement =
  | { kind: 'f'; name: string }
  | { kind: 'k'; fields: Array<[string, unknown]> }
  | { kind: 'v'; value: unknown }
  | { kind: 'i'; index: number };

/** An empty set. */
export function emptySet(): FieldNode {
  return { member: false, children: new Map() };
}

/** The FieldsV1 key of a field name. */
export function fieldKey(name: string): string {
  return `f:${name}`;
}

/** The FieldsV1 key of a list-map element; key fields are sorted by name. */
export function keyKey(fields: Array<[string, unknown]>): string {
  const obj: JsonObject = {};
  for (const [n, v] of [...fields].sort((a, b) => compareStrings(a[0], b[0]))) obj[n] = v;
  return `k:${JSON.stringify(obj)}`;
}

/** The FieldsV1 key of a set element. */
export function valueKey(value: unknown): string {
  return `v:${JSON.stringify(value)}`;
}

/** Parses a FieldsV1 key; throws on a malformed one. */
export function parseKey(key: string): PathElement {
  const body = key.slice(2);
  switch (key.slice(0, 2)) {
    case 'f:':
      return { kind: 'f', name: body };
    case 'k:': {
      const obj: unknown = JSON.parse(body);
      if (!isObject(obj)) throw new Error(`invalid key path element ${JSON.stringify(key)}`);
      return { kind: 'k', fields: Object.entries(obj) };
    }
    case 'v:':
      return { kind: 'v', value: JSON.parse(body) };
    case 'i:': {
      const n = Number(body);
      if (!Number.isInteger(n)) throw new Error(`invalid index path element ${JSON.stringify(key)}`);
      return { kind: 'i', index: n };
    }
    default:
      throw new Error(`unknown path element type ${JSON.stringify(key)}`);
  }
}

/** The path element as upstream prints it in messages: `.name`, `[name="x"]`, `[="v"]`, `[0]`. */
export function formatElement(pe: PathElement): string {
  switch (pe.kind) {
    case 'f':
      return `.${pe.name}`;
    case 'k':
      return `[${[...pe.fields]
        .sort((a, b) => compareStrings(a[0], b[0]))
        .map(([n, v]) => `${n}=${formatValue(v)}`)
        .join(',')}]`;
    case 'v':
      return `[=${formatValue(pe.value)}]`;
    case 'i':
      return `[${pe.index}]`;
  }
}

/** A path of FieldsV1 keys, formatted as upstream prints it (`.spec.containers[name="c"].image`). */
export function formatPath(path: readonly string[]): string {
  return path.map((k) => formatElement(parseKey(k))).join('');
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const typeRank = (v: unknown): number => {
  if (typeof v === 'number') return 0;
  if (typeof v === 'string') return 1;
  if (typeof v === 'boolean') return 2;
  if (Array.isArray(v)) return 3;
  if (isObject(v)) return 4;
  return 5;
};

/** Total order over JSON values: numbers, strings, booleans, lists, maps, null. */
function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return compareStrings(JSON.stringify(a), JSON.stringify(b));
}

/** Upstream's path element order: field names, then keys, then values, then indices. */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const pa = parseKey(a);
  const pb = parseKey(b);
  const order = { f: 0, k: 1, v: 2, i: 3 };
  if (pa.kind !== pb.kind) return order[pa.kind] - order[pb.kind];
  switch (pa.kind) {
    case 'f':
      return compareStrings(pa.name, (pb as { name: string }).name);
    case 'v':
      return compareValues(pa.value, (pb as { value: unknown }).value);
    case 'i':
      return pa.index - (pb as { index: number }).index;
    case 'k': {
      const fa = [...pa.fields].sort((x, y) => compareStrings(x[0], y[0]));
      const fb = [...(pb as { fields: Array<[string, unknown]> }).fields].sort((x, y) => compareStrings(x[0], y[0]));
      for (let i = 0; ; i++) {
        if (i >= fa.length && i >= fb.length) return 0;
        if (i >= fa.length) return -1;
        if (i >= fb.length) return 1;
        const c = compareStrings(fa[i]![0], fb[i]![0]) || compareValues(fa[i]![1], fb[i]![1]);
        if (c !== 0) return c;
      }
    }
  }
}

function sortedKeys(n: FieldNode): string[] {
  return [...n.children.keys()].sort(compareKeys);
}

/** The child node for `key`, created when absent. */
export function child(n: FieldNode, key: string): FieldNode {
  let c = n.children.get(key);
  if (!c) {
    c = emptySet();
    n.children.set(key, c);
  }
  return c;
}

/** Adds `path` as a member. */
export function insert(n: FieldNode, path: readonly string[]): void {
  let cur = n;
  for (const k of path) cur = child(cur, k);
  if (path.length > 0) cur.member = true;
}

/** Whether `path` is a member. */
export function has(n: FieldNode, path: readonly string[]): boolean {
  let cur: FieldNode | undefined = n;
  for (const k of path) {
    cur = cur.children.get(k);
    if (!cur) return false;
  }
  return path.length > 0 && cur.member;
}

/** Whether the set has no member. */
export function isEmpty(n: FieldNode): boolean {
  if (n.member) return false;
  for (const c of n.children.values()) if (!isEmpty(c)) return false;
  return true;
}

/** A deep copy. */
export function copySet(n: FieldNode): FieldNode {
  const out: FieldNode = { member: n.member, children: new Map() };
  for (const [k, c] of n.children) out.children.set(k, copySet(c));
  return out;
}

function prune(n: FieldNode): FieldNode {
  for (const [k, c] of n.children) {
    prune(c);
    if (!c.member && c.children.size === 0) n.children.delete(k);
  }
  return n;
}

/** Members of `a` or `b`. */
export function union(a: FieldNode, b: FieldNode): FieldNode {
  const out = copySet(a);
  const add = (dst: FieldNode, src: FieldNode): void => {
    if (src.member) dst.member = true;
    for (const [k, c] of src.children) add(child(dst, k), c);
  };
  add(out, b);
  return out;
}

/** Members of `a` that are not members of `b` (a member of `b` does not remove `a`'s paths below it). */
export function difference(a: FieldNode, b: FieldNode): FieldNode {
  const walk = (x: FieldNode, y: FieldNode | undefined): FieldNode => {
    const out: FieldNode = { member: x.member && !(y?.member ?? false), children: new Map() };
    for (const [k, c] of x.children) out.children.set(k, walk(c, y?.children.get(k)));
    return out;
  };
  return prune(walk(a, b));
}

/** Members of both `a` and `b`. */
export function intersection(a: FieldNode, b: FieldNode): FieldNode {
  const walk = (x: FieldNode, y: FieldNode): FieldNode => {
    const out: FieldNode = { member: x.member && y.member, children: new Map() };
    for (const [k, c] of x.children) {
      const d = y.children.get(k);
      if (d) out.children.set(k, walk(c, d));
    }
    return out;
  };
  return prune(walk(a, b));
}

/** Members of `a` that are neither members of `b` nor below one. */
export function recursiveDifference(a: FieldNode, b: FieldNode): FieldNode {
  const walk = (x: FieldNode, y: FieldNode | undefined): FieldNode | undefined => {
    if (y?.member) return undefined;
    const out: FieldNode = { member: x.member, children: new Map() };
    for (const [k, c] of x.children) {
      const r = walk(c, y?.children.get(k));
      if (r) out.children.set(k, r);
    }
    return out;
  };
  return prune(walk(a, b) ?? emptySet());
}

/** The member paths, members of a node before its children's subtrees, each level sorted (upstream's order). */
export function paths(n: FieldNode): string[][] {
  const out: string[][] = [];
  const walk = (node: FieldNode, prefix: string[]): void => {
    const keys = sortedKeys(node);
    for (const k of keys) if (node.children.get(k)!.member) out.push([...prefix, k]);
    for (const k of keys) {
      const c = node.children.get(k)!;
      if (c.children.size > 0) walk(c, [...prefix, k]);
    }
  };
  walk(n, []);
  return out;
}

/** The FieldsV1 object of a set. */
export function toFieldsV1(n: FieldNode): JsonObject {
  const encode = (node: FieldNode, self: boolean): JsonObject => {
    const out: JsonObject = {};
    if (self && node.member && node.children.size > 0) out['.'] = {};
    for (const k of sortedKeys(node)) out[k] = encode(node.children.get(k)!, true);
    return out;
  };
  return encode(prune(copySet(n)), false);
}

/** Parses a FieldsV1 object; throws on a malformed one. */
export function fromFieldsV1(v: unknown): FieldNode {
  if (!isObject(v)) throw new Error('FieldsV1 must be an object');
  const decode = (obj: JsonObject, self: boolean): FieldNode => {
    const node = emptySet();
    const keys = Object.keys(obj);
    if (self && keys.length === 0) node.member = true;
    for (const k of keys) {
      const c = obj[k];
      if (!isObject(c)) throw new Error(`FieldsV1 entry ${JSON.stringify(k)} must be an object`);
      if (k === '.') {
        node.member = true;
        continue;
      }
      parseKey(k);
      node.children.set(k, decode(c, true));
    }
    return node;
  };
  return decode(v, false);
}
