/**
 * Shared informers (client-go's tools/cache): one list-then-watch per resource feeding a local
 * indexed cache and any number of event handlers.
 *
 * The reflector lists, then watches from the list's resourceVersion with bookmarks on and a
 * randomised 5–10 minute timeout. A watch that ends is resumed from the last resourceVersion seen;
 * an unreachable server is retried with backoff; 410 Gone (an ERROR event or the response) makes
 * it list again, turning objects that vanished meanwhile into {@link DeletedFinalStateUnknown}
 * tombstones. Handlers run synchronously after the cache has been updated, in event order.
 */
import { abortableSleep } from '../base/sleep.js';
import { StatusError } from '../api/errors.js';
import { logger } from '../base/log.js';
import {
  DeletedFinalStateUnknown,
  Indexer,
  Lister,
  NAMESPACE_INDEX,
  namespaceIndexFunc,
  type IndexFunc,
} from './cache.js';
import { queryString, type KObject, type ListOpts, type ResourceRef, type RestClient, type WatchEvent, type WatchHandle } from './rest-client.js';
import { resourceKey } from './resources.js';

export * from './cache.js';

const log = logger('informer');

/** Watch options the reflector passes. */
export type WatchOpts = ListOpts & { allowWatchBookmarks?: boolean; timeoutSeconds?: number };

/** Where an informer gets its data: a list call and a watch call over one (filtered) collection. */
export interface ListerWatcher {
  /** One list page: `{ items, metadata: { resourceVersion, continue } }`. */
  list(opts: ListOpts, signal?: AbortSignal): Promise<KObject>;
  /** A watch stream; `done` resolves when the stream ends and rejects when it cannot be opened. */
  watch(opts: WatchOpts, onEvent: (ev: WatchEvent) => void): WatchHandle;
}

/** What a {@link ListerWatcher} made from a client covers. */
export interface ListWatchScope {
  /** Only this namespace (namespaced resources); default all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** A {@link ListerWatcher} over the API server's REST endpoints. */
export function listWatchFromClient(client: RestClient, ref: ResourceRef, scope: ListWatchScope = {}): ListerWatcher {
  const ns = ref.namespaced ? scope.namespace || undefined : undefined;
  const withScope = <O extends ListOpts>(o: O): O => ({ ...o, labelSelector: scope.labelSelector, fieldSelector: scope.fieldSelector });
  return {
    list: (opts, signal) => client.send('GET', client.path(ref, ns) + queryString({ ...withScope(opts) }), undefined, { signal }),
    watch: (opts, onEvent) => client.watch(ref, ns, withScope(opts), onEvent),
  };
}

/** Callbacks for cache changes. `onUpdate` also fires on resync (with old === new) and for every surviving object on a relist. */
export interface ResourceEventHandler<T = KObject> {
  /** `isInInitialList`: the object came from the first list, or was replayed to a handler added late. */
  onAdd?(obj: T, isInInitialList: boolean): void;
  onUpdate?(oldObj: T, newObj: T): void;
  /** A tombstone when the deletion itself was missed and found on a relist. */
  onDelete?(obj: T | DeletedFinalStateUnknown<T>): void;
}

/** Returned by {@link SharedInformer.addEventHandler}. */
export interface HandlerRegistration {
  /** Stop calling this handler (and its resync timer). */
  remove(): void;
  /** True once the handler has been given the informer's initial list. */
  hasSynced(): boolean;
}

export interface SharedInformerOptions<T = KObject> extends ListWatchScope {
  /** Default resync period for handlers, ms; 0 (default) means never. */
  resyncPeriodMs?: number;
  /** Extra indexes; the namespace index is always present. */
  indexers?: Record<string, IndexFunc<T>>;
  /** List page size (limit); 0 lists in one request. Default 500. */
  pageSize?: number;
  /** Watch timeout is this × (1 + random), in seconds, as in client-go. Default 300 (so 300–600 s). */
  minWatchTimeoutSeconds?: number;
  /** Backoff after a failure: starts here and doubles (with jitter) up to {@link backoffMaxMs}. Default 800 ms. */
  backoffInitialMs?: number;
  /** Default 30 s. */
  backoffMaxMs?: number;
  /** For log lines. */
  name?: string;
}

type Outcome = { kind: 'ended'; events: number } | { kind: 'expired'; err: unknown } | { kind: 'retry'; err: unknown } | { kind: 'error'; err: unknown };

/** True for 410 Gone / Expired, whether from a response or a watch ERROR event. */
export function isResourceExpired(err: unknown): boolean {
  return err instanceof StatusError && (err.code === 410 || err.reason === 'Expired' || err.reason === 'Gone');
}

const transientCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);
/** A failure to reach the server (or 429): worth retrying the watch from the same resourceVersion. */
function isTransient(err: unknown): boolean {
  if (err instanceof StatusError) return err.code === 429;
  const code = (err as { code?: string })?.code;
  return (code !== undefined && transientCodes.has(code)) || (err as Error)?.name === 'TimeoutError';
}


