/**
 * The garbage collector (a simplified upstream pkg/controller/garbagecollector). It watches the
 * resources whose objects carry ownerReferences and keeps an owner→dependents graph of them.
 *
 * - Background: a dependent whose owners are all gone (404, or a new object with another uid,
 *   confirmed by a live GET) is deleted; owners that are gone are removed from a dependent that
 *   still has a live owner.
 * - Foreground: an owner with deletionTimestamp and the `foregroundDeletion` finalizer has its
 *   dependents deleted; the finalizer is removed once no dependent with blockOwnerDeletion remains.
 * - Orphan: an owner with deletionTimestamp and the `orphan` finalizer has itself removed from its
 *   dependents' ownerReferences, then the finalizer is removed.
 *
 * The API server is expected to add those finalizers on DELETE with propagationPolicy
 * Foreground/Orphan. Handlers enqueue object keys; `sync(key)` decides from the caches and live reads.
 */
import { StatusError } from '../../api/errors.js';
import { logger } from '../../base/log.js';
import type { Component, ComponentContext } from '../../client/component.js';
import { objectFromTombstone, type DeletedFinalStateUnknown, type SharedInformer } from '../../client/informer.js';
import type { KObject, ResourceRef, RestClient } from '../../client/rest-client.js';
import { resourceKey, resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import type { OwnerReference } from '../common/controller-ref.js';
import { ControllerLoop } from '../common/controller-loop.js';

const log = logger('garbage-collector');

export const FOREGROUND_FINALIZER = 'foregroundDeletion';
export const ORPHAN_FINALIZER = 'orphan';

/** The resources watched by default: the ones whose objects k8ts controllers give owners, and their owners. */
export const DEFAULT_GC_RESOURCES: ResourceRef[] = [
  resources.pods,
  resources.replicasets,
  resources.deployments,
  resources.statefulsets,
  resources.daemonsets,
  resources.controllerrevisions,
  resources.jobs,
  resources.cronjobs,
  resources.endpoints,
  resources.endpointslices,
  // StatefulSet claims owned by their set or pod (persistentVolumeClaimRetentionPolicy Delete).
  resources.persistentvolumeclaims,
];

export interface GarbageCollectorOptions {
  resources?: ResourceRef[];
  /** Default 5. */
  workers?: number;
  /** How often every object with owners is rechecked (owners of unwatched kinds). Default 60 s; 0 disables. */
  resyncMs?: number;
}

interface Node {
  ref: ResourceRef;
  namespace: string;
  name: string;
  uid: string;
}

const isNotFound = (e: unknown) => e instanceof StatusError && e.code === 404;
const ownerRefs = (o: KObject | undefined): OwnerReference[] => (Array.isArray(o?.metadata?.ownerReferences) ? o!.metadata.ownerReferences : []);
const hasFinalizer = (o: KObject | undefined, f: string) => Array.isArray(o?.metadata?.finalizers) && o!.metadata.finalizers.includes(f);

/** The garbage collector, as a {@link Component}. */
export class GarbageCollector implements Component {
  readonly name = 'garbage-collector';
  readonly queue = new WorkQueue<string>({ name: 'garbage-collector' });
  /** The sync handler; a field so tests can wrap or replace it. */
  syncHandler: (key: string) => Promise<void> = (k) => this.sync(k);
  private client!: RestClient;
  private readonly refs: ResourceRef[];
  private readonly informers = new Map<string, { ref: ResourceRef; inf: SharedInformer }>();
  /** uid → the watched object with that uid. */
  private readonly byUID = new Map<string, Node>();
  /** owner uid → keys of objects that list it in ownerReferences. */
  private readonly dependents = new Map<string, Set<string>>();
  /** Discovery answers: `apiVersion/kind` → resource. */
  private readonly kinds = new Map<string, ResourceRef | null>();
  private readonly loop = new ControllerLoop(this.queue, 'item');
  private timer?: NodeJS.Timeout;
  private synced = false;
  private readonly workers: number;
  private readonly resyncMs: number;

  constructor(opts: GarbageCollectorOptions = {}) {
    this.refs = opts.resources ?? DEFAULT_GC_RESOURCES;
    this.workers = opts.workers ?? 5;
    this.resyncMs = opts.resyncMs ?? 60_000;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    for (const ref of this.refs) {
      const inf = ctx.informers.forResource(ref);
      const rk = resourceKey(ref);
      this.informers.set(rk, { ref, inf });
      this.loop.regs.push(
        inf.addEventHandler({
          onAdd: (o) => this.observe(rk, undefined, o),
          onUpdate: (old, cur) => this.observe(rk, old, cur),
          onDelete: (o) => this.forget(rk, o),
        }),
      );
    }
    ctx.informers.start();
    this.loop.run(
      async () => {
        await Promise.all([...this.informers.values()].map(({ inf }) => inf.waitForSync()));
        if (this.loop.stopped) return;
        this.synced = true;
        this.enqueueAllWithOwners();
        if (this.resyncMs > 0) this.timer = setInterval(() => this.enqueueAllWithOwners(), this.resyncMs);
      },
      this.workers,
      (k) => this.syncHandler(k),
    );
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.loop.stop();
  }

  private static itemKey(rk: string, o: KObject): string {
    return `${rk}|${o.metadata?.namespace ?? ''}|${o.metadata?.name}`;
  }

  private enqueueAllWithOwners(): void {
    for (const [rk, { inf }] of this.informers) for (const o of inf.lister.list()) if (ownerRefs(o).length) this.queue.add(GarbageCollector.itemKey(rk, o));
  }

  private observe(rk: string, old: KObject | undefined, cur: KObject): void {
    const { ref } = this.informers.get(rk)!;
    const k = GarbageCollector.itemKey(rk, cur);
    const uid = cur.metadata?.uid;
    if (uid) this.byUID.set(uid, { ref, namespace: cur.metadata.namespace ?? '', name: cur.metadata.name, uid });
    const curUIDs = new Set(ownerRefs(cur).map((r) => r.uid));
    for (const r of ownerRefs(old)) {
      if (curUIDs.has(r.uid)) continue;
      this.dependents.get(r.uid)?.delete(k);
      // A foreground owner may have been waiting for this dependent to let go.
      const owner = this.byUID.get(r.uid);
      if (owner) this.queue.add(GarbageCollector.itemKey(resourceKey(owner.ref), { metadata: owner }));
    }
    for (const r of ownerRefs(cur)) {
      let s = this.dependents.get(r.uid);
      if (!s) this.dependents.set(r.uid, (s = new Set()));
      s.add(k);
    }
    const deleting = !!cur.metadata?.deletionTimestamp;
    if (deleting && (hasFinalizer(cur, FOREGROUND_FINALIZER) || hasFinalizer(cur, ORPHAN_FINALIZER))) {
      this.queue.add(k);
      // Dependents of a foreground owner must go first.
      if (hasFinalizer(cur, FOREGROUND_FINALIZER)) for (const d of this.dependents.get(uid) ?? []) this.queue.add(d);
    }
    if (!this.synced) return;
    // A dependent whose owner we do not know of may be an orphan.
    if (ownerRefs(cur).some((r) => !this.byUID.has(r.uid))) this.queue.add(k);
    else if (old && JSON.stringify(ownerRefs(old)) !== JSON.stringify(ownerRefs(cur))) this.queue.add(k);
  }

  private forget(rk: string, obj: KObject | DeletedFinalStateUnknown): void {
    const o = objectFromTombstone(obj);
    const k = GarbageCollector.itemKey(rk, o);
    const uid = o.metadata?.uid;
    if (uid && this.byUID.get(uid)?.name === o.metadata?.name) this.byUID.delete(uid);
    for (const r of ownerRefs(o)) {
      const s = this.dependents.get(r.uid);
      s?.delete(k);
      // A foreground owner waiting for this dependent may now finish.
      const owner = this.byUID.get(r.uid);
      if (owner) this.queue.add(GarbageCollector.itemKey(resourceKey(owner.ref), { metadata: owner }));
    }
    // Its dependents have lost an owner.
    for (const d of this.dependents.get(uid) ?? []) this.queue.add(d);
  }

  private lookup(k: string): { ref: ResourceRef; obj?: KObject } {
    const [rk, ns, name] = k.split('|') as [string, string, string];
    const { ref, inf } = this.informers.get(rk)!;
    return { ref, obj: inf.lister.get(ns, name) };
  }

  /** The cached dependents of the owner uid, with the reference each holds to it. */
  private dependentsOf(uid: string): { key: string; ref: ResourceRef; obj: KObject; ownerRef: OwnerReference }[] {
    const out = [];
    for (const k of this.dependents.get(uid) ?? []) {
      const { ref, obj } = this.lookup(k);
      const ownerRef = ownerRefs(obj).find((r) => r.uid === uid);
      if (obj && ownerRef) out.push({ key: k, ref, obj, ownerRef });
    }
    return out;
  }

  /** Process one object: finish its own foreground/orphan deletion, then check its owners. */
  async sync(k: string): Promise<void> {
    const { ref, obj } = this.lookup(k);
    if (!obj) return;
    const deleting = !!obj.metadata?.deletionTimestamp;
    if (deleting && hasFinalizer(obj, ORPHAN_FINALIZER)) await this.orphanDependents(ref, obj);
    else if (deleting && hasFinalizer(obj, FOREGROUND_FINALIZER)) await this.deleteDependentsFirst(ref, obj);
    if (ownerRefs(obj).length) await this.attemptToDelete(ref, obj);
  }

  private async orphanDependents(ref: ResourceRef, owner: KObject): Promise<void> {
    const uid = owner.metadata.uid;
    for (const d of this.dependentsOf(uid)) {
      await this.patchOwnerRefs(d.ref, d.obj, ownerRefs(d.obj).filter((r) => r.uid !== uid));
    }
    await this.removeFinalizer(ref, owner, ORPHAN_FINALIZER);
  }

  private async deleteDependentsFirst(ref: ResourceRef, owner: KObject): Promise<void> {
    const deps = this.dependentsOf(owner.metadata.uid);
    for (const d of deps) {
      if (d.obj.metadata?.deletionTimestamp) continue;
      // A dependent with dependents of its own is deleted in the foreground too.
      const policy = this.dependents.get(d.obj.metadata.uid)?.size ? 'Foreground' : 'Background';
      await this.deleteObject(d.ref, d.obj, policy);
    }
    if (deps.some((d) => d.ownerRef.blockOwnerDeletion === true)) return; // their deletion events requeue the owner
    await this.removeFinalizer(ref, owner, FOREGROUND_FINALIZER);
  }

  /** Classify the owners; delete the object if none is left alive, or drop the references to gone ones. */
  private async attemptToDelete(ref: ResourceRef, obj: KObject): Promise<void> {
    const solid: OwnerReference[] = [];
    const gone: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const r of ownerRefs(obj)) {
      const owner = await this.getOwner(obj, r);
      if (owner === null) gone.push(r);
      else if (owner === undefined) solid.push(r); // unknown kind: assume it lives
      else if (owner.metadata?.deletionTimestamp && hasFinalizer(owner, FOREGROUND_FINALIZER)) waiting.push(r);
      else solid.push(r);
    }
    if (solid.length) {
      if (!gone.length && !waiting.length) return;
      const drop = new Set([...gone, ...waiting].map((r) => r.uid));
      await this.patchOwnerRefs(ref, obj, ownerRefs(obj).filter((r) => !drop.has(r.uid)));
      return;
    }
    if (obj.metadata?.deletionTimestamp) return;
    let policy = 'Background';
    if (waiting.length && this.dependents.get(obj.metadata.uid)?.size) policy = 'Foreground';
    else if (hasFinalizer(obj, ORPHAN_FINALIZER)) policy = 'Orphan';
    else if (hasFinalizer(obj, FOREGROUND_FINALIZER)) policy = 'Foreground';
    log.info('deleting object whose owners are gone', { resource: ref.resource, namespace: obj.metadata.namespace, name: obj.metadata.name, policy });
    await this.deleteObject(ref, obj, policy);
  }

  /**
   * The owner as the API server has it now: the object, `null` when it is gone (absent or a new
   * object under the same name), or `undefined` when its kind cannot be resolved.
   */
  private async getOwner(dependent: KObject, r: OwnerReference): Promise<KObject | null | undefined> {
    const ownerRef = await this.resolveKind(r.apiVersion, r.kind);
    if (!ownerRef) return undefined;
    try {
      const o = await this.client.get(ownerRef, ownerRef.namespaced ? dependent.metadata.namespace : '', r.name);
      return o.metadata?.uid === r.uid ? o : null;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /** The resource for an owner's apiVersion and kind, from the watched set or discovery. */
  private async resolveKind(apiVersion: string, kind: string): Promise<ResourceRef | undefined> {
    const k = `${apiVersion}/${kind}`;
    if (this.kinds.has(k)) return this.kinds.get(k) ?? undefined;
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    let found: ResourceRef | null = null;
    try {
      const doc = await this.client.request<KObject>('GET', group ? `/apis/${group}/${version}` : `/api/${version}`);
      const r = (doc.resources ?? []).find((x: KObject) => x.kind === kind && !String(x.name).includes('/'));
      if (r) found = { group: group!, version: version!, resource: r.name, namespaced: !!r.namespaced };
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (!found) log.warn('owner kind is not served; treating the owner as alive', { apiVersion, kind });
    this.kinds.set(k, found);
    return found ?? undefined;
  }

  private async deleteObject(ref: ResourceRef, obj: KObject, propagationPolicy: string): Promise<void> {
    try {
      await this.client.delete(ref, obj.metadata.namespace, obj.metadata.name, { propagationPolicy, preconditions: { uid: obj.metadata.uid } });
    } catch (e) {
      // Gone already, or replaced by a namesake (precondition conflict): nothing to do.
      if (isNotFound(e) || (e instanceof StatusError && e.code === 409)) return;
      throw e;
    }
  }

  private async patchOwnerRefs(ref: ResourceRef, obj: KObject, refs: OwnerReference[]): Promise<void> {
    try {
      await this.client.patch(ref, obj.metadata.namespace, obj.metadata.name, { metadata: { ownerReferences: refs.length ? refs : null, resourceVersion: obj.metadata.resourceVersion } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  private async removeFinalizer(ref: ResourceRef, obj: KObject, finalizer: string): Promise<void> {
    const finalizers = (obj.metadata.finalizers as string[]).filter((f) => f !== finalizer);
    try {
      await this.client.patch(ref, obj.metadata.namespace, obj.metadata.name, { metadata: { finalizers: finalizers.length ? finalizers : null, resourceVersion: obj.metadata.resourceVersion } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
