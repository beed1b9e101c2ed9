/**
 * The disruption controller (upstream's pkg/controller/disruption): keeps every
 * PodDisruptionBudget's status (expected, desired and currently healthy pods, how many disruptions
 * the eviction API may allow, the pods it recently evicted, and the DisruptionAllowed condition)
 * up to date with its pods and their controllers' scale. It also resets DisruptionTarget pod
 * conditions left on pods that were never deleted.
 *
 * Level-triggered by PDB key: pod, PDB and workload changes only enqueue; `sync(key)` reads the
 * listers. A failed sync writes the fail-safe status (no disruptions allowed); a conflict on the
 * status write is retried through the queue's rate limiter instead.
 */
import { isDeepStrictEqual } from 'node:util';
import { StatusError } from '../../api/errors.js';
import { formatLabelSelector } from '../../api/labels/index.js';
import { logger } from '../../base/log.js';
import { rfc3339 } from '../../base/time.js';
import type { Component, ComponentContext } from '../../client/component.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import { objectFromTombstone, splitMetaNamespaceKey, type DeletedFinalStateUnknown, type Lister } from '../../client/informer.js';
import type { KObject, ResourceRef, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { ControllerLoop } from '../common/controller-loop.js';
import { getControllerOf, type OwnerReference } from '../common/controller-ref.js';
import {
  buildDisruptedPodMap,
  countHealthyPods,
  desiredPdbStatus,
  expectedPodCount,
  failSafeStatus,
  pdbSelects,
  podsForPdb,
  staleDisruptionConditionIn,
  usesScale,
  STALE_POD_DISRUPTION_TIMEOUT_MS,
  type ControllerScale,
} from './pdb-status.js';

const log = logger('disruption-controller');

export interface DisruptionControllerOptions {
  /** Concurrent PDB syncs. Default 1, as upstream runs one worker. */
  workers?: number;
  /** Milliseconds clock, for disruptedPods expiry and condition times. Default Date.now. */
  now?: () => number;
  /** How long a DisruptionTarget condition may stay on a pod that is not deleted. Default 2 min. */
  stalePodDisruptionTimeoutMs?: number;
  /** How long a discovery answer (for owners found through /scale) is trusted. Default 30 s. */
  discoveryTtlMs?: number;
}

const key = (obj: KObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
const isCode = (e: unknown, code: number) => e instanceof StatusError && e.code === code;
const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));
const groupOf = (apiVersion: string | undefined) => {
  const v = apiVersion ?? '';
  const i = v.indexOf('/');
  return i < 0 ? { group: '', version: v } : { group: v.slice(0, i), version: v.slice(i + 1) };
};
/** The owner reference is `kind` in one of `groups`. */
const refIs = (ref: OwnerReference, kind: string, groups: string[]) => ref.kind === kind && groups.includes(groupOf(ref.apiVersion).group);

