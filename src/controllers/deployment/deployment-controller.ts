/**
 * The Deployment controller (upstream's pkg/controller/deployment): rolls a Deployment's pods from
 * ReplicaSet to ReplicaSet. The ReplicaSet whose template equals the Deployment's (ignoring the
 * pod-template-hash label) is the new one, created on demand as `<deployment>-<hash>`; the rest
 * are old. RollingUpdate grows the new one within maxSurge and shrinks old ones within
 * maxUnavailable; Recreate scales old ones to zero first. Revisions, proportional scaling while a
 * rollout is in flight, pause, history cleanup and the Available/Progressing conditions follow
 * upstream, so `kubectl rollout status|history|undo|restart` work.
 *
 * Handlers enqueue `namespace/name`; `sync(key)` reads the listers. Writes go to the API server
 * and are seen again through the informers (level-triggered).
 */
import { StatusError } from '../../api/errors.js';
import { labelSelectorFromObject, selectorIsEmpty, selectorMatches, type LabelSelector } from '../../api/labels/index.js';
import { logger } from '../../base/log.js';
import type { Component, ComponentContext } from '../../client/component.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import { objectFromTombstone, splitMetaNamespaceKey, type DeletedFinalStateUnknown, type Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { getControllerOf, isControlledBy, newControllerRef, resolveControllerRef } from '../common/controller-ref.js';
import { claimObjects, recheckOwner } from '../common/claim.js';
import { selectingControllers } from '../common/selecting.js';
import {
  activeReplicaSets,
  byCreation,
  byRevision,
  bySize,
  calculateStatus,
  computeHash,
  deploymentComplete,
  deploymentProgressing,
  deploymentTimedOut,
  desiredReplicasAnnotation,
  equalIgnoreHash,
  findNewReplicaSet,
  getCondition,
  hasProgressDeadline,
  maxSurge,
  maxUnavailable,
  newCondition,
  newRSNewReplicas,
  POD_TEMPLATE_HASH_LABEL,
  proportion,
  Reasons,
  removeCondition,
  replicasAnnotationsNeedUpdate,
  replicasOf,
  REVISION_ANNOTATION,
  revisionOf,
  setCondition,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  statusEqual,
  sumSpecReplicas,
  sumStatus,
} from './util.js';
import { ControllerLoop } from '../common/controller-loop.js';

const log = logger('deployment-controller');
const GVK = { apiVersion: 'apps/v1', kind: 'Deployment' };

export interface DeploymentControllerOptions {
  /** Concurrent syncs (upstream's --concurrent-deployment-syncs). Default 5. */
  workers?: number;
  /** Milliseconds clock, for conditions and progress deadlines. Default Date.now. */
  now?: () => number;
}

