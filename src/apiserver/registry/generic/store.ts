/**
 * The one generic registry store: create, get, list, watch, update, patch-by-update, delete and
 * deletecollection for any resource, over a storage Backend. Everything kind-specific comes from
 * the resource's Strategy; this file never branches on kind (upstream's registry/generic/registry/store.go).
 */
import { randomUUID, randomInt } from 'node:crypto';
import { errors, field, StatusError, type FieldError, type GroupResource } from '../../../api/errors.js';
import {
  CompactedError,
  ConflictError,
  FutureRevisionError,
  KeyExistsError,
  NotFoundError,
  StorageError,
  type Backend,
  type KeyValue,
  type WatchEvent,
} from '../../../storage/interface.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/object-meta.js';
import type { HookContext, KObject, Strategy } from './strategy.js';
import type { UserInfo } from '../../auth/authenticator.js';

/** What identifies an object in the store. */
export interface ObjectRef {
  namespace: string;
  name: string;
}

/** A compiled list/watch filter, built by the HTTP layer from labelSelector and fieldSelector. */
export interface ListPredicate {
  label?: (labels: Record<string, string>) => boolean;
  field?: (fields: Record<string, string>) => boolean;
  /** A `metadata.name=x` field selector, used to narrow the storage read to one key. */
  name?: string;
}

export interface ListOptions {
  predicate?: ListPredicate;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface ListResult {
  items: KObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
  /** The object came from server-side apply, which has already recorded field ownership. */
  applied?: boolean;
  /** Who asks, for admission; undefined for the server's own writes (bootstrap). */
  user?: UserInfo;
  /** The request's warning and audit-annotation sinks, for admission. */
  hooks?: RequestHooks;
  /** The caller hands the input over (a freshly decoded request body): it is changed in place, not copied. */
  owned?: boolean;
  /**
   * A subresource handler that sets system-owned fields itself (pods/binding): no defaulting, no
   * field tracking and no no-op check, as upstream's binding writes storage directly. Admission
   * and metadata validation still run.
   */
  direct?: boolean;
}

export interface RequestHooks {
  warn(text: string): void;
  annotate(key: string, value: string): void;
}

export interface DeleteOptions extends WriteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: string;
}

export type ApiWatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ApiWatchEvent {
  type: ApiWatchEventType;
  object: KObject;
  /**
   * The object's JSON when the store knows it without decoding (a value it just wrote), one
   * instance per revision shared by every watcher; `object` is then decoded only if read.
   */
  shared?: SharedText;
}

/** The JSON of one revision of an object, with its resourceVersion. */
export interface SharedText {
  readonly json: string;
}

/** A watch event whose object is decoded the first time it is read (a Table watcher reads it; a JSON one need not). */
class LazyWatchEvent implements ApiWatchEvent {
  private decoded?: KObject;
  constructor(
    readonly type: ApiWatchEventType,
    readonly shared: SharedText,
    private readonly load: () => KObject,
  ) {}
  get object(): KObject {
    return (this.decoded ??= this.load());
  }
}

export interface WatchOptions {
  predicate?: ListPredicate;
  resourceVersion?: string;
  resourceVersionMatch?: string;
  sendInitialEvents?: boolean;
  allowWatchBookmarks?: boolean;
}

export interface ApiWatch {
  cancel(): void;
}

/** Seams the store calls for managed fields and admission, so they stay out of the generic path. */
export interface StoreExtensions {
  /** Record field ownership for a non-apply write (upstream's managedFields Update operation). */
  trackManagedFields?(obj: KObject, old: KObject | undefined, manager: string | undefined, apiVersion: string, subresource?: string): void;
  /** Admission plugins: mutate and validate, run after defaulting, before validation. Returns a promise only when some plugin went asynchronous. */
  admit?(a: StoreAdmission): Promise<void> | void;
}

/** What the store tells admission about a write (upstream's admission.Attributes). */
export interface StoreAdmission {
  operation: 'CREATE' | 'UPDATE' | 'DELETE';
  /** The new object; for DELETE, the object being deleted. */
  object: KObject;
  oldObject?: KObject;
  store: Store;
  user?: UserInfo;
  /** '' for the main resource. */
  subresource: string;
  dryRun: boolean;
  hooks?: RequestHooks;
  /** Mutating plugins run before the strategy prepares and validates; validating ones after. */
  phase: 'mutate' | 'validate';
}

const generateSuffixChars = 'bcdfghjklmnpqrstvwxz2456789';

/** RFC 3339 with seconds, as metav1.Time serialises. */
let lastSecond = -1;
let lastStamp = '';
/** A time at second precision in RFC 3339, as metadata timestamps are; the current second's text is reused. */
export function nowRFC3339(d?: Date): string {
  const ms = d ? d.getTime() : Date.now();
  const sec = Math.floor(ms / 1000);
  if (d) return `${new Date(sec * 1000).toISOString().slice(0, 19)}Z`;
  if (sec !== lastSecond) {
    lastSecond = sec;
    lastStamp = `${new Date(sec * 1000).toISOString().slice(0, 19)}Z`;
  }
  return lastStamp;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], bb[i])) return false;
    return true;
  }
  // Keys holding undefined are absent, as in the JSON that is stored.
  const ak = Object.keys(a as object).filter((k) => (a as any)[k] !== undefined);
  const bk = Object.keys(b as object).filter((k) => (b as any)[k] !== undefined);
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (!deepEqual((a as any)[k], (b as any)[k])) return false;
  return true;
}

