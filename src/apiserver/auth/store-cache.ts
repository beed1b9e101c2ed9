/**
 * An in-process cache of one resource, fed by the API server's own store watch: what upstream's
 * authorizers get from informers on a loopback client. RBAC, the node authorizer and service
 * account token checks read it on every request instead of going to storage.
 */
import { logger } from '../../base/log.js';
import type { ApiWatch, ApiWatchEvent, Store } from '../registry/generic/store.js';
import type { KObject } from '../registry/generic/strategy.js';

const log = logger('store-cache');

export type CacheEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KObject; old?: KObject };

export class StoreCache {
  private readonly items = new Map<string, KObject>();
  private readonly listeners: ((ev: CacheEvent) => void)[] = [];
  private watch?: ApiWatch;
  private stopped = false;
  private markSynced!: () => void;
  /** Resolves once the initial state is in. */
  readonly synced = new Promise<void>((r) => (this.markSynced = r));

  /**
   * `project` keeps a reduced copy of each object instead of the object (a consumer that needs a
   * few fields of many large objects, such as the node authorizer of every pod).
   */
  constructor(
    readonly store: Store,
    private readonly project?: (obj: KObject) => KObject,
  ) {}

  static key(namespace: string | undefined, name: string): string {
    return namespace ? `${namespace}/${name}` : name;
  }

  /** Called for every change after it is applied to the cache (and for the initial objects). */
  onEvent(fn: (ev: CacheEvent) => void): void {
    this.listeners.push(fn);
  }

  get(namespace: string | undefined, name: string): KObject | undefined {
    return this.items.get(StoreCache.key(namespace, name));
  }

  list(): IterableIterator<KObject> {
    return this.items.values();
  }

  get size(): number {
    return this.items.size;
  }

  start(): this {
    void this.run();
    return this;
  }

  stop(): void {
    this.stopped = true;
    this.watch?.cancel();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const fresh = new Map<string, KObject>();
        let initialDone = false;
        const closed = new Promise<void>((resolve) => {
          void this.store
            .watch('', { sendInitialEvents: true, allowWatchBookmarks: true }, (ev) => {
              if (!initialDone) {
                if (ev.type === 'BOOKMARK' && ev.object.metadata?.annotations?.['k8s.io/initial-events-end']) {
                  initialDone = true;
                  this.replace(fresh);
                  this.markSynced();
                } else if (ev.type === 'ADDED') fresh.set(StoreCache.key(ev.object.metadata?.namespace, ev.object.metadata?.name), this.keep(ev.object));
                return;
              }
              this.apply(ev);
            }, () => resolve())
            .then((w) => {
              this.watch = w;
              if (this.stopped) w.cancel();
            }, (e) => {
              log.warn('watch failed', { resource: this.store.gr.resource, err: String(e) });
              resolve();
            });
        });
        await closed;
      } catch (e) {
        log.warn('watch failed', { resource: this.store.gr.resource, err: String(e) });
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** A re-list: emit the differences against what was cached. */
  private replace(fresh: Map<string, KObject>): void {
    for (const [k, old] of [...this.items]) {
      if (!fresh.has(k)) {
        this.items.delete(k);
        this.emit({ type: 'DELETED', object: old });
      }
    }
    for (const [k, obj] of fresh) {
      const old = this.items.get(k);
      this.items.set(k, obj);
      this.emit({ type: old ? 'MODIFIED' : 'ADDED', object: obj, old });
    }
  }

  private keep(obj: KObject): KObject {
    return this.project ? this.project(obj) : obj;
  }

  private apply(ev: ApiWatchEvent): void {
    if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED' && ev.type !== 'DELETED') return;
    const k = StoreCache.key(ev.object.metadata?.namespace, ev.object.metadata?.name);
    const old = this.items.get(k);
    const obj = this.keep(ev.object);
    if (ev.type === 'DELETED') this.items.delete(k);
    else this.items.set(k, obj);
    this.emit({ type: ev.type, object: obj, old });
  }

  private emit(ev: CacheEvent): void {
    for (const fn of this.listeners) {
      try {
        fn(ev);
      } catch (e) {
        log.error('cache listener failed', { resource: this.store.gr.resource, err: e instanceof Error ? e.stack : String(e) });
      }
    }
  }
}

/** One started cache per resource, made on first use and shared by everything that reads it. */
export class StoreCaches {
  private readonly caches = new Map<string, StoreCache>();
  private stopped = false;

  /** `lookup` is called on first use of a resource, once the API server's stores exist. */
  constructor(private readonly lookup: (group: string, resource: string) => Store | undefined) {}

  get(group: string, resource: string): StoreCache | undefined {
    const k = `${group}/${resource}`;
    let c = this.caches.get(k);
    if (!c && !this.stopped) {
      const store = this.lookup(group, resource);
      if (!store) return undefined;
      c = new StoreCache(store).start();
      this.caches.set(k, c);
    }
    return c;
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.caches.values()) c.stop();
  }
}