interface Registration<T> {
  handler: ResourceEventHandler<T>;
  removed: boolean;
  synced: boolean;
  timer?: NodeJS.Timeout;
  resyncMs: number;
}

/**
 * One list/watch, one cache, many handlers. Start it with {@link start}, stop it with {@link stop}.
 */
export class SharedInformer<T = KObject> {
  readonly indexer: Indexer<T>;
  readonly lister: Lister<T>;
  readonly name: string;
  private readonly lw: ListerWatcher;
  private readonly regs = new Set<Registration<T>>();
  private readonly resyncMs: number;
  private readonly pageSize: number;
  private readonly minWatchTimeout: number;
  private readonly backoffInitial: number;
  private readonly backoffMax: number;
  private lastRV = '';
  private synced = false;
  private started = false;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private currentWatch?: WatchHandle;
  private syncWaiters: (() => void)[] = [];
  /** Test hook: the resourceVersion the next watch starts from, instead of the last one seen. */
  nextWatchResourceVersion?: string;
  /** Counters, for tests and debugging. */
  readonly stats = { lists: 0, watches: 0, expired: 0, errors: 0 };

  /**
   * @param source a client and resource, or any {@link ListerWatcher} (tests).
   */
  constructor(source: { client: RestClient; ref: ResourceRef } | ListerWatcher, opts: SharedInformerOptions<T> = {}) {
    if ('client' in source) {
      this.lw = listWatchFromClient(source.client, source.ref, opts);
      this.name = opts.name ?? resourceKey(source.ref) + (opts.namespace ? ` ns=${opts.namespace}` : '');
    } else {
      this.lw = source;
      this.name = opts.name ?? 'informer';
    }
    this.indexer = new Indexer<T>({ [NAMESPACE_INDEX]: namespaceIndexFunc as IndexFunc<T>, ...opts.indexers });
    this.lister = new Lister<T>(this.indexer);
    this.resyncMs = opts.resyncPeriodMs ?? 0;
    this.pageSize = opts.pageSize ?? 500;
    this.minWatchTimeout = opts.minWatchTimeoutSeconds ?? 300;
    this.backoffInitial = opts.backoffInitialMs ?? 800;
    this.backoffMax = opts.backoffMaxMs ?? 30_000;
  }

  /** Add indexes (allowed at any time; existing objects are indexed at once). */
  addIndexers(indexers: Record<string, IndexFunc<T>>): void {
    this.indexer.addIndexers(indexers);
  }

  /**
   * Register callbacks. On a running informer, the objects already cached are replayed to the new
   * handler as adds. `resyncPeriodMs` overrides the informer's default for this handler.
   */
  addEventHandler(handler: ResourceEventHandler<T>, opts: { resyncPeriodMs?: number } = {}): HandlerRegistration {
    const reg: Registration<T> = { handler, removed: false, synced: false, resyncMs: opts.resyncPeriodMs ?? this.resyncMs };
    this.regs.add(reg);
    if (this.synced) {
      for (const obj of this.indexer.list()) this.call(reg, 'onAdd', obj, true);
      reg.synced = true;
    }
    if (this.started) this.startResync(reg);
    return {
      remove: () => {
        reg.removed = true;
        if (reg.timer) clearInterval(reg.timer);
        this.regs.delete(reg);
      },
      hasSynced: () => reg.synced,
    };
  }

