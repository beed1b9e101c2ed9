/**
 * The DaemonSet controller (upstream's pkg/controller/daemon): one pod per eligible node, pinned
 * to that node through required node affinity on metadata.name so the scheduler binds it there;
 * rolling updates bounded by maxUnavailable (or OnDelete), ControllerRevisions named by the
 * template hash, and the status counts.
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
import { UIDTrackingControllerExpectations } from '../common/expectations.js';
import {
  CONTROLLER_REVISION_HASH_LABEL,
  daemonPodTolerations,
  isPodAvailable,
  isPodReady,
  nodeShouldRunDaemonPod,
  pinToNode,
  resolveMaxUnavailable,
  targetNodeName,
  templateHash,
} from './util.js';
import { ControllerLoop } from '../common/controller-loop.js';

const log = logger('daemonset-controller');
const GVK = { apiVersion: 'apps/v1', kind: 'DaemonSet' };

export interface DaemonSetControllerOptions {
  /** Concurrent syncs (upstream --concurrent-daemonset-syncs). Default 2. */
  workers?: number;
  /** Milliseconds clock, for availability. Default Date.now. */
  now?: () => number;
}

const key = (obj: KObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));
const isCode = (e: unknown, ...codes: number[]) => e instanceof StatusError && codes.includes(e.code);
const created = (p: KObject) => Date.parse(p.metadata?.creationTimestamp ?? '') || 0;

/** What one sync decided: pods to create (by node) and pods to delete. */
interface Plan {
  create: string[];
  remove: { pod: KObject; force: boolean }[];
}

