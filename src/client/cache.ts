/**
 * The informer's local cache: a keyed store of API objects with secondary indexes (client-go's
 * cache.Indexer), listers over it, and the key and tombstone helpers handlers use.
 * Single-threaded by construction: every mutation runs to completion on the event loop, so readers
 * never see a half-applied change. Objects in the cache are shared: never mutate them.
 */
import { parseLabelSelector, selectorMatches, type LabelSelector } from '../api/labels/index.js';
import type { KObject } from './rest-client.js';

/** Maps an object to its index values (none, one or several). */
export type IndexFunc<T = KObject> = (obj: T) => string[];
/** Maps an object to its store key. */
export type KeyFunc<T = KObject> = (obj: T) => string;

/** The object's last known state when its deletion was missed (seen only as absence on a relist). */
export class DeletedFinalStateUnknown<T = KObject> {
  constructor(
    readonly key: string,
    readonly obj: T,
  ) {}
}

const meta = (obj: unknown): Record<string, any> => ((obj as KObject | undefined)?.metadata ?? {}) as Record<string, any>;

/** `namespace/name`, or `name` for cluster-scoped objects (client-go's MetaNamespaceKeyFunc). */
export function metaNamespaceKeyFunc(obj: unknown): string {
  const m = meta(obj);
  if (m.name === undefined || m.name === '') throw new Error('object has no metadata.name');
  return m.namespace ? `${m.namespace}/${m.name}` : String(m.name);
}

/** Like {@link metaNamespaceKeyFunc} but also accepts a tombstone (client-go's DeletionHandlingMetaNamespaceKeyFunc). */
export function deletionHandlingMetaNamespaceKeyFunc(obj: unknown): string {
  if (obj instanceof DeletedFinalStateUnknown) return obj.key;
  return metaNamespaceKeyFunc(obj);
}

/** Split `namespace/name` or `name` into its parts. Throws on more than one slash. */
export function splitMetaNamespaceKey(key: string): { namespace: string; name: string } {
  const parts = key.split('/');
  if (parts.length === 1) return { namespace: '', name: parts[0]! };
  if (parts.length === 2) return { namespace: parts[0]!, name: parts[1]! };
  throw new Error(`unexpected key format: ${JSON.stringify(key)}`);
}

/** The object itself, or the last known state inside a tombstone. */
export function objectFromTombstone<T>(obj: T | DeletedFinalStateUnknown<T>): T {
  return obj instanceof DeletedFinalStateUnknown ? obj.obj : obj;
}

/** Index name of the namespace index every informer has. */
export const NAMESPACE_INDEX = 'namespace';
/** Index name conventionally used with {@link nodeNameIndexFunc}. */
export const NODE_NAME_INDEX = 'spec.nodeName';
/** Index name conventionally used with {@link controllerUIDIndexFunc}. */
export const CONTROLLER_UID_INDEX = 'controllerUID';

/** Indexes by metadata.namespace (client-go's MetaNamespaceIndexFunc). */
export const namespaceIndexFunc: IndexFunc<any> = (obj) => [meta(obj).namespace ?? ''];

/** Indexes pods by spec.nodeName; unscheduled pods are not indexed. */
export const nodeNameIndexFunc: IndexFunc<any> = (obj) => {
  const n = (obj as KObject)?.spec?.nodeName;
  return n ? [String(n)] : [];
};

/** Indexes by the uid of the controller owner reference (ownerReferences[].controller == true). */
export const controllerUIDIndexFunc: IndexFunc<any> = (obj) => {
  const refs = meta(obj).ownerReferences;
  if (!Array.isArray(refs)) return [];
  const c = refs.find((r: KObject) => r?.controller === true);
  return c?.uid ? [String(c.uid)] : [];
};

/** An index function over a dotted field path, e.g. `fieldIndexFunc('spec.nodeName')`. Empty values are not indexed. */
export function fieldIndexFunc(path: string): IndexFunc<any> {
  const parts = path.split('.');
  return (obj) => {
    let v: any = obj;
    for (const p of parts) v = v?.[p];
    if (v === undefined || v === null || v === '') return [];
    return Array.isArray(v) ? v.map(String) : [String(v)];
  };
}

/**
 * A keyed store with named indexes. Index functions must be pure: the index entries of an object
 * are recomputed from its old and new state on every change.
 */