  /** Begin list and watch in the background. Idempotent; an informer cannot be restarted after stop. */
  start(): void {
    if (this.started || this.abort.signal.aborted) return;
    this.started = true;
    for (const reg of this.regs) this.startResync(reg);
    this.loop = this.run();
  }

  /** Stop watching and the resync timers; resolves once the background loop has exited. */
  async stop(): Promise<void> {
    if (!this.abort.signal.aborted) this.abort.abort();
    this.currentWatch?.abort();
    for (const reg of this.regs) if (reg.timer) clearInterval(reg.timer);
    for (const w of this.syncWaiters.splice(0)) w();
    await this.loop;
  }

  /** True once the first list has been stored and delivered to the handlers. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves true once synced, or false on timeout or stop. */
  waitForSync(opts: { timeoutMs?: number } = {}): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.abort.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const w = () => {
        if (timer) clearTimeout(timer);
        resolve(this.synced);
      };
      this.syncWaiters.push(w);
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.syncWaiters = this.syncWaiters.filter((x) => x !== w);
          resolve(this.synced);
        }, opts.timeoutMs);
      }
    });
  }

  /** The resourceVersion of the last list, watch event or bookmark. */
  lastSyncResourceVersion(): string {
    return this.lastRV;
  }

  isStopped(): boolean {
    return this.abort.signal.aborted;
  }

  // ---- reflector ----

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let backoff = this.backoffInitial;
    while (!signal.aborted) {
      let relistAtOnce = false;
      try {
        await this.listAndReplace(signal);
        backoff = this.backoffInitial;
        relistAtOnce = await this.watchLoop(signal);
      } catch (e) {
        if (signal.aborted) break;
        this.stats.errors++;
        log.warn('list failed', { informer: this.name, err: errText(e) });
      }
      if (signal.aborted) break;
      if (!relistAtOnce) {
        await abortableSleep(jitter(backoff), signal);
        backoff = Math.min(backoff * 2, this.backoffMax);
      }
    }
  }

  /**
   * Watch repeatedly from the last resourceVersion. Returns when a relist is needed: true to relist
   * at once (410 Gone), false to relist after a backoff (any other error).
   */
  private async watchLoop(signal: AbortSignal): Promise<boolean> {
    let backoff = this.backoffInitial;
    while (!signal.aborted) {
      const started = performance.now();
      const out = await this.watchOnce();
      if (signal.aborted) return false;
      switch (out.kind) {
        case 'ended':
          // A watch closed straight away with nothing in it: don't spin.
          if (out.events === 0 && performance.now() - started < 1000) {
            await abortableSleep(jitter(backoff), signal);
            backoff = Math.min(backoff * 2, this.backoffMax);
          } else backoff = this.backoffInitial;
          continue;
        case 'retry':
          log.info('watch could not reach the server; retrying', { informer: this.name, err: errText(out.err) });
          await abortableSleep(jitter(backoff), signal);
          backoff = Math.min(backoff * 2, this.backoffMax);
          continue;
        case 'expired':
          this.stats.expired++;
          log.info('watch expired (410); relisting', { informer: this.name, rv: this.lastRV, err: errText(out.err) });
          this.lastRV = '';
          return true;
        case 'error':
          this.stats.errors++;
          log.warn('watch failed; relisting', { informer: this.name, err: errText(out.err) });
          return false;
      }
    }
    return false;
  }

  private watchOnce(): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let outcome: Outcome | undefined;
      let events = 0;
      const rv = this.nextWatchResourceVersion ?? this.lastRV;
      this.nextWatchResourceVersion = undefined;
      this.stats.watches++;
      const timeoutSeconds = Math.floor(this.minWatchTimeout * (1 + Math.random()));
      let handle: WatchHandle;
      try {
        handle = this.lw.watch({ resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds }, (ev) => {
          if (outcome || this.abort.signal.aborted) return;
          events++;
          try {
            const o = this.onWatchEvent(ev);
            if (o) {
              outcome = o;
              handle?.abort();
            }
          } catch (e) {
            outcome = { kind: 'error', err: e };
            handle?.abort();
          }
        });
      } catch (e) {
        resolve({ kind: isTransient(e) ? 'retry' : 'error', err: e });
        return;
      }
      this.currentWatch = handle;
      if (outcome || this.abort.signal.aborted) handle.abort();
      handle.done.then(
        () => resolve(outcome ?? { kind: 'ended', events }),
        (e) => resolve(outcome ?? (isResourceExpired(e) ? { kind: 'expired', err: e } : isTransient(e) ? { kind: 'retry', err: e } : { kind: 'error', err: e })),
      );
    }).finally(() => {
      this.currentWatch = undefined;
    });
  }

  /** Apply one watch event; returns an outcome when the watch must end. */
  private onWatchEvent(ev: WatchEvent): Outcome | undefined {
    const obj = ev.object as T & KObject;
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const old = this.indexer.add(obj);
        this.setRV(obj);
        if (old === undefined) this.dispatch('onAdd', obj, false);
        else this.dispatch('onUpdate', old, obj);
        return undefined;
      }
      case 'DELETED': {
        const old = this.indexer.delete(obj);
        this.setRV(obj);
        // Handlers see the final state the server sent.
        if (old !== undefined) this.dispatch('onDelete', obj);
        return undefined;
      }
      case 'BOOKMARK':
        this.setRV(obj);
        return undefined;
      case 'ERROR': {
        const err = new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 500, ...(ev.object as object) } as never);
        return isResourceExpired(err) ? { kind: 'expired', err } : { kind: 'error', err };
      }
      default:
        return { kind: 'error', err: new Error(`unknown watch event type ${JSON.stringify((ev as WatchEvent).type)}`) };
    }
  }

  private setRV(obj: KObject): void {
    const rv = obj?.metadata?.resourceVersion;
    if (rv) this.lastRV = String(rv);
  }

  private async listAndReplace(signal: AbortSignal): Promise<void> {
    this.stats.lists++;
    const { items, resourceVersion } = await this.listAll(signal);
    if (signal.aborted) return;
    this.replace(items, resourceVersion);
  }

  /** Every page of a consistent list; falls back to one unpaginated list if a continue token expires. */
  private async listAll(signal: AbortSignal): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    let limit = this.pageSize > 0 ? this.pageSize : undefined;
    for (;;) {
      let page: KObject;
      try {
        page = await this.lw.list({ limit, continue: cont }, signal);
      } catch (e) {
        if (cont && isResourceExpired(e)) {
          items.length = 0;
          cont = undefined;
          limit = undefined;
          continue;
        }
        throw e;
      }
      const kind = typeof page.kind === 'string' && page.kind.endsWith('List') ? page.kind.slice(0, -4) : undefined;
      for (const it of page.items ?? []) {
        // List items come without kind/apiVersion; watch events carry them. Make the cache uniform.
        if (kind && it && it.kind === undefined) {
          it.kind = kind;
          if (page.apiVersion && it.apiVersion === undefined) it.apiVersion = page.apiVersion;
        }
        items.push(it as T);
      }
      rv = String(page.metadata?.resourceVersion ?? rv);
      cont = page.metadata?.continue || undefined;
      if (!cont) break;
    }
    return { items, resourceVersion: rv };
  }

  /** Swap in a full list, telling handlers what changed (client-go's Replace). */
  private replace(items: T[], rv: string): void {
    const first = !this.synced;
    const fresh = new Map<string, T>();
    for (const it of items) fresh.set(this.indexer.keyFunc(it), it);
    const gone: [string, T][] = [];
    for (const key of this.indexer.listKeys()) if (!fresh.has(key)) gone.push([key, this.indexer.getByKey(key)!]);
    const before = new Map<string, T>();
    for (const key of fresh.keys()) {
      const old = this.indexer.getByKey(key);
      if (old !== undefined) before.set(key, old);
    }
    this.indexer.replace(fresh.values());
    this.lastRV = rv;
    for (const [key, obj] of gone) this.dispatch('onDelete', new DeletedFinalStateUnknown(key, obj));
    for (const [key, obj] of fresh) {
      const old = before.get(key);
      if (old === undefined) this.dispatch('onAdd', obj, first);
      else this.dispatch('onUpdate', old, obj);
    }
    if (first) {
      this.synced = true;
      for (const reg of this.regs) reg.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private startResync(reg: Registration<T>): void {
    if (reg.resyncMs <= 0 || reg.timer || this.abort.signal.aborted) return;
    reg.timer = setInterval(() => {
      if (!this.synced || reg.removed) return;
      for (const obj of this.indexer.list()) this.call(reg, 'onUpdate', obj, obj);
    }, reg.resyncMs);
  }

  private dispatch(kind: 'onAdd', obj: T, initial: boolean): void;
  private dispatch(kind: 'onUpdate', old: T, obj: T): void;
  private dispatch(kind: 'onDelete', obj: T | DeletedFinalStateUnknown<T>): void;
  private dispatch(kind: keyof ResourceEventHandler<T>, a: any, b?: any): void {
    for (const reg of [...this.regs]) if (!reg.removed) this.call(reg, kind, a, b);
  }

  private call(reg: Registration<T>, kind: keyof ResourceEventHandler<T>, a: any, b?: any): void {
    const fn = reg.handler[kind] as ((x: any, y?: any) => void) | undefined;
    if (!fn) return;
    try {
      fn.call(reg.handler, a, b);
    } catch (e) {
      log.error('event handler failed', { informer: this.name, handler: kind, err: errText(e) });
    }
  }
}

function jitter(ms: number): number {
  return ms * (1 + Math.random());
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Options for one informer from a factory. */
export interface InformerRequest<T = KObject> extends ListWatchScope {
  resyncPeriodMs?: number;
  indexers?: Record<string, IndexFunc<T>>;
}

export interface SharedInformerFactoryOptions {
  /** Default handler resync period, ms; 0 (default) means never. */
  defaultResyncMs?: number;
  /** Default namespace for every informer (default all). */
  namespace?: string;
  /** Passed to every informer (page size, watch timeout, backoff). */
  informerDefaults?: Pick<SharedInformerOptions, 'pageSize' | 'minWatchTimeoutSeconds' | 'backoffInitialMs' | 'backoffMaxMs'>;
}

/**
 * Hands out one informer per (resource, namespace, selectors), so components share watches and caches.
 */
export class SharedInformerFactory {
  private readonly informersByKey = new Map<string, SharedInformer<any>>();
  private shutDown = false;

  constructor(
    readonly client: RestClient,
    private readonly opts: SharedInformerFactoryOptions = {},
  ) {}

  /**
   * The shared informer for this resource and scope, created on first use. Indexers from later
   * callers are added to it. A factory that has been started starts new informers on {@link start}.
   */
  forResource<T = KObject>(ref: ResourceRef, req: InformerRequest<T> = {}): SharedInformer<T> {
    if (this.shutDown) throw new Error('informer factory is shut down');
    const namespace = ref.namespaced ? (req.namespace ?? this.opts.namespace ?? '') : '';
    const key = JSON.stringify([resourceKey(ref), namespace, req.labelSelector ?? '', req.fieldSelector ?? '']);
    let inf = this.informersByKey.get(key) as SharedInformer<T> | undefined;
    if (!inf) {
      inf = new SharedInformer<T>(
        { client: this.client, ref },
        {
          ...this.opts.informerDefaults,
          namespace: namespace || undefined,
          labelSelector: req.labelSelector,
          fieldSelector: req.fieldSelector,
          resyncPeriodMs: req.resyncPeriodMs ?? this.opts.defaultResyncMs ?? 0,
          indexers: req.indexers,
        },
      );
      this.informersByKey.set(key, inf);
    } else if (req.indexers) inf.addIndexers(req.indexers);
    return inf;
  }

  /** Start every informer not yet started. */
  start(): void {
    if (this.shutDown) return;
    for (const inf of this.informersByKey.values()) inf.start();
  }

  /** Wait until every informer has synced; false on timeout or stop. */
  async waitForCacheSync(opts: { timeoutMs?: number } = {}): Promise<boolean> {
    const results = await Promise.all([...this.informersByKey.values()].map((i) => i.waitForSync(opts)));
    return results.every(Boolean);
  }

  /** Every informer handed out. */
  informers(): SharedInformer<any>[] {
    return [...this.informersByKey.values()];
  }

  /** Stop every informer and refuse new ones. */
  async shutdown(): Promise<void> {
    this.shutDown = true;
    await Promise.all([...this.informersByKey.values()].map((i) => i.stop()));
  }
}
