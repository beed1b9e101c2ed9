/**
 * The namespace controller: when a namespace is being deleted, delete everything in it, then
 * clear its `kubernetes` finalizer through namespaces/finalize so the API server removes it.
 * Level-triggered: a watch enqueues names, and `sync(name)` reads the current state.
 */
import { StatusError } from '../../api/errors.js';
import { logger } from '../../base/log.js';
import type { KObject, ResourceRef, RestClient, WatchHandle } from '../../client/rest-client.js';

const log = logger('namespace-controller');
const namespaces: ResourceRef = { group: '', version: 'v1', resource: 'namespaces', namespaced: false };
const finalizerName = 'kubernetes';

export class NamespaceController {
  private readonly queue = new Set<string>();
  private running = false;
  private stopped = false;
  private watch?: WatchHandle;
  private timer?: NodeJS.Timeout;
  private resources?: { ref: ResourceRef; canDeleteCollection: boolean }[];

  constructor(private readonly client: RestClient) {}

  start(): void {
    void this.watchLoop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.abort();
    if (this.timer) clearTimeout(this.timer);
  }

  private async watchLoop(): Promise<void> {
    let rv: string | undefined;
    while (!this.stopped) {
      try {
        if (!rv) {
          const list = await this.client.list(namespaces, undefined);
          for (const ns of list.items ?? []) this.enqueueIfDeleting(ns);
          rv = list.metadata?.resourceVersion;
        }
        this.watch = this.client.watch(namespaces, undefined, { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 300 }, (ev) => {
          if (ev.type === 'ERROR') {
            rv = undefined;
            return;
          }
          if (ev.object?.metadata?.resourceVersion) rv = ev.object.metadata.resourceVersion;
          if (ev.type !== 'BOOKMARK' && ev.type !== 'DELETED') this.enqueueIfDeleting(ev.object);
        });
        await this.watch.done;
      } catch (e) {
        if (this.stopped) return;
        rv = undefined;
        log.warn('namespace watch failed; relisting', { err: e as Error });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private enqueueIfDeleting(ns: KObject): void {
    if (ns?.metadata?.deletionTimestamp) this.enqueue(ns.metadata.name);
  }

  private enqueue(name: string, delayMs = 0): void {
    if (delayMs > 0) {
      setTimeout(() => this.enqueue(name), delayMs).unref();
      return;
    }
    this.queue.add(name);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.size && !this.stopped) {
      const name = this.queue.values().next().value as string;
      this.queue.delete(name);
      try {
        const done = await this.sync(name);
        if (!done) this.enqueue(name, 1000);
      } catch (e) {
        log.warn('namespace sync failed', { namespace: name, err: e as Error });
        this.enqueue(name, 2000);
      }
    }
    this.running = false;
  }

  /** Namespaced resources that can be listed, from discovery. */
  private async namespacedResources(): Promise<{ ref: ResourceRef; canDeleteCollection: boolean }[]> {
    if (this.resources) return this.resources;
    const out: { ref: ResourceRef; canDeleteCollection: boolean }[] = [];
    const gvs: { group: string; version: string; path: string }[] = [{ group: '', version: 'v1', path: '/api/v1' }];
    const groups = await this.client.request<KObject>('GET', '/apis');
    for (const g of groups.groups ?? []) {
      const v = g.preferredVersion?.version ?? g.versions?.[0]?.version;
      if (v) gvs.push({ group: g.name, version: v, path: `/apis/${g.name}/${v}` });
    }
    for (const gv of gvs) {
      const list = await this.client.request<KObject>('GET', gv.path);
      for (const r of list.resources ?? []) {
        if (!r.namespaced || r.name.includes('/') || !r.verbs?.includes('list')) continue;
        out.push({ ref: { group: gv.group, version: gv.version, resource: r.name, namespaced: true }, canDeleteCollection: r.verbs.includes('deletecollection') });
      }
    }
    return (this.resources = out);
  }

  /** Returns true when the namespace needs no more work. */
  async sync(name: string): Promise<boolean> {
    let ns: KObject;
    try {
      ns = await this.client.get(namespaces, '', name);
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) return true;
      throw e;
    }
    if (!ns.metadata?.deletionTimestamp) return true;
    const finalizers: string[] = ns.spec?.finalizers ?? [];
    if (!finalizers.includes(finalizerName)) return true;
    let remaining = 0;
    for (const { ref, canDeleteCollection } of await this.namespacedResources()) {
      const list = await this.client.list(ref, name);
      const items: KObject[] = list.items ?? [];
      if (!items.length) continue;
      remaining += items.length;
      if (canDeleteCollection) {
        await this.client.request('DELETE', this.client.path(ref, name), { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' });
      } else {
        for (const it of items) await this.client.delete(ref, name, it.metadata.name).catch(() => undefined);
      }
    }
    if (remaining > 0) return false;
    await this.client.request('PUT', `/api/v1/namespaces/${encodeURIComponent(name)}/finalize`, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, resourceVersion: ns.metadata.resourceVersion },
      spec: { finalizers: finalizers.filter((f) => f !== finalizerName) },
    });
    log.info('namespace finalized', { namespace: name });
    return true;
  }
}