const key = (obj: KObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
const deepEqual = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Replace an object's contents with another's, keeping the reference (our private copies only). */
function replaceInPlace(target: KObject, src: KObject): void {
  for (const k of Object.keys(target)) delete target[k];
  Object.assign(target, src);
}

/** The Deployment controller, as a {@link Component}. */
export class DeploymentController implements Component {
  readonly name = 'deployment-controller';
  readonly queue = new WorkQueue<string>({ name: 'deployment' });
  /** The sync handler; a field so tests can wrap or replace it. */
  syncHandler: (key: string) => Promise<void> = (k) => this.sync(k);
  private client!: RestClient;
  private recorder!: EventRecorder;
  private dLister!: Lister;
  private rsLister!: Lister;
  private podLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'deployment');
  private readonly workers: number;
  private readonly now: () => number;

  constructor(opts: DeploymentControllerOptions = {}) {
    this.workers = opts.workers ?? 5;
    this.now = opts.now ?? Date.now;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    this.recorder = ctx.recorder(this.name);
    const dInf = ctx.informers.forResource(resources.deployments);
    const rsInf = ctx.informers.forResource(resources.replicasets);
    const podInf = ctx.informers.forResource(resources.pods);
    this.dLister = dInf.lister;
    this.rsLister = rsInf.lister;
    this.podLister = podInf.lister;
    this.loop.regs.push(
      dInf.addEventHandler({
        onAdd: (d) => this.enqueue(d),
        onUpdate: (_old, cur) => this.enqueue(cur),
        onDelete: (d) => this.enqueue(objectFromTombstone(d)),
      }),
      rsInf.addEventHandler({
        onAdd: (rs) => this.onAddRS(rs),
        onUpdate: (old, cur) => this.onUpdateRS(old, cur),
        onDelete: (rs) => this.onDeleteRS(rs),
      }),
      podInf.addEventHandler({ onDelete: (pod) => this.onDeletePod(pod) }),
    );
    ctx.informers.start();
    this.loop.run(
      async () => {
        await Promise.all([dInf.waitForSync(), rsInf.waitForSync(), podInf.waitForSync()]);
      },
      this.workers,
      (k) => this.syncHandler(k),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  private enqueue(d: KObject): void {
    this.queue.add(key(d));
  }

  private getDeployment = (ns: string, name: string) => this.dLister.get(ns, name);

  /** Deployments whose (non-empty) selector matches an orphan ReplicaSet's labels. */
  private deploymentsForRS(rs: KObject): KObject[] {
    return selectingControllers(this.dLister.list(rs.metadata?.namespace), rs);
  }

  private onAddRS(rs: KObject): void {
    if (rs.metadata?.deletionTimestamp) return this.onDeleteRS(rs);
    const ref = getControllerOf(rs);
    if (ref) {
      const d = resolveControllerRef(rs.metadata.namespace, ref, 'Deployment', this.getDeployment);
      if (d) this.enqueue(d);
      return;
    }
    for (const d of this.deploymentsForRS(rs)) this.enqueue(d);
  }

  private onUpdateRS(old: KObject, cur: KObject): void {
    if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
    const curRef = getControllerOf(cur);
    const oldRef = getControllerOf(old);
    const refChanged = !deepEqual(curRef, oldRef);
    if (refChanged && oldRef) {
      const d = resolveControllerRef(old.metadata.namespace, oldRef, 'Deployment', this.getDeployment);
      if (d) this.enqueue(d);
    }
    if (curRef) {
      const d = resolveControllerRef(cur.metadata.namespace, curRef, 'Deployment', this.getDeployment);
      if (d) this.enqueue(d);
      return;
    }
    if (refChanged || !deepEqual(old.metadata?.labels, cur.metadata?.labels)) for (const d of this.deploymentsForRS(cur)) this.enqueue(d);
  }

  private onDeleteRS(obj: KObject | DeletedFinalStateUnknown): void {
    const rs = objectFromTombstone(obj);
    const ref = getControllerOf(rs);
    if (!ref) return;
    const d = resolveControllerRef(rs.metadata?.namespace, ref, 'Deployment', this.getDeployment);
    if (d) this.enqueue(d);
  }

  /** A Recreate rollout waits for old pods to go; their deletion is its cue. */
  private onDeletePod(obj: KObject | DeletedFinalStateUnknown): void {
    const pod = objectFromTombstone(obj);
    const rsRef = getControllerOf(pod);
    if (!rsRef || rsRef.kind !== 'ReplicaSet') return;
    const rs = this.rsLister.get(pod.metadata?.namespace, rsRef.name);
    if (!rs || rs.metadata?.uid !== rsRef.uid) return;
    const d = resolveControllerRef(rs.metadata.namespace, getControllerOf(rs), 'Deployment', this.getDeployment);
    if (d && d.spec?.strategy?.type === 'Recreate') this.enqueue(d);
  }

  // ---- sync ----

  /** Reconcile one Deployment. */
  async sync(dKey: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(dKey);
    const cached = this.dLister.get(namespace, name);
    if (!cached) return;
    const d = structuredClone(cached);
    let selector: LabelSelector;
    try {
      selector = labelSelectorFromObject(d.spec?.selector);
    } catch (e) {
      log.error('invalid selector', { deployment: dKey, err: errText(e) });
      return;
    }
    if (selectorIsEmpty(selector)) {
      this.recorder.event(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if ((d.status?.observedGeneration ?? 0) < (d.metadata?.generation ?? 0)) {
        d.status = { ...d.status, observedGeneration: d.metadata.generation };
        await this.writeStatus(d);
      }
      return;
    }
    const matches = (o: KObject) => selectorMatches(selector, o.metadata?.labels ?? {});
    const claimed = await claimObjects(this.client, resources.replicasets, this.rsLister.list(namespace), {
      owner: d,
      gvk: GVK,
      match: matches,
      canAdopt: recheckOwner(this.client, resources.deployments, d),
    });
    // Private copies: scaling updates them in place.
    const rsList = claimed.map((rs) => structuredClone(rs));

    if (d.metadata?.deletionTimestamp) return this.syncStatusOnly(d, rsList);
    await this.checkPausedConditions(d);
    if (d.spec?.paused) return this.syncScaling(d, rsList);
    if (await this.isScalingEvent(d, rsList)) return this.syncScaling(d, rsList);
    if (d.spec?.strategy?.type === 'Recreate') return this.rolloutRecreate(d, rsList, matches);
    return this.rolloutRolling(d, rsList);
  }

  /**
   * Write the Deployment's status (and revision annotation) and refresh `d` from the reply.
   * Upstream writes the annotation through /status; a server that resets annotations there gets
   * a metadata patch as well.
   */
  private async writeStatus(d: KObject): Promise<void> {
    const wantRevision = d.metadata?.annotations?.[REVISION_ANNOTATION];
    let updated = await this.client.update(resources.deployments, d, 'status');
    if (wantRevision !== undefined && updated.metadata?.annotations?.[REVISION_ANNOTATION] !== wantRevision) {
      updated = await this.client.patch(resources.deployments, d.metadata.namespace, d.metadata.name, {
        metadata: { annotations: { [REVISION_ANNOTATION]: wantRevision }, resourceVersion: updated.metadata?.resourceVersion },
      });
    }
    d.metadata = updated.metadata;
    d.status = updated.status;
  }

  /** Set the deployment's revision annotation in `d`; true if it changed. */
  private setDeploymentRevision(d: KObject, revision: string): boolean {
    const a = ((d.metadata ??= {}).annotations ??= {});
    if (a[REVISION_ANNOTATION] === revision) return false;
    a[REVISION_ANNOTATION] = revision;
    return true;
  }

  /**
   * The new ReplicaSet (created when asked and missing) and the old ones, with the new one's
   * revision brought above every old one (upstream's getAllReplicaSetsAndSyncRevision).
   */
  private async getAllReplicaSets(d: KObject, rsList: KObject[], create: boolean): Promise<{ newRS?: KObject; oldRSs: KObject[] }> {
    const existing = findNewReplicaSet(d, rsList);
    const oldRSs = rsList.filter((rs) => rs !== existing);
    const newRS = await this.getNewReplicaSet(d, rsList, oldRSs, existing, create);
    return { newRS, oldRSs };
  }

  private async getNewReplicaSet(d: KObject, rsList: KObject[], oldRSs: KObject[], existing: KObject | undefined, create: boolean): Promise<KObject | undefined> {
    const newRevision = String(Math.max(0, ...oldRSs.map(revisionOf)) + 1);
    if (existing) {
      const copy = structuredClone(existing);
      const annotationsChanged = setNewReplicaSetAnnotations(d, copy, Number(newRevision), true);
      const minReadyChanged = (copy.spec?.minReadySeconds ?? 0) !== (d.spec?.minReadySeconds ?? 0);
      if (annotationsChanged || minReadyChanged) {
        copy.spec.minReadySeconds = d.spec?.minReadySeconds ?? 0;
        replaceInPlace(existing, await this.client.update(resources.replicasets, copy));
      }
      let needsUpdate = this.setDeploymentRevision(d, existing.metadata?.annotations?.[REVISION_ANNOTATION] ?? newRevision);
      if (!getCondition(d.status, 'Progressing')) {
        d.status ??= {};
        setCondition(d.status, newCondition('Progressing', 'True', Reasons.FoundNewRS, `Found new replica set "${existing.metadata.name}"`, this.now()));
        needsUpdate = true;
      }
      if (needsUpdate) await this.writeStatus(d);
      return existing;
    }
    if (!create) return undefined;

    const collisionCount = d.status?.collisionCount;
    const hash = computeHash(d.spec?.template, collisionCount);
    const template = structuredClone(d.spec?.template ?? {});
    template.metadata ??= {};
    template.metadata.labels = { ...template.metadata.labels, [POD_TEMPLATE_HASH_LABEL]: hash };
    const selector = structuredClone(d.spec.selector);
    selector.matchLabels = { ...selector.matchLabels, [POD_TEMPLATE_HASH_LABEL]: hash };
    const rs: KObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: `${d.metadata.name}-${hash}`, namespace: d.metadata.namespace, ownerReferences: [newControllerRef(d, GVK)], labels: { ...template.metadata.labels } },
      spec: { replicas: 0, minReadySeconds: d.spec?.minReadySeconds ?? 0, selector, template },
    };
    const replicas = newRSNewReplicas(d, [...oldRSs, rs], rs);
    rs.spec.replicas = replicas;
    setNewReplicaSetAnnotations(d, rs, Number(newRevision), false);

    let created: KObject;
    let alreadyExists = false;
    try {
      created = await this.client.create(resources.replicasets, d.metadata.namespace, rs);
    } catch (e) {
      if (e instanceof StatusError && e.code === 409) {
        const found = await this.client.get(resources.replicasets, d.metadata.namespace, rs.metadata.name);
        if (isControlledBy(found, d) && equalIgnoreHash(found.spec?.template, d.spec?.template)) {
          // Our own earlier create, not yet in the cache.
          created = found;
          alreadyExists = true;
        } else {
          // A hash collision: bump the count so the next attempt gets another name.
          d.status = { ...d.status, collisionCount: (collisionCount ?? 0) + 1 };
          await this.writeStatus(d);
          throw new Error(`found a hash collision for deployment ${JSON.stringify(d.metadata.name)} - bumping collisionCount (${collisionCount ?? 0}->${(collisionCount ?? 0) + 1}) to resolve it`);
        }
      } else {
        const msg = `Failed to create new replica set "${rs.metadata.name}": ${errText(e)}`;
        if (hasProgressDeadline(d)) {
          d.status ??= {};
          setCondition(d.status, newCondition('Progressing', 'False', Reasons.FailedRSCreate, msg, this.now()));
          await this.writeStatus(d).catch(() => undefined);
        }
        this.recorder.event(d, 'Warning', 'FailedCreate', msg);
        throw e;
      }
    }
    if (!alreadyExists && replicas > 0) {
      this.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${created.metadata.name} from 0 to ${replicas}`);
    }
    let needsUpdate = this.setDeploymentRevision(d, newRevision);
    if (!alreadyExists && hasProgressDeadline(d)) {
      d.status ??= {};
      setCondition(d.status, newCondition('Progressing', 'True', Reasons.NewRSCreated, `Created new replica set "${created.metadata.name}"`, this.now()));
      needsUpdate = true;
    }
    if (needsUpdate) await this.writeStatus(d);
    const copy = structuredClone(created);
    rsList.push(copy);
    return copy;
  }

  /** Scale a ReplicaSet (and refresh its replicas annotations); returns true if its size changed. */
  private async scaleReplicaSet(rs: KObject, newScale: number, d: KObject): Promise<boolean> {
    const sizeChanged = replicasOf(rs) !== newScale;
    const max = replicasOf(d) + maxSurge(d);
    if (!sizeChanged && !replicasAnnotationsNeedUpdate(rs, replicasOf(d), max)) return false;
    const oldScale = replicasOf(rs);
    const copy = structuredClone(rs);
    copy.spec.replicas = newScale;
    setReplicasAnnotations(copy, replicasOf(d), max);
    replaceInPlace(rs, await this.client.update(resources.replicasets, copy));
    if (sizeChanged) {
      this.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${oldScale < newScale ? 'up' : 'down'} replica set ${rs.metadata.name} from ${oldScale} to ${newScale}`);
    }
    return sizeChanged;
  }

  private async scaleAndRecord(rs: KObject, newScale: number, d: KObject): Promise<boolean> {
    if (replicasOf(rs) === newScale) return false;
    return this.scaleReplicaSet(rs, newScale, d);
  }

  // ---- rolling update ----

  private async rolloutRolling(d: KObject, rsList: KObject[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSets(d, rsList, true);
    const allRSs = [...oldRSs, newRS];
    if (newRS && (await this.reconcileNewReplicaSet(allRSs, newRS, d))) return this.syncRolloutStatus(allRSs, newRS, d);
    if (newRS && (await this.reconcileOldReplicaSets(allRSs, activeReplicaSets(oldRSs), newRS, d))) return this.syncRolloutStatus(allRSs, newRS, d);
    if (deploymentComplete(d, d.status ?? {})) await this.cleanupDeployment(oldRSs, d);
    return this.syncRolloutStatus(allRSs, newRS, d);
  }

  private async reconcileNewReplicaSet(allRSs: (KObject | undefined)[], newRS: KObject, d: KObject): Promise<boolean> {
    if (replicasOf(newRS) === replicasOf(d)) return false;
    if (replicasOf(newRS) > replicasOf(d)) return this.scaleAndRecord(newRS, replicasOf(d), d);
    return this.scaleAndRecord(newRS, newRSNewReplicas(d, allRSs, newRS), d);
  }

  private async reconcileOldReplicaSets(allRSs: (KObject | undefined)[], oldRSs: KObject[], newRS: KObject, d: KObject): Promise<boolean> {
    if (sumSpecReplicas(oldRSs) === 0) return false;
    const minAvailable = replicasOf(d) - maxUnavailable(d);
    const newUnavailable = replicasOf(newRS) - Number(newRS.status?.availableReplicas ?? 0);
    // Counted from spec sizes, so a stale availability count in an old RS's status cannot over-delete.
    const maxScaledDown = sumSpecReplicas(allRSs) - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    const cleaned = await this.cleanupUnhealthyReplicas(oldRSs, d, maxScaledDown);
    const scaled = await this.scaleDownOldForRollingUpdate([...oldRSs, newRS], oldRSs, d);
    return cleaned + scaled > 0;
  }

  /** Scale old ReplicaSets down by their unavailable pods first: they serve nothing. */
  private async cleanupUnhealthyReplicas(oldRSs: KObject[], d: KObject, maxCleanup: number): Promise<number> {
    let total = 0;
    for (const rs of [...oldRSs].sort(byCreation)) {
      if (total >= maxCleanup) break;
      const unhealthy = replicasOf(rs) - Number(rs.status?.availableReplicas ?? 0);
      if (replicasOf(rs) === 0 || unhealthy <= 0) continue;
      const n = Math.min(maxCleanup - total, unhealthy);
      await this.scaleAndRecord(rs, replicasOf(rs) - n, d);
      total += n;
    }
    return total;
  }

  /** Scale old ReplicaSets down, oldest first, while availability stays at or above the minimum. */
  private async scaleDownOldForRollingUpdate(allRSs: KObject[], oldRSs: KObject[], d: KObject): Promise<number> {
    const minAvailable = replicasOf(d) - maxUnavailable(d);
    const available = sumStatus(allRSs, 'availableReplicas');
    if (available <= minAvailable) return 0;
    const want = available - minAvailable;
    let total = 0;
    for (const rs of [...oldRSs].sort(byCreation)) {
      if (total >= want) break;
      if (replicasOf(rs) === 0) continue;
      const n = Math.min(replicasOf(rs), want - total);
      await this.scaleAndRecord(rs, replicasOf(rs) - n, d);
      total += n;
    }
    return total;
  }

  // ---- recreate ----

  private async rolloutRecreate(d: KObject, rsList: KObject[], matches: (o: KObject) => boolean): Promise<void> {
    let { newRS, oldRSs } = await this.getAllReplicaSets(d, rsList, false);
    let allRSs = [...oldRSs, newRS];
    let scaledDown = false;
    for (const rs of activeReplicaSets(oldRSs)) if (await this.scaleAndRecord(rs, 0, d)) scaledDown = true;
    if (scaledDown) return this.syncRolloutStatus(allRSs, newRS, d);
    if (this.oldPodsRunning(d, newRS, oldRSs, rsList, matches)) return this.syncRolloutStatus(allRSs, newRS, d);
    if (!newRS) {
      ({ newRS, oldRSs } = await this.getAllReplicaSets(d, rsList, true));
      allRSs = [...oldRSs, newRS];
    }
    if (newRS) await this.scaleAndRecord(newRS, replicasOf(d), d);
    if (deploymentComplete(d, d.status ?? {})) await this.cleanupDeployment(oldRSs, d);
    return this.syncRolloutStatus(allRSs, newRS, d);
  }

  /** Old ReplicaSets still report pods, or some pod of theirs has not terminated (upstream's oldPodsRunning). */
  private oldPodsRunning(d: KObject, newRS: KObject | undefined, oldRSs: KObject[], rsList: KObject[], matches: (o: KObject) => boolean): boolean {
    if (sumStatus(oldRSs, 'replicas') > 0) return true;
    const uids = new Set(rsList.filter((rs) => rs !== newRS).map((rs) => rs.metadata.uid));
    return this.podLister.list(d.metadata.namespace).some((p) => {
      const ref = getControllerOf(p);
      if (!ref || !uids.has(ref.uid) || !matches(p)) return false;
      return p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded';
    });
  }

  // ---- scaling, pause ----

  /** A resize of spec.replicas since the ReplicaSets were last annotated with it. */
  private async isScalingEvent(d: KObject, rsList: KObject[]): Promise<boolean> {
    const { newRS, oldRSs } = await this.getAllReplicaSets(d, rsList, false);
    return activeReplicaSets([...oldRSs, newRS]).some((rs) => {
      const desired = desiredReplicasAnnotation(rs);
      return desired !== undefined && desired !== replicasOf(d);
    });
  }

  /** Resize without rolling (paused, or a scaling event): upstream's sync. */
  private async syncScaling(d: KObject, rsList: KObject[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSets(d, rsList, false);
    await this.scale(d, newRS, oldRSs);
    if (d.spec?.paused) await this.cleanupDeployment(oldRSs, d);
    await this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }

  private async syncStatusOnly(d: KObject, rsList: KObject[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSets(d, rsList, false);
    await this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }

  /** Spread a resize over the active ReplicaSets in proportion to their sizes (upstream's scale). */
  private async scale(d: KObject, newRS: KObject | undefined, oldRSs: KObject[]): Promise<void> {
    const active = activeReplicaSets([...oldRSs, newRS]);
    let activeOrLatest: KObject | undefined;
    if (active.length === 1) activeOrLatest = active[0];
    else if (active.length === 0) activeOrLatest = newRS ?? [...oldRSs].sort(byCreation).at(-1);
    if (active.length <= 1) {
      if (activeOrLatest && replicasOf(activeOrLatest) !== replicasOf(d)) await this.scaleAndRecord(activeOrLatest, replicasOf(d), d);
      return;
    }
    const r = replicasOf(d);
    if (newRS && replicasOf(newRS) === r && desiredReplicasAnnotation(newRS) === r && Number(newRS.status?.availableReplicas ?? 0) === r) {
      for (const rs of activeReplicaSets(oldRSs)) await this.scaleAndRecord(rs, 0, d);
      return;
    }
    if ((d.spec?.strategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return;
    const allowed = r > 0 ? r + maxSurge(d) : 0;
    const toAdd = allowed - sumSpecReplicas(active);
    const sorted = toAdd === 0 ? active : [...active].sort(bySize(toAdd > 0));
    const sizes = new Map<KObject, number>();
    let added = 0;
    for (const rs of sorted) {
      const p = toAdd !== 0 ? proportion(rs, d, toAdd, added) : 0;
      sizes.set(rs, replicasOf(rs) + p);
      added += p;
    }
    for (const [i, rs] of sorted.entries()) {
      let size = sizes.get(rs)!;
      // Leftovers go to the largest.
      if (i === 0 && toAdd !== 0) size = Math.max(0, size + toAdd - added);
      await this.scaleReplicaSet(rs, size, d);
    }
  }

  private async checkPausedConditions(d: KObject): Promise<void> {
    if (!hasProgressDeadline(d)) return;
    const cond = getCondition(d.status, 'Progressing');
    if (cond?.reason === Reasons.TimedOut) return;
    const pausedCond = cond?.reason === Reasons.Paused;
    d.status ??= {};
    if (d.spec?.paused && !pausedCond) setCondition(d.status, newCondition('Progressing', 'Unknown', Reasons.Paused, 'Deployment is paused', this.now()));
    else if (!d.spec?.paused && pausedCond) setCondition(d.status, newCondition('Progressing', 'Unknown', Reasons.Resumed, 'Deployment is resumed', this.now()));
    else return;
    await this.writeStatus(d);
  }

  /** Delete the oldest old ReplicaSets beyond revisionHistoryLimit, if they are empty and settled. */
  private async cleanupDeployment(oldRSs: KObject[], d: KObject): Promise<void> {
    const limit = d.spec?.revisionHistoryLimit;
    if (limit === undefined || limit === null) return;
    const cleanable = oldRSs.filter((rs) => !rs.metadata?.deletionTimestamp).sort(byRevision);
    const diff = cleanable.length - limit;
    for (let i = 0; i < diff; i++) {
      const rs = cleanable[i]!;
      if (Number(rs.status?.replicas ?? 0) !== 0 || replicasOf(rs) !== 0 || (rs.metadata?.generation ?? 0) > (rs.status?.observedGeneration ?? 0)) continue;
      try {
        await this.client.delete(resources.replicasets, rs.metadata.namespace, rs.metadata.name, { preconditions: { uid: rs.metadata.uid } });
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 404)) throw e;
      }
    }
  }

  // ---- status ----

  private async syncDeploymentStatus(allRSs: (KObject | undefined)[], newRS: KObject | undefined, d: KObject): Promise<void> {
    const status = calculateStatus(allRSs, newRS, d, this.now());
    if (statusEqual(d.status, status)) return;
    d.status = status;
    await this.writeStatus(d);
  }

  /** Status plus the Progressing condition and its deadline (upstream's syncRolloutStatus). */
  private async syncRolloutStatus(allRSs: (KObject | undefined)[], newRS: KObject | undefined, d: KObject): Promise<void> {
    const now = this.now();
    const status = calculateStatus(allRSs, newRS, d, now);
    if (!hasProgressDeadline(d)) removeCondition(status, 'Progressing');
    const cur = getCondition(d.status, 'Progressing');
    const complete = status.replicas === status.updatedReplicas && cur?.reason === Reasons.NewRSAvailable;
    if (hasProgressDeadline(d) && !complete) {
      const rsName = newRS?.metadata?.name;
      if (deploymentComplete(d, status)) {
        const msg = rsName ? `ReplicaSet "${rsName}" has successfully progressed.` : `Deployment "${d.metadata.name}" has successfully progressed.`;
        setCondition(status, newCondition('Progressing', 'True', Reasons.NewRSAvailable, msg, now));
      } else if (deploymentProgressing(d, status)) {
        const msg = rsName ? `ReplicaSet "${rsName}" is progressing.` : `Deployment "${d.metadata.name}" is progressing.`;
        const c = newCondition('Progressing', 'True', Reasons.ReplicaSetUpdated, msg, now);
        // Progress refreshes lastUpdateTime even when the reason stays the same.
        if (cur) {
          if (cur.status === 'True') c.lastTransitionTime = cur.lastTransitionTime;
          removeCondition(status, 'Progressing');
        }
        setCondition(status, c);
      } else if (deploymentTimedOut(d, status, now)) {
        const msg = rsName ? `ReplicaSet "${rsName}" has timed out progressing.` : `Deployment "${d.metadata.name}" has timed out progressing.`;
        setCondition(status, newCondition('Progressing', 'False', Reasons.TimedOut, msg, now));
      }
    }
    const failure = activeReplicaSets(allRSs)
      .map((rs) => getCondition(rs.status, 'ReplicaFailure'))
      .find((c) => c?.status === 'True');
    if (failure) setCondition(status, newCondition('ReplicaFailure', failure.status, failure.reason, failure.message, now));
    else removeCondition(status, 'ReplicaFailure');

    if (statusEqual(d.status, status)) {
      this.requeueStuck(d, status);
      return;
    }
    d.status = status;
    await this.writeStatus(d);
  }

  /** Look again when the progress deadline would pass, so a stuck rollout is reported on time. */
  private requeueStuck(d: KObject, status: KObject): void {
    const cur = getCondition(d.status, 'Progressing');
    if (!hasProgressDeadline(d) || !cur) return;
    if (deploymentComplete(d, status) || cur.reason === Reasons.TimedOut) return;
    const after = Date.parse(cur.lastUpdateTime) + d.spec.progressDeadlineSeconds * 1000 - this.now();
    if (after < 1000) this.queue.addRateLimited(key(d));
    else this.queue.addAfter(key(d), after + 1000);
  }
}
