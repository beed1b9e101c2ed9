/**
 * The ReplicaSet controller (upstream's pkg/controller/replicaset): keeps `spec.replicas` pods
 * that match the selector and are controlled by the ReplicaSet, creating them from the template in
 * slow-start batches and deleting the least valuable extras, and reports what it sees in status.
 *
 * Informer handlers only adjust expectations and enqueue `namespace/name`; `sync(key)` reads the
 * listers. Expectations keep a sync from acting on a cache that has not yet seen its own writes.
 */
import { StatusError } from '../../api/errors.js';
import { labelSelectorFromObject, selectorFromSet, selectorIsEmpty, selectorMatches, type LabelSelector } from '../../api/labels/index.js';
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
import { UIDTrackingControllerExpectations } from '../common/expectations.js';
import { getControllerOf, newControllerRef, resolveControllerRef } from '../common/controller-ref.js';
import { claimObjects, recheckOwner } from '../common/claim.js';
import { selectingControllers } from '../common/selecting.js';
import { isPodActive, isPodAvailable, isPodReady, podFromTemplate, podsToDelete, slowStartBatch } from './pods.js';
import { ControllerLoop } from '../common/controller-loop.js';
import { rfc3339 } from '../../base/time.js';

const log = logger('replicaset-controller');
const GVK = { apiVersion: 'apps/v1', kind: 'ReplicaSet' };

/** Upstream's BurstReplicas: at most this many creates or deletes per sync. */
export const BURST_REPLICAS = 500;

export interface ReplicaSetControllerOptions {
  /** Concurrent syncs (upstream's --concurrent-replicaset-syncs). Default 5. */
  workers?: number;
  burstReplicas?: number;
  /** Milliseconds clock, for availability. Default Date.now. */
  now?: () => number;
}