/** Continue tokens as upstream encodes them: base64 of {"v":"meta.k8s.io/v1","rv":N,"start":"<key>"}. */
function encodeContinue(rv: number, startKeySuffix: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: startKeySuffix })).toString('base64url');
}
function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const raw = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (raw?.v !== 'meta.k8s.io/v1' || typeof raw.rv !== 'number' || typeof raw.start !== 'string') throw new Error('bad');
    if (raw.start.includes('..') || raw.start.startsWith('/')) throw new Error('bad');
    return { rv: raw.rv, start: raw.start };
  } catch {
    throw errors.badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
}

function parseRV(rv: string | undefined, what = 'resourceVersion'): number | undefined {
  if (rv === undefined || rv === '') return undefined;
  if (!/^\d+$/.test(rv)) throw errors.badRequest(`invalid ${what}: "${rv}"`);
  return Number(rv);
}

/** Upstream's answer to a resourceVersion the store has not reached (client-go reflectors relist on it). */
function tooLargeResourceVersion(requested: number, current: number): StatusError {
  const e = errors.timeout(`Too large resource version: ${requested}, current: ${current}`);
  e.status.details = { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 };
  return e;
}

/** Generic ObjectMeta validation (names, labels, annotations, owner references, finalizers), per the strategy's name rule. */
export function validateMetaFor(strategy: Strategy, obj: KObject, old?: KObject): FieldError[] {
  const nv = strategy.nameValidation ?? 'dns-subdomain';
  if (nv === 'none') {
    // Upstream validates no ObjectMeta for such kinds; a name is still needed to store one.
    if (!obj.metadata?.name) return [field.required('metadata.name', 'name or generateName is required')];
    return old ? validateObjectMetaUpdate(obj.metadata, old.metadata).filter((e) => e.field !== 'metadata.labels' && e.field !== 'metadata.annotations') : [];
  }
  if (old) return validateObjectMetaUpdate(obj.metadata, old.metadata);
  return validateObjectMeta(obj.metadata, { namespaced: strategy.info.namespaced, nameValidation: nv });
}

/** Decoded-object cache shared by all watchers of all stores: one parse per (key, revision). */
const decodeCache = new Map<string, KObject>();
const decodeCacheMax = 4096;

/**
 * Keep a Map (in insertion order) under `max` entries by dropping its oldest quarter at once: a
 * Map keeps the holes of deleted entries until it rehashes, so looking for the first live entry
 * on every insert would walk ever more of them.
 */
function trimOldest(m: Map<string, unknown>, max: number): void {
  if (m.size < max) return;
  let drop = max >> 2 || 1;
  for (const k of m.keys()) {
    m.delete(k);
    if (--drop === 0) break;
  }
}

/**
 * A written object's JSON is made once, with a placeholder resourceVersion (the revision is known
 * only after the commit), and split there: the stored value, the response and the watch events
 * of that revision all come from that one serialisation.
 */
const rvPlaceholder = `"resourceVersion":"k8ts-rv-${randomUUID()}"`;
/** `pre + revision + post` is the object's JSON; `value` is what was stored (the same without resourceVersion). */
interface WrittenText {
  value: string;
  pre: string;
  post: string;
}
/** Texts of values just written, by `apiVersion|key`, until a watcher takes that value (bounded). */
const pendingTexts = new Map<string, WrittenText>();
const pendingTextsMax = 1024;
/** Watch texts of written values, by `apiVersion|key@revision`, shared by all watchers of that revision (bounded). */
const sharedTexts = new Map<string, SharedText>();
const sharedTextsMax = 1024;
/** The JSON of objects the store wrote or decoded for watchers, with the resourceVersion it holds. */
const objectTexts = new WeakMap<object, { json: string; rv: string }>();

/**
 * The JSON the store already made of `obj` (an object it just wrote and returned, or a shared
 * watch-event object), so it need not be serialised again; undefined when unknown or when the
 * object's resourceVersion has changed since. Only for an object nobody has changed since.
 */
export function knownJSON(obj: object): string | undefined {
  const t = objectTexts.get(obj);
  if (t === undefined || t.rv !== (obj as KObject).metadata?.resourceVersion) return undefined;
  return t.json;
}

/**
 * The generic store for one resource. `keyRoot` is like `/registry/pods`.
 */
export class Store {
  readonly gr: GroupResource;
  readonly apiVersion: string;
  readonly listKind: string;
  private readonly keyRoot: string;
  /** Open watches of this store. */
  private watches = 0;