export class Indexer<T = KObject> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  /** index name -> index value -> keys */
  private readonly indices = new Map<string, Map<string, Set<string>>>();

  constructor(
    indexers: Record<string, IndexFunc<T>> = {},
    readonly keyFunc: KeyFunc<T> = metaNamespaceKeyFunc,
  ) {
    this.addIndexers(indexers);
  }

  /** Add indexes; existing items are indexed at once. Re-adding the same function under a name is a no-op; a different one throws. */
  addIndexers(indexers: Record<string, IndexFunc<T>>): void {
    for (const [name, fn] of Object.entries(indexers)) {
      const have = this.indexers.get(name);
      if (have === fn) continue;
      if (have) throw new Error(`indexer conflict: ${name}`);
      this.indexers.set(name, fn);
      const index = new Map<string, Set<string>>();
      this.indices.set(name, index);
      for (const [key, obj] of this.items) for (const v of fn(obj)) addTo(index, v, key);
    }
  }

  /** Names of the indexes. */
  indexNames(): string[] {
    return [...this.indexers.keys()];
  }

  /** Insert or replace the object under its key. Returns the previous object, if any. */
  add(obj: T): T | undefined {
    const key = this.keyFunc(obj);
    const old = this.items.get(key);
    this.items.set(key, obj);
    this.reindex(key, old, obj);
    return old;
  }

  /** Same as {@link add}. */
  update(obj: T): T | undefined {
    return this.add(obj);
  }

  /** Remove the object with this object's key. Returns the removed object, if any. */
  delete(obj: T | DeletedFinalStateUnknown<T>): T | undefined {
    const key = obj instanceof DeletedFinalStateUnknown ? obj.key : this.keyFunc(obj);
    return this.deleteByKey(key);
  }

  /** Remove the object under the key. Returns the removed object, if any. */
  deleteByKey(key: string): T | undefined {
    const old = this.items.get(key);
    if (old === undefined) return undefined;
    this.items.delete(key);
    this.reindex(key, old, undefined);
    return old;
  }

  /** Replace the whole contents. */
  replace(objs: Iterable<T>): void {
    this.items.clear();
    for (const index of this.indices.values()) index.clear();
    for (const obj of objs) this.add(obj);
  }

  /** The stored object with the same key as `obj`. */
  get(obj: T): T | undefined {
    return this.items.get(this.keyFunc(obj));
  }

  getByKey(key: string): T | undefined {
    return this.items.get(key);
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  listKeys(): string[] {
    return [...this.items.keys()];
  }

  get size(): number {
    return this.items.size;
  }

  /** Objects sharing any value of the named index with `obj`. */
  index(indexName: string, obj: T): T[] {
    const fn = this.indexFn(indexName);
    const keys = new Set<string>();
    for (const v of fn(obj)) for (const k of this.indices.get(indexName)!.get(v) ?? []) keys.add(k);
    return [...keys].map((k) => this.items.get(k)!);
  }

  /** Objects whose named index includes `value`. */
  byIndex(indexName: string, value: string): T[] {
    return this.indexKeys(indexName, value).map((k) => this.items.get(k)!);
  }

  /** Keys of the objects whose named index includes `value`. */
  indexKeys(indexName: string, value: string): string[] {
    this.indexFn(indexName);
    return [...(this.indices.get(indexName)!.get(value) ?? [])];
  }

  /** Every value present in the named index. */
  listIndexFuncValues(indexName: string): string[] {
    this.indexFn(indexName);
    return [...this.indices.get(indexName)!.keys()];
  }

  private indexFn(name: string): IndexFunc<T> {
    const fn = this.indexers.get(name);
    if (!fn) throw new Error(`index with name ${name} does not exist`);
    return fn;
  }

  private reindex(key: string, oldObj: T | undefined, newObj: T | undefined): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      const before = oldObj === undefined ? [] : fn(oldObj);
      const after = newObj === undefined ? [] : fn(newObj);
      // The common case: the object's index values did not change.
      if (before.length === 1 && after.length === 1 && before[0] === after[0]) continue;
      for (const v of before) {
        const set = index.get(v);
        if (!set) continue;
        set.delete(key);
        if (set.size === 0) index.delete(v);
      }
      for (const v of after) addTo(index, v, key);
    }
  }
}

function addTo(index: Map<string, Set<string>>, value: string, key: string): void {
  let set = index.get(value);
  if (!set) index.set(value, (set = new Set()));
  set.add(key);
}

/** A label selector given as its string form or already parsed. */
export type SelectorArg = string | LabelSelector | undefined;

const selectorCache = new Map<string, LabelSelector>();
function toSelector(s: SelectorArg): LabelSelector | undefined {
  if (s === undefined || s === '') return undefined;
  if (typeof s !== 'string') return s;
  let sel = selectorCache.get(s);
  if (!sel) {
    sel = parseLabelSelector(s);
    if (selectorCache.size > 1000) selectorCache.clear();
    selectorCache.set(s, sel);
  }
  return sel;
}

/** Read access to an informer's cache (client-go's listers). */
export class Lister<T = KObject> {
  constructor(readonly indexer: Indexer<T>) {}

  /**
   * Objects in the namespace (all namespaces when `namespace` is undefined or empty), optionally
   * filtered by a label selector. Throws SelectorParseError on a malformed selector string.
   */
  list(namespace?: string, labelSelector?: SelectorArg): T[] {
    const sel = toSelector(labelSelector);
    const objs = namespace ? this.namespaced(namespace) : this.indexer.list();
    return sel ? objs.filter((o) => selectorMatches(sel, meta(o).labels ?? {})) : objs;
  }

  /** The object, or undefined. Cluster-scoped objects: pass '' (or undefined) as the namespace. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.indexer.getByKey(namespace ? `${namespace}/${name}` : name);
  }

  /** Objects whose named index includes `value`. */
  byIndex(indexName: string, value: string): T[] {
    return this.indexer.byIndex(indexName, value);
  }

  private namespaced(namespace: string): T[] {
    if (this.indexer.indexNames().includes(NAMESPACE_INDEX)) return this.indexer.byIndex(NAMESPACE_INDEX, namespace);
    return this.indexer.list().filter((o) => meta(o).namespace === namespace);
  }
}
