/**
 * The StatefulSet controller (upstream's pkg/controller/statefulset): keeps pods `<set>-0` ..
 * `<set>-(replicas-1)` with stable names and identities, created in ordinal order and each only
 * once its predecessors are Running and Ready (OrderedReady), or all at once (Parallel); scales
 * down from the highest ordinal; records templates as ControllerRevisions and rolls pods to the
 * newest one from the highest ordinal down to the partition (RollingUpdate) or leaves that to the
 * user (OnDelete).
 *
 * No expectations are needed: pod names are fixed, so a create from a stale cache fails with
 * AlreadyExists and a delete carries a uid precondition. Each ordinal's volumeClaimTemplates
 * become PersistentVolumeClaims `<template>-<set>-<ordinal>`, created before its pod and reused
 * when they exist; persistentVolumeClaimRetentionPolicy is carried out through the claims' owner
 * references, which the garbage collector follows.
 */
import { StatusError } from '../../api/errors.js';
import { labelSelectorFromObject, selectorIsEmpty, selectorMatches, type LabelSelector } from '../../api/labels/index.js';
import { logger } from '../../base/log.js';
import type { Component, ComponentContext } from '../../client/component.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import {
  CONTROLLER_UID_INDEX,
  controllerUIDIndexFunc,
  objectFromTombstone,
  splitMetaNamespaceKey,
  type DeletedFinalStateUnknown,
  type Lister,
} from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { claimObjects, recheckOwner } from '../common/claim.js';
import { getControllerOf, newControllerRef, resolveControllerRef } from '../common/controller-ref.js';
import { selectingControllers } from '../common/selecting.js';
import {
  canonicalJSON,
  claimOwnerRefs,
  claimsForOrdinal,
  CONTROLLER_REVISION_HASH_LABEL,
  isCreated,
  isFinished,
  isHealthy,
  isRunningAndAvailable,
  isRunningAndReady,
  isTerminating,
  newStatefulSetPod,
  ordinalOf,
  podRevision,
  revisionData,
  revisionHash,
  templateOfRevision,
} from './util.js';
import { ControllerLoop } from '../common/controller-loop.js';

const log = logger('statefulset-controller');
const GVK = { apiVersion: 'apps/v1', kind: 'StatefulSet' };

export interface StatefulSetControllerOptions {
  /** Concurrent syncs (upstream's --concurrent-statefulset-syncs). Default 5. */
  workers?: number;
  /** Milliseconds clock, for availability (minReadySeconds). Default Date.now. */
  now?: () => number;
}