  constructor(
    readonly strategy: Strategy,
    private readonly backend: Backend,
    private readonly ext: StoreExtensions = {},
    keyPrefix = '/registry',
  ) {
    const i = strategy.info;
    this.gr = { group: i.group, resource: i.resource };
    this.apiVersion = i.group ? `${i.group}/${i.version}` : i.version;
    this.listKind = i.listKind ?? `${i.kind}List`;
    const stored = strategy.storedAs ?? i;
    this.keyRoot = `${keyPrefix}/${stored.group ? `${stored.group}/` : ''}${stored.resource}`;
  }

  /** The storage key of one object. */
  key(ref: ObjectRef): string {
    return this.strategy.info.namespaced ? `${this.keyRoot}/${ref.namespace}/${ref.name}` : `${this.keyRoot}/${ref.name}`;
  }
  /** The storage prefix of a namespace's objects (or all, when ns is empty). */
  prefix(namespace: string): string {
    return this.strategy.info.namespaced && namespace ? `${this.keyRoot}/${namespace}/` : `${this.keyRoot}/`;
  }

  private decode(kv: KeyValue): KObject {
    let obj = JSON.parse(kv.value) as KObject;
    if (this.strategy.storedAs) obj = this.strategy.storedAs.fromStorage(obj);
    obj.apiVersion = this.apiVersion;
    obj.kind = this.strategy.info.kind;
    (obj.metadata ??= {}).resourceVersion = String(kv.modRevision);
    return obj;
  }
  /** Decode through the shared cache; callers must not mutate the result. */
  private decodeShared(kv: KeyValue): KObject {
    const ck = `${this.apiVersion}|${kv.key}@${kv.modRevision}`;
    let o = decodeCache.get(ck);
    if (!o) {
      o = this.decode(kv);
      const t = this.sharedText(kv);
      if (t !== undefined) objectTexts.set(o, { json: t.json, rv: o.metadata.resourceVersion as string });
      trimOldest(decodeCache, decodeCacheMax);
      decodeCache.set(ck, o);
    }
    return o;
  }

  /** The JSON of a revision this store wrote, without decoding it; undefined when not known. */
  private sharedText(kv: KeyValue): SharedText | undefined {
    if (this.strategy.storedAs) return undefined;
    const ck = `${this.apiVersion}|${kv.key}@${kv.modRevision}`;
    let t = sharedTexts.get(ck);
    if (t !== undefined) return t;
    const pk = `${this.apiVersion}|${kv.key}`;
    const w = pendingTexts.get(pk);
    if (w === undefined || w.value !== kv.value) return undefined;
    // The value this store wrote: its JSON, with this revision in place of the placeholder.
    t = { json: w.pre + String(kv.modRevision) + w.post };
    pendingTexts.delete(pk);
    trimOldest(sharedTexts, sharedTextsMax);
    sharedTexts.set(ck, t);
    return t;
  }
  /**
   * Encode a written object for storage, and where possible keep its JSON split at the
   * resourceVersion (see {@link rvPlaceholder}); {@link noteWritten} completes it after the commit.
   */
  private encodeWrite(key: string, obj: KObject): { value: string; text?: WrittenText } {
    const m = obj.metadata;
    if (this.strategy.storedAs || obj.apiVersion !== this.apiVersion || obj.kind !== this.strategy.info.kind || !m || typeof m !== 'object' || m.selfLink !== undefined) {
      return { value: this.encode(obj) };
    }
    const rv = m.resourceVersion;
    m.resourceVersion = rvPlaceholder.slice(19, -1);
    let json: string;
    try {
      json = JSON.stringify(obj);
    } finally {
      m.resourceVersion = rv;
    }
    const at = json.indexOf(rvPlaceholder);
    // Exactly once, or the text is not ours to split (a client cannot know the placeholder, but still).
    if (at < 0 || json.indexOf(rvPlaceholder, at + 1) >= 0) return { value: this.encode(obj) };
    const end = at + rvPlaceholder.length;
    // The stored value leaves the member out, with the comma that separates it from a neighbour.
    const value = json.charCodeAt(at - 1) === 44 ? json.slice(0, at - 1) + json.slice(end) : json.charCodeAt(end) === 44 ? json.slice(0, at) + json.slice(end + 1) : json.slice(0, at) + json.slice(end);
    const text: WrittenText = { value, pre: json.slice(0, at + 19), post: json.slice(end - 1) };
    if (this.watches > 0) {
      const pk = `${this.apiVersion}|${key}`;
      pendingTexts.delete(pk);
      trimOldest(pendingTexts, pendingTextsMax);
      pendingTexts.set(pk, text);
    }
    return { value, text };
  }

  /** The object was written at `rv` (now its metadata.resourceVersion): remember its JSON for the response. */
  private noteWritten(obj: KObject, text: WrittenText | undefined, rv: string): void {
    if (text) objectTexts.set(obj, { json: text.pre + rv + text.post, rv });
  }