/** The DaemonSet controller, as a {@link Component}. */
export class DaemonSetController implements Component {
  readonly name = 'daemonset-controller';
  readonly expectations = new UIDTrackingControllerExpectations();
  readonly queue = new WorkQueue<string>({ name: 'daemonset' });
  private client!: RestClient;
  private recorder!: EventRecorder;
  private dsLister!: Lister;
  private podLister!: Lister;
  private nodeLister!: Lister;
  private revLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'daemonset');
  private readonly workers: number;
  private readonly now: () => number;

  constructor(opts: DaemonSetControllerOptions = {}) {
    this.workers = opts.workers ?? 2;
    this.now = opts.now ?? Date.now;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    this.recorder = ctx.recorder(this.name);
    const dsInf = ctx.informers.forResource(resources.daemonsets);
    const podInf = ctx.informers.forResource(resources.pods, { indexers: { [CONTROLLER_UID_INDEX]: controllerUIDIndexFunc } });
    const nodeInf = ctx.informers.forResource(resources.nodes);
    const revInf = ctx.informers.forResource(resources.controllerrevisions, { indexers: { [CONTROLLER_UID_INDEX]: controllerUIDIndexFunc } });
    this.dsLister = dsInf.lister;
    this.podLister = podInf.lister;
    this.nodeLister = nodeInf.lister;
    this.revLister = revInf.lister;
    const enqueueAll = () => {
      for (const ds of this.dsLister.list()) this.queue.add(key(ds));
    };
    this.loop.regs.push(
      dsInf.addEventHandler({
        onAdd: (ds) => this.queue.add(key(ds)),
        onUpdate: (_old, cur) => this.queue.add(key(cur)),
        onDelete: (obj) => {
          const ds = objectFromTombstone(obj);
          this.expectations.deleteExpectations(key(ds));
          this.queue.add(key(ds));
        },
      }),
      podInf.addEventHandler({
        onAdd: (pod) => (pod.metadata?.deletionTimestamp ? this.onDeletePod(pod) : this.onPod(pod, true)),
        onUpdate: (old, cur) => {
          if (cur.metadata?.deletionTimestamp) this.onDeletePod(cur);
          else this.onPod(cur, false);
          const oldRef = getControllerOf(old);
          if (oldRef && oldRef.uid !== getControllerOf(cur)?.uid) this.onPod(old, false);
        },
        onDelete: (pod) => this.onDeletePod(pod),
      }),
      // Node changes can change eligibility of any DaemonSet.
      nodeInf.addEventHandler({
        onAdd: enqueueAll,
        onUpdate: (old, cur) => {
          if (JSON.stringify([old.metadata?.labels, old.spec?.taints]) !== JSON.stringify([cur.metadata?.labels, cur.spec?.taints])) enqueueAll();
        },
        onDelete: enqueueAll,
      }),
    );
    ctx.informers.start();
    this.loop.run(
      async () => {
        await Promise.all([dsInf.waitForSync(), podInf.waitForSync(), nodeInf.waitForSync(), revInf.waitForSync()]);
      },
      this.workers,
      (k) => this.sync(k),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  private getDS = (ns: string, name: string) => this.dsLister.get(ns, name);

  private onPod(pod: KObject, isAdd: boolean): void {
    const ref = getControllerOf(pod);
    if (ref) {
      const ds = resolveControllerRef(pod.metadata?.namespace, ref, 'DaemonSet', this.getDS);
      if (!ds) return;
      if (isAdd) this.expectations.creationObserved(key(ds));
      this.queue.add(key(ds));
      return;
    }
    // An orphan: any DaemonSet whose selector matches may adopt it.
    for (const ds of this.dsLister.list(pod.metadata?.namespace)) {
      try {
        const sel = labelSelectorFromObject(ds.spec?.selector);
        if (!selectorIsEmpty(sel) && selectorMatches(sel, pod.metadata?.labels ?? {})) this.queue.add(key(ds));
      } catch {
        // An invalid selector adopts nothing.
      }
    }
  }

  private onDeletePod(obj: KObject | DeletedFinalStateUnknown): void {
    const pod = objectFromTombstone(obj);
    const ref = getControllerOf(pod);
    if (!ref) return;
    const ds = resolveControllerRef(pod.metadata?.namespace, ref, 'DaemonSet', this.getDS);
    if (!ds) return;
    this.expectations.deletionObservedOf(key(ds), key(pod));
    this.queue.add(key(ds));
  }

  /** Reconcile one DaemonSet. */
  async sync(dsKey: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(dsKey);
    const ds = this.dsLister.get(namespace, name);
    if (!ds) {
      this.expectations.deleteExpectations(dsKey);
      return;
    }
    let selector: LabelSelector;
    try {
      selector = labelSelectorFromObject(ds.spec?.selector);
    } catch (e) {
      log.error('invalid selector', { daemonset: dsKey, err: errText(e) });
      return;
    }
    if (selectorIsEmpty(selector)) {
      this.recorder.event(ds, 'Warning', 'SelectingAll', 'This daemon set is selecting all pods. A non-empty selector is required.');
      return;
    }
    const hash = templateHash(ds.spec?.template, ds.status?.collisionCount);
    const active = this.podLister.list(namespace).filter((p) => !['Succeeded', 'Failed'].includes(p.status?.phase) || getControllerOf(p)?.uid === ds.metadata.uid);
    const pods = await claimObjects(this.client, resources.pods, active, {
      owner: ds,
      gvk: GVK,
      match: (p) => selectorMatches(selector, p.metadata?.labels ?? {}),
      canAdopt: recheckOwner(this.client, resources.daemonsets, ds),
    });
    const byNode = new Map<string, KObject[]>();
    for (const p of pods) {
      const n = targetNodeName(p) ?? '';
      byNode.set(n, [...(byNode.get(n) ?? []), p]);
    }
    const nodes = this.nodeLister.list();
    if (!ds.metadata?.deletionTimestamp) {
      await this.ensureRevision(ds, hash).catch((e) => log.warn('could not record ControllerRevision', { daemonset: dsKey, err: errText(e) }));
      if (this.expectations.satisfied(dsKey)) {
        const plan = this.plan(ds, nodes, byNode, hash);
        await this.apply(dsKey, ds, plan, hash);
      }
    }
    await this.updateStatus(ds, nodes, byNode, hash);
  }

  /** Decide creations and deletions: missing pods, extras, misscheduled pods, failed pods, and the rolling update. */
  private plan(ds: KObject, nodes: KObject[], byNode: Map<string, KObject[]>, hash: string): Plan {
    const plan: Plan = { create: [], remove: [] };
    const nodeNames = new Set(nodes.map((n) => n.metadata.name));
    const live = (ps: KObject[]) => ps.filter((p) => !p.metadata?.deletionTimestamp);
    for (const node of nodes) {
      const name = node.metadata.name;
      const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(node, ds);
      const here = live(byNode.get(name) ?? []);
      if (!shouldContinueRunning) {
        for (const pod of here) plan.remove.push({ pod, force: false });
        continue;
      }
      // Failed daemon pods are replaced (upstream kills them and creates anew).
      const failed = here.filter((p) => p.status?.phase === 'Failed');
      for (const pod of failed) plan.remove.push({ pod, force: false });
      const ok = here.filter((p) => p.status?.phase !== 'Failed').sort((a, b) => created(a) - created(b));
      if (!ok.length) {
        if (shouldRun && !failed.length && !(byNode.get(name) ?? []).some((p) => p.metadata?.deletionTimestamp)) plan.create.push(name);
        continue;
      }
      // Keep the oldest; extras go.
      for (const pod of ok.slice(1)) plan.remove.push({ pod, force: false });
    }
    // Pods for nodes that no longer exist (or never named one) cannot be run: remove them now.
    for (const [name, ps] of byNode) if (!nodeNames.has(name)) for (const pod of live(ps)) plan.remove.push({ pod, force: true });
    if ((ds.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') this.rollingUpdate(ds, nodes, byNode, hash, plan);
    return plan;
  }

  /** Delete old-template pods while no more than maxUnavailable eligible nodes lack an available pod. */
  private rollingUpdate(ds: KObject, nodes: KObject[], byNode: Map<string, KObject[]>, hash: string, plan: Plan): void {
    const mrs = Number(ds.spec?.minReadySeconds ?? 0);
    const now = this.now();
    const eligible = nodes.filter((n) => nodeShouldRunDaemonPod(n, ds).shouldRun);
    const maxUnavailable = resolveMaxUnavailable(ds.spec?.updateStrategy?.rollingUpdate?.maxUnavailable, eligible.length);
    const removing = new Set(plan.remove.map((r) => r.pod.metadata.uid));
    let unavailable = 0;
    const oldAvailable: KObject[] = [];
    for (const node of eligible) {
      const pods = (byNode.get(node.metadata.name) ?? []).filter((p) => !p.metadata?.deletionTimestamp && !removing.has(p.metadata.uid));
      const pod = pods[0];
      if (!pod || !isPodAvailable(pod, mrs, now)) {
        unavailable++;
        // An old pod that is not available anyway costs nothing to replace.
        if (pod && pod.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL] !== hash) plan.remove.push({ pod, force: false });
        continue;
      }
      if (pod.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL] !== hash) oldAvailable.push(pod);
    }
    for (const pod of oldAvailable.sort((a, b) => created(a) - created(b))) {
      if (unavailable >= maxUnavailable) break;
      plan.remove.push({ pod, force: false });
      unavailable++;
    }
  }

  private async apply(dsKey: string, ds: KObject, plan: Plan, hash: string): Promise<void> {
    const deletions = plan.remove;
    this.expectations.setExpectations(dsKey, plan.create.length, 0);
    this.expectations.expectDeletionsOf(dsKey, deletions.map((d) => key(d.pod)));
    const ref = newControllerRef(ds, GVK);
    const errors: unknown[] = [];
    await Promise.all([
      ...plan.create.map(async (nodeName) => {
        try {
          const pod = this.newPod(ds, nodeName, hash, ref);
          const out = await this.client.create(resources.pods, ds.metadata.namespace, pod);
          this.recorder.event(ds, 'Normal', 'SuccessfulCreate', `Created pod: ${out.metadata?.name}`);
        } catch (e) {
          this.expectations.creationObserved(dsKey);
          this.recorder.event(ds, 'Warning', 'FailedCreate', `Error creating: ${errText(e)}`);
          errors.push(e);
        }
      }),
      ...deletions.map(async ({ pod, force }) => {
        try {
          await this.client.delete(resources.pods, pod.metadata.namespace, pod.metadata.name, { preconditions: { uid: pod.metadata.uid }, ...(force ? { gracePeriodSeconds: 0 } : {}) });
          this.recorder.event(ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
        } catch (e) {
          this.expectations.deletionObservedOf(dsKey, key(pod));
          if (isCode(e, 404, 409)) return;
          this.recorder.event(ds, 'Warning', 'FailedDelete', `Error deleting: ${errText(e)}`);
          errors.push(e);
        }
      }),
    ]);
    if (errors.length) throw errors[0];
  }

  /** The daemon pod for one node: the template with the hash label, automatic tolerations, pinned to the node. */
  private newPod(ds: KObject, nodeName: string, hash: string, ref: KObject): KObject {
    const tm = ds.spec?.template?.metadata ?? {};
    const spec = structuredClone(ds.spec?.template?.spec ?? {});
    spec.tolerations = daemonPodTolerations(spec);
    spec.affinity = pinToNode(spec.affinity, nodeName);
    const metadata: KObject = {
      generateName: `${ds.metadata.name}-`,
      labels: { ...tm.labels, [CONTROLLER_REVISION_HASH_LABEL]: hash },
      ownerReferences: [ref],
    };
    if (tm.annotations) metadata.annotations = { ...tm.annotations };
    return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
  }

  /** Record the current template as a ControllerRevision `<name>-<hash>`, newest revision number. */
  private async ensureRevision(ds: KObject, hash: string): Promise<void> {
    const owned = this.revLister.byIndex(CONTROLLER_UID_INDEX, ds.metadata.uid);
    const name = `${ds.metadata.name}-${hash}`;
    const max = owned.reduce((m, r) => Math.max(m, Number(r.revision ?? 0)), 0);
    const cur = owned.find((r) => r.metadata?.name === name);
    if (cur) {
      if (Number(cur.revision) < max) await this.client.update(resources.controllerrevisions, { ...cur, revision: max + 1 });
      return;
    }
    const rev = {
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: { name, labels: { ...ds.spec?.selector?.matchLabels, [CONTROLLER_REVISION_HASH_LABEL]: hash }, ownerReferences: [newControllerRef(ds, GVK)] },
      data: { spec: { template: { ...ds.spec?.template, $patch: 'replace' } } },
      revision: max + 1,
    };
    try {
      await this.client.create(resources.controllerrevisions, ds.metadata.namespace, rev);
    } catch (e) {
      if (!isCode(e, 409)) throw e;
    }
  }

  private async updateStatus(ds: KObject, nodes: KObject[], byNode: Map<string, KObject[]>, hash: string): Promise<void> {
    const mrs = Number(ds.spec?.minReadySeconds ?? 0);
    const now = this.now();
    let desired = 0;
    let current = 0;
    let misscheduled = 0;
    let ready = 0;
    let available = 0;
    let updated = 0;
    for (const node of nodes) {
      const { shouldRun } = nodeShouldRunDaemonPod(node, ds);
      const pods = (byNode.get(node.metadata.name) ?? []).filter((p) => !p.metadata?.deletionTimestamp);
      if (shouldRun) desired++;
      if (!pods.length) continue;
      if (!shouldRun) {
        misscheduled++;
        continue;
      }
      current++;
      const pod = pods.sort((a, b) => created(a) - created(b))[0]!;
      if (isPodReady(pod)) ready++;
      if (isPodAvailable(pod, mrs, now)) available++;
      if (pod.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL] === hash) updated++;
    }
    const status: KObject = {
      ...ds.status,
      currentNumberScheduled: current,
      numberMisscheduled: misscheduled,
      desiredNumberScheduled: desired,
      numberReady: ready,
      observedGeneration: ds.metadata?.generation ?? 0,
      updatedNumberScheduled: updated,
      numberAvailable: available,
      numberUnavailable: desired - available,
    };
    if (!status.numberAvailable) delete status.numberAvailable;
    if (!status.numberUnavailable) delete status.numberUnavailable;
    if (!status.updatedNumberScheduled) delete status.updatedNumberScheduled;
    const old: KObject = ds.status ?? {};
    if (Object.keys({ ...old, ...status }).every((k) => JSON.stringify(old[k]) === JSON.stringify(status[k]))) return;
    try {
      await this.client.update(resources.daemonsets, { ...ds, status }, 'status');
    } catch (e) {
      if (isCode(e, 404)) return;
      throw e;
    }
    if (mrs > 0 && ready !== available) this.queue.addAfter(key(ds), mrs * 1000);
  }
}