const key = (obj: KObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
const isCode = (e: unknown, code: number) => e instanceof StatusError && e.code === code;
const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The StatefulSet controller, as a {@link Component}. */
export class StatefulSetController implements Component {
  readonly name = 'statefulset-controller';
  readonly queue = new WorkQueue<string>({ name: 'statefulset' });
  private client!: RestClient;
  private recorder!: EventRecorder;
  private stsLister!: Lister;
  private podLister!: Lister;
  private revLister!: Lister;
  private pvcLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'statefulset');
  private readonly workers: number;
  private readonly now: () => number;

  constructor(opts: StatefulSetControllerOptions = {}) {
    this.workers = opts.workers ?? 5;
    this.now = opts.now ?? Date.now;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    this.recorder = ctx.recorder(this.name);
    const stsInf = ctx.informers.forResource(resources.statefulsets);
    const podInf = ctx.informers.forResource(resources.pods, { indexers: { [CONTROLLER_UID_INDEX]: controllerUIDIndexFunc } });
    const revInf = ctx.informers.forResource(resources.controllerrevisions, { indexers: { [CONTROLLER_UID_INDEX]: controllerUIDIndexFunc } });
    this.stsLister = stsInf.lister;
    this.podLister = podInf.lister;
    this.revLister = revInf.lister;
    const pvcInf = ctx.informers.forResource(resources.persistentvolumeclaims);
    this.pvcLister = pvcInf.lister;
    this.loop.regs.push(
      stsInf.addEventHandler({
        onAdd: (s) => this.enqueue(s),
        onUpdate: (_old, cur) => this.enqueue(cur),
        onDelete: (s) => this.enqueue(objectFromTombstone(s)),
      }),
      podInf.addEventHandler({
        onAdd: (p) => this.onPod(p),
        onUpdate: (old, cur) => {
          if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
          const oldRef = getControllerOf(old);
          if (oldRef && oldRef.uid !== getControllerOf(cur)?.uid) this.onPod(old);
          this.onPod(cur);
        },
        onDelete: (p) => this.onPod(p),
      }),
    );
    ctx.informers.start();
    this.loop.run(
      async () => {
        await Promise.all([stsInf.waitForSync(), podInf.waitForSync(), revInf.waitForSync(), pvcInf.waitForSync()]);
      },
      this.workers,
      (k) => this.sync(k),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  private enqueue(sts: KObject): void {
    this.queue.add(key(sts));
  }

  /** Enqueue the pod's controlling StatefulSet, or for an orphan every set that could adopt it. */
  private onPod(obj: KObject | DeletedFinalStateUnknown): void {
    const pod = objectFromTombstone(obj);
    const ref = getControllerOf(pod);
    if (ref) {
      const sts = resolveControllerRef(pod.metadata?.namespace, ref, 'StatefulSet', (ns, n) => this.stsLister.get(ns, n));
      if (sts) this.enqueue(sts);
      return;
    }
    if (!pod.metadata?.deletionTimestamp) for (const s of selectingControllers(this.stsLister.list(pod.metadata?.namespace), pod)) this.enqueue(s);
  }

  /** Reconcile one StatefulSet: claim pods, settle revisions, create/delete/roll pods, write status. */
  async sync(stsKey: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(stsKey);
    const sts = this.stsLister.get(namespace, name);
    if (!sts) return;
    let selector: LabelSelector;
    try {
      selector = labelSelectorFromObject(sts.spec?.selector);
    } catch (e) {
      log.error('invalid selector', { statefulset: stsKey, err: errText(e) });
      return;
    }
    // Members only: a pod the set owns must also carry a name of the set's shape (upstream's isMemberOf).
    const pods = await claimObjects(this.client, resources.pods, this.podLister.list(namespace), {
      owner: sts,
      gvk: GVK,
      match: (p) => !selectorIsEmpty(selector) && selectorMatches(selector, p.metadata?.labels ?? {}) && ordinalOf(name, p) >= 0,
      canAdopt: recheckOwner(this.client, resources.statefulsets, sts),
    });
    if (sts.metadata?.deletionTimestamp) return;

    const { current, update, collisionCount, revisions } = await this.revisions(sts);
    const status = await this.updateStatefulSet(sts, pods, current, update, collisionCount);
    await this.updateStatus(sts, status);
    await this.truncateHistory(sts, pods, revisions, current, update);
    const mrs = Number(sts.spec?.minReadySeconds ?? 0);
    if (mrs > 0 && status.readyReplicas !== status.availableReplicas) this.queue.addAfter(stsKey, mrs * 1000);
  }

  /**
   * The current and update revisions (upstream's getStatefulSetRevisions): the update revision
   * records the present template, reusing an equal older revision by raising its number, or is
   * created with the next number; a name taken by different data bumps collisionCount.
   */
  private async revisions(sts: KObject): Promise<{ current: KObject; update: KObject; collisionCount: number; revisions: KObject[] }> {
    const revisions = this.revLister.byIndex(CONTROLLER_UID_INDEX, sts.metadata.uid).sort((a, b) => Number(a.revision ?? 0) - Number(b.revision ?? 0));
    let collisionCount = Number(sts.status?.collisionCount ?? 0);
    const data = revisionData(sts);
    const max = revisions.reduce((m, r) => Math.max(m, Number(r.revision ?? 0)), 0);
    const equal = revisions.filter((r) => canonicalJSON(r.data) === canonicalJSON(data));
    let update: KObject;
    if (equal.length) {
      update = equal[equal.length - 1]!;
      if (Number(update.revision) < max) update = await this.client.update(resources.controllerrevisions, { ...update, revision: max + 1 });
    } else {
      for (;;) {
        const hash = revisionHash(data, collisionCount);
        const rev: KObject = {
          apiVersion: 'apps/v1',
          kind: 'ControllerRevision',
          metadata: {
            name: `${sts.metadata.name}-${hash}`,
            labels: { ...sts.spec?.template?.metadata?.labels, [CONTROLLER_REVISION_HASH_LABEL]: hash },
            ownerReferences: [newControllerRef(sts, GVK)],
          },
          data,
          revision: max + 1,
        };
        try {
          update = await this.client.create(resources.controllerrevisions, sts.metadata.namespace, rev);
          break;
        } catch (e) {
          if (!isCode(e, 409)) throw e;
          const existing = await this.client.get(resources.controllerrevisions, sts.metadata.namespace, rev.metadata.name);
          if (getControllerOf(existing)?.uid === sts.metadata.uid && canonicalJSON(existing.data) === canonicalJSON(data)) {
            update = existing;
            break;
          }
          collisionCount++;
        }
      }
      revisions.push(update);
    }
    const current = revisions.find((r) => r.metadata?.name === sts.status?.currentRevision) ?? update;
    return { current, update, collisionCount, revisions };
  }

  /**
   * One step of upstream's updateStatefulSet: replace finished pods, create missing ordinals,
   * delete condemned ones (above replicas), then roll one pod to the update revision. OrderedReady
   * stops at the first pod it must wait for; Parallel acts on every ordinal at once.
   */
  private async updateStatefulSet(sts: KObject, pods: KObject[], current: KObject, update: KObject, collisionCount: number): Promise<KObject> {
    const setName: string = sts.metadata.name;
    const replicaCount = Number(sts.spec?.replicas ?? 1);
    const monotonic = sts.spec?.podManagementPolicy !== 'Parallel';
    const rolling = (sts.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
    const partition = rolling ? Number(sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0) : 0;
    const ref = newControllerRef(sts, GVK);
    const replicas: (KObject | undefined)[] = new Array(replicaCount).fill(undefined);
    const condemned: KObject[] = [];
    for (const p of pods) {
      const ord = ordinalOf(setName, p);
      if (ord < replicaCount) replicas[ord] = p;
      else condemned.push(p);
    }
    condemned.sort((a, b) => ordinalOf(setName, b) - ordinalOf(setName, a));

    const statusFor = () => this.computeStatus(sts, [...replicas.filter((p): p is KObject => !!p), ...condemned], current, update, collisionCount);

    // Ordinals below the partition keep the current revision; the rest get the update revision.
    const revisionFor = (ord: number) => (rolling && ord < partition ? current : update);

    const createPod = async (ord: number): Promise<void> => {
      const rev = revisionFor(ord);
      const pod = newStatefulSetPod(sts, templateOfRevision(rev), rev.metadata.name, ord, ref);
      // The claims come first: a pod must never start without its storage.
      await this.ensureClaims(sts, ord, pod.metadata.name, undefined, false);
      try {
        replicas[ord] = await this.client.create(resources.pods, sts.metadata.namespace, pod);
        this.recorder.event(sts, 'Normal', 'SuccessfulCreate', `create Pod ${pod.metadata.name} in StatefulSet ${setName} successful`);
      } catch (e) {
        if (isCode(e, 409)) return; // Our cache is behind: the pod exists already.
        this.recorder.event(sts, 'Warning', 'FailedCreate', `create Pod ${pod.metadata.name} in StatefulSet ${setName} failed error: ${errText(e)}`);
        throw e;
      }
    };
    const deletePod = async (pod: KObject): Promise<void> => {
      // A pod scaled away hands its claims to the retention policy before it goes.
      const ord = ordinalOf(setName, pod);
      if (ord >= replicaCount) await this.ensureClaims(sts, ord, pod.metadata.name, pod, true, false);
      try {
        await this.client.delete(resources.pods, pod.metadata.namespace, pod.metadata.name, { preconditions: { uid: pod.metadata.uid } });
        this.recorder.event(sts, 'Normal', 'SuccessfulDelete', `delete Pod ${pod.metadata.name} in StatefulSet ${setName} successful`);
      } catch (e) {
        if (isCode(e, 404) || isCode(e, 409)) return; // Gone or replaced already.
        this.recorder.event(sts, 'Warning', 'FailedDelete', `delete Pod ${pod.metadata.name} in StatefulSet ${setName} failed error: ${errText(e)}`);
        throw e;
      }
    };
    const parallel: Promise<void>[] = [];
    const act = async (p: Promise<void>): Promise<void> => {
      if (monotonic) await p;
      else parallel.push(p);
    };
    const settle = async () => {
      const results = await Promise.allSettled(parallel.splice(0));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    };

    for (let ord = 0; ord < replicaCount; ord++) {
      const pod = replicas[ord];
      if (pod && isFinished(pod) && !isTerminating(pod)) {
        // A failed or succeeded pod is deleted and made again under the same name.
        this.recorder.event(sts, 'Warning', 'RecreatingFailedPod', `StatefulSet ${sts.metadata.namespace}/${setName} is recreating failed Pod ${pod.metadata.name}`);
        await act(deletePod(pod));
        if (monotonic) return statusFor();
        continue;
      }
      if (!pod) {
        await act(createPod(ord));
        if (monotonic) return statusFor();
        continue;
      }
      // Claims deleted under a live pod are made again (upstream's createMissingPersistentVolumeClaims).
      if (!isTerminating(pod)) await this.ensureClaims(sts, ord, pod.metadata.name, pod, false);
      if (monotonic && !isHealthy(pod)) return statusFor();
    }
    for (const pod of condemned) {
      if (isTerminating(pod)) {
        if (monotonic) return statusFor();
        continue;
      }
      // Ordered scale-down waits for every remaining pod to be healthy.
      if (monotonic && replicas.some((p) => !p || !isHealthy(p))) return statusFor();
      await act(deletePod(pod));
      if (monotonic) return statusFor();
    }
    await settle();

    if (rolling) {
      for (let ord = replicaCount - 1; ord >= partition; ord--) {
        const pod = replicas[ord];
        if (!pod) return statusFor();
        if (podRevision(pod) !== update.metadata.name && !isTerminating(pod)) {
          this.recorder.event(sts, 'Normal', 'SuccessfulDelete', `StatefulSet ${sts.metadata.namespace}/${setName} is terminating Pod ${pod.metadata.name} for update`);
          await deletePod(pod);
          return statusFor();
        }
        if (!isHealthy(pod)) return statusFor();
      }
    }
    return statusFor();
  }

  /**
   * Make sure ordinal `ord`'s claims exist (created from the templates when missing, an existing
   * one reused) and carry the owner references the retention policy asks for. `create` false only
   * fixes owner references of claims that exist.
   */
  private async ensureClaims(sts: KObject, ord: number, podName: string, pod: KObject | undefined, scaledDown: boolean, create = true): Promise<void> {
    const ns: string = sts.metadata.namespace;
    for (const claim of claimsForOrdinal(sts, ord)) {
      const name: string = claim.metadata.name;
      let existing = this.pvcLister.get(ns, name);
      if (!existing && create) {
        const refs = claimOwnerRefs(claim, sts, pod, scaledDown);
        if (refs?.length) claim.metadata.ownerReferences = refs;
        try {
          existing = await this.client.create(resources.persistentvolumeclaims, ns, claim);
          this.recorder.event(sts, 'Normal', 'SuccessfulCreate', `create Claim ${name} Pod ${podName} in StatefulSet ${sts.metadata.name} success`);
          continue;
        } catch (e) {
          if (!isCode(e, 409)) {
            this.recorder.event(sts, 'Warning', 'FailedCreate', `create Claim ${name} for Pod ${podName} in StatefulSet ${sts.metadata.name} failed error: ${errText(e)}`);
            throw e;
          }
          existing = await this.client.get(resources.persistentvolumeclaims, ns, name);
        }
      }
      if (!existing) continue;
      if (existing.metadata?.deletionTimestamp && create && !pod) throw new Error(`pvc ${name} is being deleted`);
      const refs = claimOwnerRefs(existing, sts, pod, scaledDown);
      if (!refs) continue;
      try {
        await this.client.update(resources.persistentvolumeclaims, { ...existing, metadata: { ...existing.metadata, ownerReferences: refs } });
      } catch (e) {
        if (!isCode(e, 404)) throw e;
      }
    }
  }

  /** Status counts over the set's pods (upstream's computeReplicaStatus), and the rollout's end. */
  private computeStatus(sts: KObject, pods: KObject[], current: KObject, update: KObject, collisionCount: number): KObject {
    const mrs = Number(sts.spec?.minReadySeconds ?? 0);
    const now = this.now();
    const st: KObject = {
      replicas: 0,
      readyReplicas: 0,
      currentReplicas: 0,
      updatedReplicas: 0,
      availableReplicas: 0,
      currentRevision: current.metadata.name,
      updateRevision: update.metadata.name,
      collisionCount,
    };
    for (const p of pods) {
      if (isCreated(p)) st.replicas++;
      if (isRunningAndReady(p)) {
        st.readyReplicas++;
        if (isRunningAndAvailable(p, mrs, now)) st.availableReplicas++;
      }
      if (isCreated(p) && !isTerminating(p)) {
        if (podRevision(p) === current.metadata.name) st.currentReplicas++;
        if (podRevision(p) === update.metadata.name) st.updatedReplicas++;
      }
    }
    // A finished rolling update makes the update revision current (upstream's completeRollingUpdate).
    const want = Number(sts.spec?.replicas ?? 1);
    const rolling = (sts.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
    if (rolling && st.updatedReplicas === want && st.readyReplicas === want && st.replicas === want) {
      st.currentRevision = st.updateRevision;
      st.currentReplicas = st.updatedReplicas;
    }
    return st;
  }

  /** Write status through /status when it changed; one retry on a conflict with a fresh read. */
  private async updateStatus(sts: KObject, status: KObject): Promise<void> {
    const next: KObject = { ...status, observedGeneration: sts.metadata?.generation ?? 0 };
    const cur = sts.status ?? {};
    const fields = Object.keys(next);
    if (fields.every((f) => (cur[f] ?? 0) === next[f])) return;
    let obj = sts;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.update(resources.statefulsets, { ...obj, status: { ...obj.status, ...next, observedGeneration: obj.metadata?.generation ?? 0 } }, 'status');
        return;
      } catch (e) {
        if (!isCode(e, 409) || attempt >= 1) throw e;
        obj = await this.client.get(resources.statefulsets, sts.metadata.namespace, sts.metadata.name);
      }
    }
  }

  /**
   * Delete the oldest revisions beyond spec.revisionHistoryLimit, never the current or update
   * revision nor one a live pod was made from (upstream's truncateHistory).
   */
  private async truncateHistory(sts: KObject, pods: KObject[], revisions: KObject[], current: KObject, update: KObject): Promise<void> {
    const live = new Set<string>([current.metadata.name, update.metadata.name]);
    for (const p of pods) {
      const r = podRevision(p);
      if (r) live.add(r);
    }
    const history = revisions.filter((r) => !live.has(r.metadata?.name));
    const limit = Number(sts.spec?.revisionHistoryLimit ?? 10);
    for (const r of history.slice(0, Math.max(0, history.length - limit))) {
      try {
        await this.client.delete(resources.controllerrevisions, r.metadata.namespace, r.metadata.name, { preconditions: { uid: r.metadata.uid } });
      } catch (e) {
        if (!isCode(e, 404) && !isCode(e, 409)) throw e;
      }
    }
  }
}