  private encode(obj: KObject): string {
    const conv = this.strategy.storedAs;
    const m = obj.metadata;
    if (!conv && obj.apiVersion === this.apiVersion && obj.kind === this.strategy.info.kind && m && typeof m === 'object') {
      // The common case, without copying the object and its metadata: resourceVersion and selfLink
      // are left out by JSON.stringify while undefined (same text, same key order), then restored.
      const rv = m.resourceVersion;
      const sl = m.selfLink;
      if (rv !== undefined) m.resourceVersion = undefined;
      if (sl !== undefined) m.selfLink = undefined;
      try {
        return JSON.stringify(obj);
      } finally {
        if (rv !== undefined) m.resourceVersion = rv;
        if (sl !== undefined) m.selfLink = sl;
      }
    }
    const { resourceVersion: _rv, selfLink: _sl, ...meta } = obj.metadata ?? {};
    if (conv) return JSON.stringify({ ...conv.toStorage({ ...obj, metadata: meta }), metadata: meta, apiVersion: conv.apiVersion, kind: conv.kind });
    return JSON.stringify({ ...obj, metadata: meta, apiVersion: this.apiVersion, kind: this.strategy.info.kind });
  }

  private translate(err: unknown, name: string): never {
    if (err instanceof StatusError) throw err;
    if (err instanceof KeyExistsError) throw errors.alreadyExists(this.gr, name);
    if (err instanceof NotFoundError) throw errors.notFound(this.gr, name);
    if (err instanceof ConflictError) throw errors.modified(this.gr, name);
    if (err instanceof CompactedError) throw errors.resourceExpired(`too old resource version: ${err.requested} (${err.compacted})`);
    if (err instanceof FutureRevisionError) throw tooLargeResourceVersion(err.requested, err.current);
    if (err instanceof StorageError) throw errors.internal(err.message);
    throw err;
  }