/** The disruption controller, as a {@link Component}. */
export class DisruptionController implements Component {
  readonly name = 'disruption-controller';
  readonly queue = new WorkQueue<string>({ name: 'disruption' });
  /** Pods whose stale DisruptionTarget condition is to be reset. */
  readonly stalePodQueue = new WorkQueue<string>({ name: 'stale_pod_disruption' });
  private client!: RestClient;
  private recorder!: EventRecorder;
  private podLister!: Lister;
  private pdbLister!: Lister;
  private rsLister!: Lister;
  private deployLister!: Lister;
  private ssLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'poddisruptionbudget');
  private readonly staleLoop = new ControllerLoop(this.stalePodQueue, 'pod');
  private readonly workers: number;
  private readonly now: () => number;
  private readonly staleTimeoutMs: number;
  private readonly discoveryTtlMs: number;
  /** group/version → its discovery document and when it was fetched. */
  private readonly discovery = new Map<string, { at: number; resources: KObject[] }>();

  constructor(opts: DisruptionControllerOptions = {}) {
    this.workers = opts.workers ?? 1;
    this.now = opts.now ?? Date.now;
    this.staleTimeoutMs = opts.stalePodDisruptionTimeoutMs ?? STALE_POD_DISRUPTION_TIMEOUT_MS;
    this.discoveryTtlMs = opts.discoveryTtlMs ?? 30_000;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    this.recorder = ctx.recorder(this.name);
    const podInf = ctx.informers.forResource(resources.pods);
    const pdbInf = ctx.informers.forResource(resources.poddisruptionbudgets);
    const rsInf = ctx.informers.forResource(resources.replicasets);
    const deployInf = ctx.informers.forResource(resources.deployments);
    const ssInf = ctx.informers.forResource(resources.statefulsets);
    this.podLister = podInf.lister;
    this.pdbLister = pdbInf.lister;
    this.rsLister = rsInf.lister;
    this.deployLister = deployInf.lister;
    this.ssLister = ssInf.lister;
    const onPdb = (obj: KObject | DeletedFinalStateUnknown) => this.queue.add(key(objectFromTombstone(obj)));
    const onWorkload = {
      onAdd: (w: KObject) => this.enqueueScaledPdbs(w),
      onUpdate: (old: KObject, cur: KObject) => {
        if (old.spec?.replicas !== cur.spec?.replicas || old.metadata?.uid !== cur.metadata?.uid) this.enqueueScaledPdbs(cur);
      },
      onDelete: (w: KObject | DeletedFinalStateUnknown) => this.enqueueScaledPdbs(objectFromTombstone(w)),
    };
    this.loop.regs.push(
      pdbInf.addEventHandler({ onAdd: onPdb, onUpdate: (_o, cur) => onPdb(cur), onDelete: onPdb }),
      podInf.addEventHandler({
        onAdd: (pod) => this.onPod(pod),
        onUpdate: (old, cur) => this.onPod(cur, old),
        onDelete: (pod) => this.onPod(objectFromTombstone(pod), undefined, true),
      }),
      rsInf.addEventHandler(onWorkload),
      deployInf.addEventHandler(onWorkload),
      ssInf.addEventHandler(onWorkload),
    );
    ctx.informers.start();
    const synced = async () => {
      await Promise.all([podInf, pdbInf, rsInf, deployInf, ssInf].map((i) => i.waitForSync()));
    };
    this.loop.run(synced, this.workers, (k) => this.sync(k));
    this.staleLoop.run(synced, 1, (k) => this.syncStalePodDisruption(k));
  }

  async stop(): Promise<void> {
    await this.staleLoop.stop();
    await this.loop.stop();
  }

  /** Enqueue the PDBs selecting the pod (by its old labels too), and schedule a stale-condition reset. */
  private onPod(pod: KObject, old?: KObject, deleted = false): void {
    const ns = pod.metadata?.namespace;
    for (const pdb of this.pdbLister.list(ns)) {
      if (pdbSelects(pdb, pod.metadata?.labels) || (old && pdbSelects(pdb, old.metadata?.labels))) this.queue.add(key(pdb));
    }
    if (deleted) return;
    const wait = staleDisruptionConditionIn(pod, this.now(), this.staleTimeoutMs);
    if (wait !== undefined) this.stalePodQueue.addAfter(key(pod), wait);
  }

  /** A workload's scale changed: PDBs of its namespace that count replicas must look again. */
  private enqueueScaledPdbs(workload: KObject): void {
    for (const pdb of this.pdbLister.list(workload.metadata?.namespace)) if (usesScale(pdb)) this.queue.add(key(pdb));
  }

  /** Reconcile one PDB's status. */
  async sync(pdbKey: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(pdbKey);
    const pdb = this.pdbLister.get(namespace, name);
    if (!pdb) return;
    try {
      await this.trySync(pdbKey, pdb);
    } catch (e) {
      // A conflict means the status moved on (e.g. an eviction): retry with the newer object.
      if (isCode(e, 409)) throw e;
      log.warn('failed to sync PDB', { poddisruptionbudget: pdbKey, err: errText(e) });
      const status = failSafeStatus(pdb, e, this.now());
      // Unchanged: writing again would only wake this PDB up to fail the same way.
      if (!isDeepStrictEqual(status, pdb.status ?? {})) await this.writeStatus(pdb, status);
    }
  }

  private async trySync(pdbKey: string, pdb: KObject): Promise<void> {
    const pods = podsForPdb(pdb, this.podLister.list(pdb.metadata.namespace));
    if (pods.length === 0) this.recorder.event(pdb, 'Normal', 'NoPods', 'No matching pods found');
    let counts;
    try {
      counts = await expectedPodCount(pdb, pods, (ref, ns) => this.findController(ref, ns));
    } catch (e) {
      this.recorder.event(pdb, 'Warning', 'CalculateExpectedPodCountFailed', `Failed to calculate the number of expected pods: ${errText(e)}`);
      throw e;
    }
    if (counts.unmanagedPods.length) {
      log.debug('PDB selects pods without a controller', { poddisruptionbudget: pdbKey, pods: counts.unmanagedPods });
      this.recorder.event(
        pdb,
        'Warning',
        'UnmanagedPods',
        `Pods selected by this PodDisruptionBudget (selector: ${formatLabelSelector(pdb.spec?.selector)}) were found to be unmanaged. ` +
          'As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. ' +
          'To account for these pods please set ".spec.minAvailable" field of the PDB to an integer value.',
      );
    }
    const now = this.now();
    const { disruptedPods, recheckAtMs, notDeleted } = buildDisruptedPodMap(pdb, pods, now);
    for (const pod of notDeleted) {
      this.recorder.event(pod, 'Warning', 'NotDeleted', `Pod was expected by PDB ${pdbKey} to be deleted but it wasn't`);
    }
    const currentHealthy = countHealthyPods(pods, disruptedPods, now);
    const status = desiredPdbStatus(pdb, { currentHealthy, desiredHealthy: counts.desiredHealthy, expectedCount: counts.expectedCount, disruptedPods }, now);
    if (status) await this.writeStatus(pdb, status);
    // Look again when the oldest eviction record runs out (+1 s: timestamps have whole seconds).
    if (recheckAtMs !== undefined) this.queue.addAfter(pdbKey, Math.max(0, recheckAtMs - now) + 1000);
  }

  /** PUT status through /status, pinned to the cached resourceVersion (a 409 requeues). */
  private async writeStatus(pdb: KObject, status: KObject): Promise<void> {
    const next: KObject = { ...pdb, apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', status };
    try {
      await this.client.update(resources.poddisruptionbudgets, next, 'status');
    } catch (e) {
      if (isCode(e, 404)) return;
      throw e;
    }
  }

  /**
   * The controller a pod's reference names and its replicas (upstream's finders, in their order):
   * a ReplicaSet owned by a Deployment counts as the Deployment; then ReplicaSets and StatefulSets
   * from the caches; any other kind through its /scale subresource.
   */
  private async findController(ref: OwnerReference, namespace: string): Promise<ControllerScale | undefined> {
    const replicas = (o: KObject) => Number(o.spec?.replicas ?? 1);
    const same = (o: KObject | undefined, uid: string) => (o && o.metadata?.uid === uid ? o : undefined);
    if (refIs(ref, 'ReplicaSet', ['apps', 'extensions'])) {
      const rs = same(this.rsLister.get(namespace, ref.name), ref.uid);
      if (!rs) return undefined;
      const owner = getControllerOf(rs);
      if (owner && refIs(owner, 'Deployment', ['apps', 'extensions'])) {
        const d = same(this.deployLister.get(namespace, owner.name), owner.uid);
        if (d) return { uid: d.metadata.uid, replicas: replicas(d) };
      }
      // No (live) Deployment: upstream then finds the ReplicaSet through its /scale, i.e. its own replicas.
      return { uid: rs.metadata.uid, replicas: replicas(rs) };
    }
    if (refIs(ref, 'StatefulSet', ['apps'])) {
      const ss = same(this.ssLister.get(namespace, ref.name), ref.uid);
      return ss ? { uid: ss.metadata.uid, replicas: replicas(ss) } : undefined;
    }
    return this.findScaleController(ref, namespace);
  }

  /** Upstream's getScaleController: map the kind to its resource by discovery, then read /scale. */
  private async findScaleController(ref: OwnerReference, namespace: string): Promise<ControllerScale | undefined> {
    const { group, version } = groupOf(ref.apiVersion);
    const list = await this.discover(group, version);
    const res = list?.find((r) => r.kind === ref.kind && typeof r.name === 'string' && !r.name.includes('/'));
    if (!res) throw new Error(`no matches for kind ${JSON.stringify(ref.kind)} in version ${JSON.stringify(ref.apiVersion)}`);
    const gr = group ? `${res.name}.${group}` : res.name;
    const rref: ResourceRef = { group, version, resource: res.name, namespaced: res.namespaced !== false };
    let scale: KObject;
    try {
      scale = await this.client.get(rref, rref.namespaced ? namespace : '', ref.name, 'scale');
    } catch (e) {
      if (!isCode(e, 404)) throw e;
      // Either the object is missing or the kind has no /scale: tell them apart for the message.
      if (!list!.some((r) => r.name === `${res.name}/scale`)) throw new Error(`${gr} does not implement the scale subresource`);
      return undefined;
    }
    if (scale.metadata?.uid !== ref.uid) return undefined;
    return { uid: ref.uid, replicas: Number(scale.spec?.replicas ?? 0) };
  }

  /** The APIResources of a group/version, cached briefly; undefined when the server does not serve it. */
  private async discover(group: string, version: string): Promise<KObject[] | undefined> {
    const gv = group ? `${group}/${version}` : version;
    const hit = this.discovery.get(gv);
    if (hit && this.now() - hit.at < this.discoveryTtlMs) return hit.resources;
    let doc: KObject;
    try {
      doc = await this.client.request('GET', group ? `/apis/${group}/${version}` : `/api/${version}`);
    } catch (e) {
      if (isCode(e, 404)) return undefined;
      throw e;
    }
    const list: KObject[] = Array.isArray(doc.resources) ? doc.resources : [];
    this.discovery.set(gv, { at: this.now(), resources: list });
    return list;
  }

  /**
   * Reset a DisruptionTarget condition that has outlived its timeout on a pod that was not deleted
   * (upstream's syncStalePodDisruption): the condition becomes False.
   */
  async syncStalePodDisruption(podKey: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(podKey);
    const pod = this.podLister.get(namespace, name);
    if (!pod) return;
    const wait = staleDisruptionConditionIn(pod, this.now(), this.staleTimeoutMs);
    if (wait === undefined) return;
    if (wait > 0) {
      this.stalePodQueue.addAfter(podKey, wait);
      return;
    }
    const ts = rfc3339(this.now());
    const conditions = (pod.status?.conditions ?? []).map((c: KObject) => (c.type === 'DisruptionTarget' ? { type: 'DisruptionTarget', status: 'False', lastTransitionTime: ts } : c));
    try {
      await this.client.update(resources.pods, { ...pod, apiVersion: 'v1', kind: 'Pod', status: { ...pod.status, conditions } }, 'status');
      log.info('reset stale DisruptionTarget condition to False', { pod: podKey });
    } catch (e) {
      if (isCode(e, 404)) return;
      throw e;
    }
  }
}