const key = (obj: KObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
const deepEqual = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The ReplicaSet controller, as a {@link Component}. */
export class ReplicaSetController implements Component {
  readonly name = 'replicaset-controller';
  readonly expectations = new UIDTrackingControllerExpectations();
  readonly queue = new WorkQueue<string>({ name: 'replicaset' });
  /** The sync handler; a field so tests can wrap or replace it. */
  syncHandler: (key: string) => Promise<void> = (k) => this.sync(k);
  private client!: RestClient;
  private recorder!: EventRecorder;
  private rsLister!: Lister;
  private podLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'replicaset');
  private readonly workers: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(opts: ReplicaSetControllerOptions = {}) {
    this.workers = opts.workers ?? 5;
    this.burst = opts.burstReplicas ?? BURST_REPLICAS;
    this.now = opts.now ?? Date.now;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    this.recorder = ctx.recorder(this.name);
    const rsInf = ctx.informers.forResource(resources.replicasets);
    const podInf = ctx.informers.forResource(resources.pods, { indexers: { [CONTROLLER_UID_INDEX]: controllerUIDIndexFunc } });
    this.rsLister = rsInf.lister;
    this.podLister = podInf.lister;
    this.loop.regs.push(
      rsInf.addEventHandler({
        onAdd: (rs) => this.enqueue(rs),
        onUpdate: (old, cur) => {
          if (old.metadata?.uid !== cur.metadata?.uid) this.onDeleteRS(old);
          this.enqueue(cur);
        },
        onDelete: (rs) => this.onDeleteRS(rs),
      }),
      podInf.addEventHandler({
        onAdd: (pod) => this.onAddPod(pod),
        onUpdate: (old, cur) => this.onUpdatePod(old, cur),
        onDelete: (pod) => this.onDeletePod(pod),
      }),
    );
    ctx.informers.start();
    this.loop.run(
      async () => {
        await Promise.all([rsInf.waitForSync(), podInf.waitForSync()]);
      },
      this.workers,
      (k) => this.syncHandler(k),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  private enqueue(rs: KObject, afterMs = 0): void {
    if (afterMs > 0) this.queue.addAfter(key(rs), afterMs);
    else this.queue.add(key(rs));
  }

  private onDeleteRS(obj: KObject | DeletedFinalStateUnknown): void {
    const rs = objectFromTombstone(obj);
    this.expectations.deleteExpectations(key(rs));
    this.enqueue(rs);
  }

  private getRS = (ns: string, name: string) => this.rsLister.get(ns, name);

  /** ReplicaSets in the pod's namespace whose (non-empty) selector matches it: candidates to adopt an orphan. */
  private replicaSetsForPod(pod: KObject): KObject[] {
    return selectingControllers(this.rsLister.list(pod.metadata?.namespace), pod);
  }

  private onAddPod(pod: KObject): void {
    // A pod already being deleted when first seen (e.g. after a restart) is not a creation.
    if (pod.metadata?.deletionTimestamp) return this.onDeletePod(pod);
    const ref = getControllerOf(pod);
    if (ref) {
      const rs = resolveControllerRef(pod.metadata.namespace, ref, 'ReplicaSet', this.getRS);
      if (!rs) return;
      this.expectations.creationObserved(key(rs));
      this.enqueue(rs);
      return;
    }
    for (const rs of this.replicaSetsForPod(pod)) this.enqueue(rs);
  }

  private onUpdatePod(old: KObject, cur: KObject): void {
    if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
    const labelsChanged = !deepEqual(old.metadata?.labels, cur.metadata?.labels);
    if (cur.metadata?.deletionTimestamp) {
      // Graceful deletion starts: count it now so the replacement is not held up by the grace period.
      this.onDeletePod(cur);
      if (labelsChanged) this.onDeletePod(old);
      return;
    }
    const curRef = getControllerOf(cur);
    const oldRef = getControllerOf(old);
    const refChanged = !deepEqual(curRef, oldRef);
    if (refChanged && oldRef) {
      const rs = resolveControllerRef(old.metadata.namespace, oldRef, 'ReplicaSet', this.getRS);
      if (rs) this.enqueue(rs);
    }
    if (curRef) {
      const rs = resolveControllerRef(cur.metadata.namespace, curRef, 'ReplicaSet', this.getRS);
      if (!rs) return;
      this.enqueue(rs);
      // Recheck once the pod has been ready long enough to count as available.
      const mrs = Number(rs.spec?.minReadySeconds ?? 0);
      if (mrs > 0 && !isPodReady(old) && isPodReady(cur)) this.enqueue(rs, mrs * 1000 + 1000);
      return;
    }
    if (labelsChanged || refChanged) for (const rs of this.replicaSetsForPod(cur)) this.enqueue(rs);
  }

  private onDeletePod(obj: KObject | DeletedFinalStateUnknown): void {
    const pod = objectFromTombstone(obj);
    const ref = getControllerOf(pod);
    if (!ref) return;
    const rs = resolveControllerRef(pod.metadata?.namespace, ref, 'ReplicaSet', this.getRS);
    if (!rs) return;
    this.expectations.deletionObservedOf(key(rs), key(pod));
    this.enqueue(rs);
  }

  /** Reconcile one ReplicaSet: claim pods, create or delete to reach spec.replicas, write status. */
  async sync(rsKey: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(rsKey);
    const rs = this.rsLister.get(namespace, name);
    if (!rs) {
      this.expectations.deleteExpectations(rsKey);
      return;
    }
    const needsSync = this.expectations.satisfied(rsKey);
    let selector: LabelSelector;
    try {
      selector = labelSelectorFromObject(rs.spec?.selector);
    } catch (e) {
      // Validation should have refused it; retrying will not help.
      log.error('invalid selector', { replicaset: rsKey, err: errText(e) });
      return;
    }
    const active = this.podLister.list(namespace).filter(isPodActive);
    const pods = await claimObjects(this.client, resources.pods, active, {
      owner: rs,
      gvk: GVK,
      match: (p) => !selectorIsEmpty(selector) && selectorMatches(selector, p.metadata?.labels ?? {}),
      canAdopt: recheckOwner(this.client, resources.replicasets, rs),
    });

    let manageErr: unknown;
    if (needsSync && !rs.metadata?.deletionTimestamp) {
      try {
        await this.manageReplicas(rsKey, rs, pods);
      } catch (e) {
        manageErr = e;
      }
    }
    const status = calculateReplicaSetStatus(rs, pods, manageErr, this.now());
    const updated = await this.updateStatus(rs, status);
    if (manageErr) throw manageErr;
    const replicas = Number(rs.spec?.replicas ?? 1);
    const mrs = Number(rs.spec?.minReadySeconds ?? 0);
    if (mrs > 0 && updated.status?.readyReplicas === replicas && updated.status?.availableReplicas !== replicas) {
      this.queue.addAfter(rsKey, mrs * 1000);
    }
  }

  private async manageReplicas(rsKey: string, rs: KObject, pods: KObject[]): Promise<void> {
    const diff = pods.length - Number(rs.spec?.replicas ?? 1);
    if (diff < 0) {
      const n = Math.min(-diff, this.burst);
      // Recorded before any write: the watch may report the pods before the creates return.
      this.expectations.expectCreations(rsKey, n);
      const ref = newControllerRef(rs, GVK);
      const { successes, error } = await slowStartBatch(n, 1, async () => {
        try {
          const pod = podFromTemplate(rs.spec?.template, rs.metadata.name, ref);
          const created = await this.client.create(resources.pods, rs.metadata.namespace, pod);
          this.recorder.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata?.name}`);
        } catch (e) {
          this.recorder.event(rs, 'Warning', 'FailedCreate', `Error creating: ${errText(e)}`);
          throw e;
        }
      });
      // Creations that failed or were skipped will never be observed.
      for (let i = successes; i < n; i++) this.expectations.creationObserved(rsKey);
      if (error) throw error;
      return;
    }
    if (diff > 0) {
      const n = Math.min(diff, this.burst);
      const related = this.podLister.byIndex(CONTROLLER_UID_INDEX, rs.metadata.uid);
      const victims = podsToDelete(pods, related, n);
      this.expectations.expectDeletionsOf(rsKey, victims.map(key));
      const results = await Promise.allSettled(
        victims.map(async (pod) => {
          try {
            await this.client.delete(resources.pods, pod.metadata.namespace, pod.metadata.name, { preconditions: { uid: pod.metadata.uid } });
            this.recorder.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
          } catch (e) {
            // This deletion will not be observed: count it down now.
            this.expectations.deletionObservedOf(rsKey, key(pod));
            if (e instanceof StatusError && e.code === 404) return;
            this.recorder.event(rs, 'Warning', 'FailedDelete', `Error deleting: ${errText(e)}`);
            throw e;
          }
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  /** Write status through /status when it changed; one retry on a conflict with a fresh read. */
  private async updateStatus(rs: KObject, status: KObject): Promise<KObject> {
    const cur = rs.status ?? {};
    const same =
      (cur.replicas ?? 0) === status.replicas &&
      (cur.fullyLabeledReplicas ?? 0) === status.fullyLabeledReplicas &&
      (cur.readyReplicas ?? 0) === status.readyReplicas &&
      (cur.availableReplicas ?? 0) === status.availableReplicas &&
      (cur.observedGeneration ?? 0) === (rs.metadata?.generation ?? 0) &&
      deepEqual(cur.conditions ?? [], status.conditions ?? []);
    if (same) return rs;
    let obj = rs;
    for (let attempt = 0; ; attempt++) {
      const next: KObject = { ...obj, status: { ...status, observedGeneration: obj.metadata?.generation ?? 0 } };
      if (!next.status.conditions?.length) delete next.status.conditions;
      try {
        return await this.client.update(resources.replicasets, next, 'status');
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 409) || attempt >= 1) throw e;
        obj = await this.client.get(resources.replicasets, rs.metadata.namespace, rs.metadata.name);
      }
    }
  }
}

/**
 * The status a ReplicaSet should report for its claimed active pods (upstream's calculateStatus):
 * counts, and the ReplicaFailure condition set on a failed create/delete and cleared on success.
 * `observedGeneration` is filled in when written.
 */
export function calculateReplicaSetStatus(rs: KObject, pods: KObject[], manageErr: unknown, nowMs: number): KObject {
  const templateSel = selectorFromSet(rs.spec?.template?.metadata?.labels ?? {});
  const mrs = Number(rs.spec?.minReadySeconds ?? 0);
  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  for (const p of pods) {
    if (selectorMatches(templateSel, p.metadata?.labels ?? {})) fullyLabeled++;
    if (isPodReady(p)) {
      ready++;
      if (isPodAvailable(p, mrs, nowMs)) available++;
    }
  }
  let conditions: KObject[] = [...(rs.status?.conditions ?? [])];
  const hasFailure = conditions.some((c) => c.type === 'ReplicaFailure');
  if (manageErr !== undefined && !hasFailure) {
    const diff = pods.length - Number(rs.spec?.replicas ?? 1);
    const reason = diff < 0 ? 'FailedCreate' : diff > 0 ? 'FailedDelete' : '';
    conditions.push({ type: 'ReplicaFailure', status: 'True', lastTransitionTime: rfc3339(nowMs), reason, message: errText(manageErr) });
  } else if (manageErr === undefined && hasFailure) {
    conditions = conditions.filter((c) => c.type !== 'ReplicaFailure');
  }
  return { replicas: pods.length, fullyLabeledReplicas: fullyLabeled, readyReplicas: ready, availableReplicas: available, conditions };
}