  /**
   * Wait (up to 3 s, as upstream's watch cache does) for the store to reach `rv`; then 504
   * "Too large resource version".
   */
  private async waitForRevision(rv: number, timeoutMs = 3000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const cur = await this.backend.currentRevision();
      if (rv <= cur) return;
      if (Date.now() >= end) throw tooLargeResourceVersion(rv, cur);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The fields a field selector can see. */
  fieldsOf(obj: KObject): Record<string, string> {
    const f: Record<string, string> = { 'metadata.name': obj.metadata?.name ?? '' };
    if (this.strategy.info.namespaced) f['metadata.namespace'] = obj.metadata?.namespace ?? '';
    if (this.strategy.selectableFields) Object.assign(f, this.strategy.selectableFields(obj));
    return f;
  }

  matches(obj: KObject, p?: ListPredicate): boolean {
    if (!p) return true;
    if (p.label && !p.label(obj.metadata?.labels ?? {})) return false;
    if (p.field && !p.field(this.fieldsOf(obj))) return false;
    return true;
  }

  async get(ref: ObjectRef, resourceVersion?: string): Promise<KObject> {
    const rv = parseRV(resourceVersion);
    try {
      const r = await this.backend.get(this.key(ref), rv ? { revision: rv } : undefined);
      if (!r.kv) throw errors.notFound(this.gr, ref.name);
      return this.decode(r.kv);
    } catch (e) {
      this.translate(e, ref.name);
    }
  }

  async list(namespace: string, opts: ListOptions = {}): Promise<ListResult> {
    const p = opts.predicate;
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    let revision: number | undefined;
    let startKey: string | undefined;
    const prefix = this.prefix(namespace);
    if (opts.continue) {
      const c = decodeContinue(opts.continue);
      revision = c.rv;
      startKey = prefix + c.start;
    } else {
      const rv = parseRV(opts.resourceVersion);
      if (rv !== undefined && rv > 0 && opts.resourceVersionMatch === 'Exact') revision = rv;
      else if (rv !== undefined && rv > 0) await this.waitForRevision(rv);
    }
    try {
      if (p?.name !== undefined && !startKey && (this.strategy.info.namespaced ? namespace : true)) {
        const r = await this.backend.get(this.key({ namespace, name: p.name }), revision ? { revision } : undefined);
        const items = r.kv ? [this.decode(r.kv)].filter((o) => this.matches(o, p)) : [];
        return { items, resourceVersion: String(r.revision) };
      }
      const items: KObject[] = [];
      for (;;) {
        const batch = limit ? Math.max(limit - items.length, p ? 100 : 0) : 0;
        const r = await this.backend.list(prefix, { revision, limit: batch, startKey });
        revision = r.revision;
        let lastKey: string | undefined;
        for (const kv of r.kvs) {
          lastKey = kv.key;
          const o = this.decode(kv);
          if (!this.matches(o, p)) continue;
          items.push(o);
          if (limit && items.length >= limit) break;
        }
        const consumedAll = !lastKey || lastKey === r.kvs[r.kvs.length - 1]?.key;
        const more = r.more || !consumedAll;
        if (limit && items.length >= limit && more && lastKey) {
          const next = lastKey.slice(prefix.length) + '\u0000';
          const res: ListResult = { items, resourceVersion: String(revision), continue: encodeContinue(revision, next) };
          if (!p && r.remaining !== undefined) res.remainingItemCount = r.remaining + (r.kvs.length - r.kvs.findIndex((k) => k.key === lastKey) - 1);
          return res;
        }
        if (!r.more) return { items, resourceVersion: String(revision) };
        startKey = r.kvs[r.kvs.length - 1].key + '\u0000';
      }
    } catch (e) {
      if (e instanceof CompactedError && opts.continue) {
        throw errors.resourceExpired(
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
        );
      }
      this.translate(e, '');
    }
  }

  private validateMeta(obj: KObject, old?: KObject): FieldError[] {
    return validateMetaFor(this.strategy, obj, old);
  }

  private invalid(obj: KObject, errs: FieldError[]): StatusError {
    return errors.invalid(this.strategy.info.group, this.strategy.info.kind, obj.metadata?.name ?? '', errs);
  }

  private hookContext(dryRun: boolean): HookContext {
    const b = this.backend;
    return {
      dryRun,
      async claim(key: string, owner: string) {
        if (dryRun) return (await b.get(key)).kv === undefined;
        try {
          await b.create(key, JSON.stringify({ owner }));
          return true;
        } catch (e) {
          if (e instanceof KeyExistsError) return false;
          throw e;
        }
      },
      async release(key: string) {
        if (dryRun) return;
        try {
          await b.delete(key);
        } catch (e) {
          if (!(e instanceof NotFoundError)) throw e;
        }
      },
    };
  }

  /** Check the object's kind and apiVersion against this resource (400 as upstream). */
  checkTypeMeta(obj: KObject): void {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw errors.badRequest('the body of the request must be a JSON object');
    const { kind, apiVersion } = obj;
    if (apiVersion !== undefined && apiVersion !== '' && apiVersion !== this.apiVersion) {
      throw errors.badRequest(`the API version in the data (${apiVersion}) does not match the expected API version (${this.apiVersion})`);
    }
    if (kind !== undefined && kind !== '' && kind !== this.strategy.info.kind) {
      throw errors.badRequest(`the kind in the data (${kind}) does not match the expected kind (${this.strategy.info.kind})`);
    }
    if (obj.metadata !== undefined && (obj.metadata === null || typeof obj.metadata !== 'object' || Array.isArray(obj.metadata))) {
      throw errors.badRequest('metadata must be an object');
    }
  }

  async create(namespace: string, input: KObject, opts: WriteOptions = {}): Promise<KObject> {
    this.checkTypeMeta(input);
    const obj: KObject = opts.owned ? input : structuredClone(input);
    const meta = (obj.metadata ??= {});
    if (this.strategy.info.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace || meta.namespace;
    } else {
      delete meta.namespace;
    }
    if (!meta.name && meta.generateName && typeof meta.generateName === 'string') {
      let sfx = '';
      for (let i = 0; i < 5; i++) sfx += generateSuffixChars[randomInt(generateSuffixChars.length)];
      meta.name = meta.generateName + sfx;
    }
    meta.uid = randomUUID();
    meta.creationTimestamp = nowRFC3339();
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.resourceVersion;
    delete meta.selfLink;
    if (this.strategy.bumpsGeneration) meta.generation = 1;
    else delete meta.generation;
    obj.apiVersion = this.apiVersion;
    obj.kind = this.strategy.info.kind;
    // Upstream's order: defaults, mutating admission, the strategy's create preparation and
    // validation, then validating admission (quota charges only what is valid).
    const admission = { operation: 'CREATE', object: obj, store: this, user: opts.user, subresource: '', dryRun: !!opts.dryRun, hooks: opts.hooks } as const;
    if (this.ext.admit) {
      this.strategy.defaults?.(obj);
      const p = this.ext.admit({ ...admission, phase: 'mutate' });
      if (p) await p;
    }
    this.strategy.prepareForCreate?.(obj);
    this.strategy.defaults?.(obj);
    const errs = [...this.validateMeta(obj), ...(this.strategy.validate?.(obj) ?? [])];
    if (errs.length) throw this.invalid(obj, errs);
    if (this.ext.admit) {
      const p = this.ext.admit({ ...admission, phase: 'validate' });
      if (p) await p;
    }
    if (!opts.applied) this.ext.trackManagedFields?.(obj, undefined, opts.fieldManager, this.apiVersion);
    // Most kinds have no hooks: no context to build and nothing to await.
    const hooks = this.strategy.hooks;
    const ctx = hooks ? this.hookContext(!!opts.dryRun) : undefined;
    if (hooks?.beforeCreate) await hooks.beforeCreate(obj, ctx!);
    const key = this.key({ namespace: meta.namespace ?? '', name: meta.name });
    if (opts.dryRun) {
      const existing = await this.backend.get(key);
      if (existing.kv) throw errors.alreadyExists(this.gr, meta.name);
      return obj;
    }
    try {
      const enc = this.encodeWrite(key, obj);
      const kv = await this.backend.create(key, enc.value);
      meta.resourceVersion = String(kv.modRevision);
      this.noteWritten(obj, enc.text, meta.resourceVersion);
      return obj;
    } catch (e) {
      await hooks?.abortCreate?.(obj, ctx!).catch(() => undefined);
      this.translate(e, meta.name);
    }
  }

  /**
   * Read-modify-write with optimistic concurrency. `mutate` gets a copy of the current object and
   * returns the desired one; on a storage conflict it runs again unless `preconditionRV` pins the revision.
   */
  async guaranteedUpdate(
    ref: ObjectRef,
    mutate: (current: KObject) => Promise<KObject> | KObject,
    opts: WriteOptions & { subresource?: 'status' | 'scale' | 'finalize' | string } = {},
  ): Promise<KObject> {
    const key = this.key(ref);
    for (let attempt = 0; ; attempt++) {
      const r = await this.backend.get(key).catch((e) => this.translate(e, ref.name));
      if (!r.kv) throw errors.notFound(this.gr, ref.name);
      const old = this.decode(r.kv);
      // A second decode is the mutable copy: parsing the stored text costs half a structuredClone.
      let desired = mutate(this.decode(r.kv));
      if (desired instanceof Promise) desired = await desired;
      try {
        return await this.writeUpdate(key, old, desired, r.kv.modRevision, opts);
      } catch (e) {
        if (e instanceof ConflictError && attempt < 20) continue;
        this.translate(e, ref.name);
      }
    }
  }

  /** PUT: replace the object, honouring metadata.resourceVersion for optimistic concurrency. */
  async update(ref: ObjectRef, input: KObject, opts: WriteOptions & { subresource?: string } = {}): Promise<KObject> {
    this.checkTypeMeta(input);
    const name = input.metadata?.name;
    if (name !== undefined && name !== ref.name) {
      throw errors.badRequest(`the name of the object (${name}) does not match the name on the URL (${ref.name})`);
    }
    const ns = input.metadata?.namespace;
    if (this.strategy.info.namespaced && ns && ns !== ref.namespace) {
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const wantRV = input.metadata?.resourceVersion;
    return this.guaranteedUpdate(
      ref,
      (current) => {
        // An update naming another incarnation's uid is a failed precondition (409), as upstream, so
        // clients holding a stale object refetch rather than see a validation error.
        const wantUID = input.metadata?.uid;
        if (wantUID && wantUID !== current.metadata.uid) {
          throw errors.conflict(this.gr, ref.name, `Precondition failed: UID in precondition: ${wantUID}, UID in object meta: ${current.metadata.uid}`);
        }
        if (wantRV && wantRV !== current.metadata.resourceVersion) throw errors.modified(this.gr, ref.name);
        const next = structuredClone(input);
        next.metadata ??= {};
        next.metadata.name = ref.name;
        if (this.strategy.info.namespaced) next.metadata.namespace = ref.namespace;
        return next;
      },
      opts,
    );
  }

  private async writeUpdate(
    key: string,
    old: KObject,
    input: KObject,
    expectedRev: number,
    opts: WriteOptions & { subresource?: string },
  ): Promise<KObject> {
    const obj: KObject = input;
    obj.apiVersion = this.apiVersion;
    obj.kind = this.strategy.info.kind;
    const meta = (obj.metadata ??= {});
    const om = old.metadata;
    // System fields are carried over from the stored object when the client omits them.
    for (const f of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation'] as const) {
      if (meta[f] === undefined || f === 'generation' || f === 'deletionTimestamp' || f === 'deletionGracePeriodSeconds') {
        if (om[f] === undefined) delete meta[f];
        else meta[f] = om[f];
      }
    }
    const sub = opts.subresource === 'status' ? this.strategy.status : opts.subresource ? this.strategy.updateSubresources?.[opts.subresource] : undefined;
    if (sub) {
      sub.prepareForUpdate(obj, old);
    } else if (!opts.subresource || opts.subresource === 'scale') {
      this.strategy.prepareForUpdate?.(obj, old);
    }
    if (!opts.direct) this.strategy.defaults?.(obj);
    const admission = { operation: 'UPDATE', object: obj, oldObject: old, store: this, user: opts.user, subresource: opts.subresource ?? '', dryRun: !!opts.dryRun, hooks: opts.hooks } as const;
    if (this.ext.admit) {
      const p = this.ext.admit({ ...admission, phase: 'mutate' });
      if (p) await p;
    }
    const errs = this.validateMeta(obj, old);
    if (sub) errs.push(...(sub.validateUpdate?.(obj, old) ?? []));
    else if (!opts.subresource || opts.subresource === 'scale') errs.push(...(this.strategy.validateUpdate?.(obj, old) ?? this.strategy.validate?.(obj) ?? []));
    // Other subresources (binding, finalize) validate what they change in their own handlers.
    if (errs.length) throw this.invalid(obj, errs);
    if (this.ext.admit) {
      const p = this.ext.admit({ ...admission, phase: 'validate' });
      if (p) await p;
    }
    if (this.strategy.bumpsGeneration && !deepEqual(obj.spec, old.spec)) meta.generation = (om.generation ?? 0) + 1;
    meta.resourceVersion = om.resourceVersion;
    if (!opts.direct) {
      if (deepEqual(obj, old)) return old;
      if (!opts.applied) this.ext.trackManagedFields?.(obj, old, opts.fieldManager, this.apiVersion, opts.subresource);
      if (deepEqual(obj, old)) return old;
    }
    const hooks = this.strategy.hooks;
    const ctx = hooks ? this.hookContext(!!opts.dryRun) : undefined;
    if (hooks?.beforeUpdate) await hooks.beforeUpdate(obj, old, ctx!);
    if (opts.dryRun) return obj;
    // The last finalizer removed from an object being deleted: the object goes now.
    if (meta.deletionTimestamp && !(meta.finalizers?.length) && !this.strategy.pendingFinalization?.(obj) && !(meta.deletionGracePeriodSeconds > 0)) {
      const gone = await this.backend.delete(key, expectedRev);
      if (hooks?.afterDelete) await hooks.afterDelete(obj, ctx!);
      meta.resourceVersion = String(gone.modRevision);
      return obj;
    }
    const enc = this.encodeWrite(key, obj);
    const kv = await this.backend.update(key, enc.value, expectedRev);
    meta.resourceVersion = String(kv.modRevision);
    this.noteWritten(obj, enc.text, meta.resourceVersion);
    return obj;
  }

  /**
   * DELETE: graceful when the strategy gives a grace period, held while finalizers remain.
   * Returns the object (with deletionTimestamp when it stays) and whether it is gone.
   */
  async delete(ref: ObjectRef, opts: DeleteOptions = {}): Promise<{ object: KObject; deleted: boolean }> {
    const key = this.key(ref);
    for (let attempt = 0; ; attempt++) {
      const r = await this.backend.get(key).catch((e) => this.translate(e, ref.name));
      if (!r.kv) throw errors.notFound(this.gr, ref.name);
      const obj = this.decode(r.kv);
      const meta = obj.metadata;
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== meta.uid) {
        throw errors.conflict(this.gr, ref.name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${meta.uid}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== meta.resourceVersion) {
        throw errors.conflict(
          this.gr,
          ref.name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${meta.resourceVersion}`,
        );
      }
      if (this.ext.admit) await this.ext.admit({ operation: 'DELETE', object: obj, oldObject: obj, store: this, user: opts.user, subresource: '', dryRun: !!opts.dryRun, hooks: opts.hooks, phase: 'validate' });
      const grace = this.strategy.deleteGracePeriod ? this.strategy.deleteGracePeriod(obj, opts.gracePeriodSeconds) : 0;
      const next = structuredClone(obj);
      const nm = next.metadata;
      // Foreground and orphan propagation are finalizers the garbage collector acts on (upstream's
      // deletionFinalizersForGarbageCollection); switching policy swaps them.
      const policy = opts.propagationPolicy;
      if (policy === 'Foreground' || policy === 'Orphan') {
        const add = policy === 'Foreground' ? 'foregroundDeletion' : 'orphan';
        const drop = policy === 'Foreground' ? 'orphan' : 'foregroundDeletion';
        const fins: string[] = (nm.finalizers ?? []).filter((f: string) => f !== drop);
        if (!fins.includes(add)) fins.push(add);
        nm.finalizers = fins;
      }
      const pending = this.strategy.pendingFinalization?.(next) ?? false;
      const hold = (nm.finalizers?.length ?? 0) > 0 || pending;
      if (hold || grace > 0) {
        // Graceful: mark, and leave the rest to whoever owns the finalizers or the grace period.
        const already = !!meta.deletionTimestamp;
        if (already && !(grace < (meta.deletionGracePeriodSeconds ?? Infinity)) && deepEqual(next, obj)) {
          return { object: obj, deleted: false };
        }
        if (!already || grace < (meta.deletionGracePeriodSeconds ?? 0)) {
          nm.deletionTimestamp = nowRFC3339(new Date(Date.now() + grace * 1000));
          nm.deletionGracePeriodSeconds = grace;
        }
        if (!hold && grace === 0) {
          // grace shortened to zero with nothing holding: fall through to a real delete
        } else {
          if (opts.dryRun) return { object: next, deleted: false };
          try {
            const kv = await this.backend.update(key, this.encode(next), r.kv.modRevision);
            nm.resourceVersion = String(kv.modRevision);
            return { object: next, deleted: false };
          } catch (e) {
            if (e instanceof ConflictError && attempt < 20) continue;
            this.translate(e, ref.name);
          }
        }
      }
      if (opts.dryRun) return { object: obj, deleted: true };
      try {
        const gone = await this.backend.delete(key, r.kv.modRevision);
        meta.resourceVersion = String(gone.modRevision);
      } catch (e) {
        if (e instanceof ConflictError && attempt < 20) continue;
        this.translate(e, ref.name);
      }
      await this.strategy.hooks?.afterDelete?.(obj, this.hookContext(false));
      return { object: obj, deleted: true };
    }
  }

  /** DELETE on a collection: delete each matching object. */
  async deleteCollection(namespace: string, list: ListOptions, opts: DeleteOptions): Promise<KObject[]> {
    const { items } = await this.list(namespace, { predicate: list.predicate });
    const out: KObject[] = [];
    for (const it of items) {
      try {
        out.push((await this.delete({ namespace: it.metadata.namespace ?? '', name: it.metadata.name }, opts)).object);
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 404)) throw e;
      }
    }
    return out;
  }

  /** Count of objects (for quotas and metrics). */
  async count(namespace: string): Promise<number> {
    return this.backend.count(this.prefix(namespace));
  }

  /**
   * Watch: events after a resourceVersion, or synthetic ADDED events for the current state first
   * (resourceVersion unset or "0", or sendInitialEvents). Objects that stop matching the predicate
   * are sent as DELETED, and ones that start matching as ADDED, as upstream does.
   */
  async watch(namespace: string, opts: WatchOptions, send: (ev: ApiWatchEvent) => void, done: (err?: StatusError) => void): Promise<ApiWatch> {
    const p = opts.predicate;
    const prefix = this.prefix(namespace);
    const rv = parseRV(opts.resourceVersion);
    let after: number;
    const initial = opts.sendInitialEvents ?? (rv === undefined || rv === 0);
    if (initial) {
      const l = await this.list(namespace, { predicate: p, resourceVersion: opts.resourceVersion && rv ? opts.resourceVersion : undefined });
      for (const o of l.items) send({ type: 'ADDED', object: o });
      after = Number(l.resourceVersion);
      if (opts.sendInitialEvents && opts.allowWatchBookmarks) {
        send({
          type: 'BOOKMARK',
          object: {
            kind: this.strategy.info.kind,
            apiVersion: this.apiVersion,
            metadata: { resourceVersion: l.resourceVersion, annotations: { 'k8s.io/initial-events-end': 'true' } },
          },
        });
      }
    } else {
      after = rv!;
      await this.waitForRevision(after);
      const compacted = await this.backend.compactedRevision();
      if (after < compacted) {
        throw errors.resourceExpired(`too old resource version: ${after} (${compacted})`);
      }
    }
    let lastRV = after;
    // Without selectors every object matches (a name is matched by key).
    const anyObject = p?.label === undefined && p?.field === undefined;
    // Counted while open, so writes keep their text for watchers only when there are some.
    this.watches++;
    let open = true;
    const ended = () => {
      if (open) {
        open = false;
        this.watches--;
      }
    };
    const w = this.backend.watch(
      prefix,
      { afterRevision: after, progressNotify: !!opts.allowWatchBookmarks },
      {
        onEvents: (evs: WatchEvent[]) => {
          for (const ev of evs) {
            if (p?.name !== undefined && !ev.kv.key.endsWith(`/${p.name}`)) continue;
            lastRV = ev.kv.modRevision;
            // A value this store wrote need not be decoded for a watch that matches every object.
            const known = anyObject && ev.type !== 'delete' ? this.sharedText(ev.kv) : undefined;
            if (known !== undefined) {
              const kv = ev.kv;
              send(new LazyWatchEvent(ev.prevKv && !ev.isCreate ? 'MODIFIED' : 'ADDED', known, () => this.decodeShared(kv)));
              continue;
            }
            const cur = this.decodeShared(ev.kv);
            if (ev.type === 'delete') {
              if (this.matches(cur, p)) send({ type: 'DELETED', object: cur });
              continue;
            }
            const nowMatch = this.matches(cur, p);
            const existed = !!ev.prevKv && !ev.isCreate;
            const prevMatch = existed && (anyObject || this.matches(this.decodeShared(ev.prevKv!), p));
            if (nowMatch && prevMatch) send({ type: 'MODIFIED', object: cur });
            else if (nowMatch) send({ type: 'ADDED', object: cur });
            else if (prevMatch) {
              const gone = structuredClone(cur);
              send({ type: 'DELETED', object: gone });
            }
          }
        },
        onProgress: (rev: number) => {
          if (!opts.allowWatchBookmarks || rev <= lastRV) return;
          lastRV = rev;
          send({ type: 'BOOKMARK', object: { kind: this.strategy.info.kind, apiVersion: this.apiVersion, metadata: { resourceVersion: String(rev) } } });
        },
        onClose: (err?: Error) => {
          ended();
          if (err instanceof CompactedError) done(errors.resourceExpired(`too old resource version: ${err.requested} (${err.compacted})`));
          else if (err) done(errors.resourceExpired(`watch closed: ${err.message}`));
          else done();
        },
      },
    );
    return {
      cancel: () => {
        ended();
        w.cancel();
      },
    };
  }
}
