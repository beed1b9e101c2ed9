/**
 * A {@link Backend} wrapper that encrypts the values of configured resources on write and decrypts
 * them on every read path (get, list, watch kv/prevKv, delete results, conflict errors). Keys of
 * other resources pass through untouched.
 */
import {
  type Backend,
  ConflictError,
  type GetResult,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Watch,
  type WatchEvent,
  type WatchHandler,
  type WatchOptions,
} from '../interface.js';
import type { EncryptionConfig, ResourceSelector } from './config.js';
import { resourceTransformer, type ValueTransformer } from './transformers.js';

/** Options of {@link encryptingBackend}. */
export interface EncryptingBackendOptions {
  /** The key prefix under which resources are stored, like the generic Store's. Default `/registry`. */
  prefix?: string;
  /**
   * API groups without a dot in their name, besides the built-in ones (apps, batch, autoscaling,
   * policy, extensions, k8ts). A key `/registry/<x>/...` is of group x when x has a dot or is one of these.
   */
  groups?: string[];
}

const dotlessGroups = ['apps', 'batch', 'autoscaling', 'policy', 'extensions', 'k8ts'];

/** Maps storage keys to the transformer of their resource (undefined: not encrypted). */
export interface KeyTransformerLookup {
  (key: string): ValueTransformer | undefined;
}

/**
 * Which transformer applies to a storage key. Keys look like `<prefix>/<resource>/...` (core) or
 * `<prefix>/<group>/<resource>/...`; the first resources entry with a matching selector wins.
 */
export function transformerLookup(config: EncryptionConfig, opts: EncryptingBackendOptions = {}): KeyTransformerLookup {
  const root = `${opts.prefix ?? '/registry'}/`;
  const groups = new Set([...dotlessGroups, ...(opts.groups ?? [])]);
  for (const e of config.resources) for (const s of e.resources) if (s.group && s.group !== '*') groups.add(s.group);
  const entries = config.resources.map((e) => ({ selectors: e.resources, t: resourceTransformer(e) }));
  const matches = (s: ResourceSelector, group: string, resource: string) =>
    s.group === '*' || (s.group === group && (s.resource === '*' || s.resource === resource));
  // Keyed by group/resource: bounded by the number of resources.
  const cache = new Map<string, ValueTransformer | undefined>();
  return (key) => {
    if (!key.startsWith(root)) return undefined;
    const a = key.indexOf('/', root.length);
    if (a < 0) return undefined;
    const b = key.indexOf('/', a + 1);
    const first = key.slice(root.length, a);
    const isGroup = b >= 0 && (first.includes('.') || groups.has(first));
    const group = isGroup ? first : '';
    const resource = isGroup ? key.slice(a + 1, b) : first;
    const id = `${group}/${resource}`;
    if (cache.has(id)) return cache.get(id);
    const t = entries.find((e) => e.selectors.some((s) => matches(s, group, resource)))?.t;
    if (cache.size < 10_000) cache.set(id, t);
    return t;
  };
}

/**
 * Wrap `inner` so the resources named in `config` are stored encrypted. Every Backend method keeps its
 * contract; a value that cannot be decrypted fails the read with an {@link EncryptionError} (a watch
 * closes with it).
 */
export function encryptingBackend(inner: Backend, config: EncryptionConfig, opts: EncryptingBackendOptions = {}): Backend {
  return new EncryptingBackend(inner, transformerLookup(config, opts));
}

class EncryptingBackend implements Backend {
  constructor(
    private readonly inner: Backend,
    private readonly lookup: KeyTransformerLookup,
  ) {}

  private dec(kv: KeyValue): KeyValue {
    const t = this.lookup(kv.key);
    return t ? { ...kv, value: t.fromStorage(kv.key, kv.value) } : kv;
  }
  private enc(key: string, value: string): string {
    const t = this.lookup(key);
    return t ? t.toStorage(key, value) : value;
  }
  /** Conflicts carry the current value, which must be readable too. */
  private rethrow(err: unknown): never {
    if (err instanceof ConflictError) throw new ConflictError(err.key, this.dec(err.current));
    throw err;
  }

  currentRevision(): Promise<number> {
    return this.inner.currentRevision();
  }
  async get(key: string, opts?: { revision?: number }): Promise<GetResult> {
    const r = await this.inner.get(key, opts);
    return r.kv ? { ...r, kv: this.dec(r.kv) } : r;
  }
  async list(prefix: string, opts?: ListOptions): Promise<ListResult> {
    const r = await this.inner.list(prefix, opts);
    return { ...r, kvs: r.kvs.map((kv) => this.dec(kv)) };
  }
  count(prefix: string): Promise<number> {
    return this.inner.count(prefix);
  }
  async create(key: string, value: string): Promise<KeyValue> {
    const kv = await this.inner.create(key, this.enc(key, value));
    return { ...kv, value };
  }
  async update(key: string, value: string, expectedModRevision: number): Promise<KeyValue> {
    try {
      const kv = await this.inner.update(key, this.enc(key, value), expectedModRevision);
      return { ...kv, value };
    } catch (err) {
      this.rethrow(err);
    }
  }
  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    try {
      return this.dec(await this.inner.delete(key, expectedModRevision));
    } catch (err) {
      this.rethrow(err);
    }
  }
  watch(prefix: string, opts: WatchOptions, handler: WatchHandler): Watch {
    let closed = false;
    let inner: Watch | undefined;
    const fail = (err: Error) => {
      if (closed) return;
      closed = true;
      inner?.cancel();
      handler.onClose(err);
    };
    inner = this.inner.watch(prefix, opts, {
      onEvents: (events) => {
        if (closed) return;
        let out: WatchEvent[];
        try {
          out = events.map((e) => this.decEvent(e));
        } catch (err) {
          fail(err as Error);
          return;
        }
        return handler.onEvents(out);
      },
      onProgress: handler.onProgress ? (rev) => !closed && handler.onProgress!(rev) : undefined,
      onClose: (err) => {
        if (closed) return;
        closed = true;
        handler.onClose(err);
      },
    });
    // A decryption failure during the synchronous part of watch() could not cancel yet.
    if (closed) inner.cancel();
    return {
      cancel: () => inner!.cancel(),
    };
  }
  private decEvent(e: WatchEvent): WatchEvent {
    if (!this.lookup(e.kv.key)) return e;
    const out: WatchEvent = { ...e, kv: this.dec(e.kv) };
    if (e.prevKv) out.prevKv = this.dec(e.prevKv);
    return out;
  }
  compact(revision: number): Promise<void> {
    return this.inner.compact(revision);
  }
  compactedRevision(): Promise<number> {
    return this.inner.compactedRevision();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
