/**
 * The node lifecycle controller (upstream's pkg/controller/nodelifecycle, with the taint-eviction
 * controller folded in): watches node heartbeats (Leases in kube-node-lease and the Ready
 * condition), marks silent nodes' conditions Unknown, keeps the condition-derived taints on nodes
 * (not-ready, unreachable, pressure, unschedulable), and evicts pods from nodes with NoExecute
 * taints they do not tolerate, or once their tolerationSeconds run out.
 *
 * NoExecute taints, which start eviction, are added per zone through rate-limited queues whose
 * rate follows the zone's health (zones.ts); when every zone has lost all its nodes the
 * controller assumes it, not the nodes, is cut off and taints nothing ("master disruption").
 */
import { StatusError } from '../../api/errors.js';
import { logger } from '../../base/log.js';
import type { Component, ComponentContext } from '../../client/component.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import { NODE_NAME_INDEX, nodeNameIndexFunc, objectFromTombstone, splitMetaNamespaceKey, type HandlerRegistration, type Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { runWorkers, WorkQueue } from '../../client/workqueue.js';
import {
  sameTaint,
  TaintNodeDiskPressure,
  TaintNodeMemoryPressure,
  TaintNodeNetworkUnavailable,
  TaintNodeNotReady,
  TaintNodePIDPressure,
  TaintNodeUnreachable,
  TaintNodeUnschedulable,
  tolerationsFor,
  type Taint,
} from '../common/taints.js';
import {
  decideDisruption,
  DEFAULT_ZONE_EVICTION,
  excludedFromDisruption,
  RateLimitedNodeQueue,
  zoneDisplay,
  zoneKey,
  type ZoneEvictionConfig,
  type ZoneState,
} from './zones.js';
import { rfc3339 } from '../../base/time.js';

const log = logger('node-lifecycle-controller');

/** Namespace of node heartbeat Leases. */
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** Reason and messages written on conditions of a node that went silent (upstream's strings). */
export const NodeStatusUnknownReason = 'NodeStatusUnknown';
export const NodeStatusUnknownMessage = 'Kubelet stopped posting node status.';
export const NodeStatusNeverUpdatedReason = 'NodeStatusNeverUpdated';
export const NodeStatusNeverUpdatedMessage = 'Kubelet never posted node status.';

/** Conditions besides Ready that go Unknown with it. */
const OTHER_CONDITIONS = ['MemoryPressure', 'DiskPressure', 'PIDPressure'];

/** NoSchedule taints mirroring a condition in a given status (upstream's nodeConditionToTaintKeyStatusMap). */
const CONDITION_TAINTS: { type: string; status: string; key: string }[] = [
  { type: 'Ready', status: 'False', key: TaintNodeNotReady },
  { type: 'Ready', status: 'Unknown', key: TaintNodeUnreachable },
  { type: 'MemoryPressure', status: 'True', key: TaintNodeMemoryPressure },
  { type: 'DiskPressure', status: 'True', key: TaintNodeDiskPressure },
  { type: 'PIDPressure', status: 'True', key: TaintNodePIDPressure },
  { type: 'NetworkUnavailable', status: 'True', key: TaintNodeNetworkUnavailable },
];

/** Every taint this controller owns; others on the node are left alone. */
const MANAGED: Taint[] = [
  ...CONDITION_TAINTS.map((c) => ({ key: c.key, effect: 'NoSchedule' })),
  { key: TaintNodeNotReady, effect: 'NoExecute' },
  { key: TaintNodeUnreachable, effect: 'NoExecute' },
  { key: TaintNodeUnschedulable, effect: 'NoSchedule' },
];

export interface NodeLifecycleControllerOptions {
  /** How often node health is checked (upstream --node-monitor-period). Default 5000. */
  nodeMonitorPeriodMs?: number;
  /** Silence after which a node's conditions turn Unknown (upstream --node-monitor-grace-period). Default 40 000. */
  nodeMonitorGracePeriodMs?: number;
  /** Grace for a node that has never posted a Ready condition. Default 60 000. */
  nodeStartupGracePeriodMs?: number;
  /** Evict pods for NoExecute taints (upstream's taint-eviction controller). Default true. */
  taintEviction?: boolean;
  /** Concurrent node and pod syncs each. Default 4. */
  workers?: number;
  /** Milliseconds clock. Default Date.now. */
  now?: () => number;
  /** Zone-aware NoExecute tainting rates (upstream's --node-eviction-rate and friends). */
  zoneEviction?: Partial<ZoneEvictionConfig>;
  /** How often the per-zone tainting queues are drained (upstream's 100 ms nodeEvictionPeriod). */
  nodeEvictionPeriodMs?: number;
}

/**
 * How {@link reconcileTaints} treats the NoExecute taints: 'apply' adds them now; 'defer' swaps
 * not-ready for unreachable (or back) at once but leaves a new one to the rate-limited queue;
 * 'suppress' removes them (every zone disrupted).
 */
export type NoExecuteMode = 'apply' | 'defer' | 'suppress';

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));
const podKey = (p: KObject) => `${p.metadata?.namespace ?? ''}/${p.metadata?.name}`;
const parseTime = (s: unknown): number | undefined => {
  if (typeof s !== 'string' || !s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
};
const condition = (node: KObject, type: string): KObject | undefined => (node.status?.conditions ?? []).find((c: KObject) => c.type === type);

/**
 * The taints the controller wants on the node among those it manages, from its conditions and
 * spec.unschedulable.
 */
export function desiredManagedTaints(node: KObject): Taint[] {
  const out: Taint[] = [];
  for (const c of CONDITION_TAINTS) if (condition(node, c.type)?.status === c.status) out.push({ key: c.key, effect: 'NoSchedule' });
  const ready = condition(node, 'Ready')?.status;
  if (ready === 'False') out.push({ key: TaintNodeNotReady, effect: 'NoExecute' });
  if (ready === 'Unknown') out.push({ key: TaintNodeUnreachable, effect: 'NoExecute' });
  if (node.spec?.unschedulable) out.push({ key: TaintNodeUnschedulable, effect: 'NoSchedule' });
  return out;
}

/**
 * The node's taints after reconciling the managed ones: managed taints no longer wanted are
 * dropped, wanted ones added with `timeAdded`, everything else kept in place. Undefined when
 * nothing changes.
 */
export function reconcileTaints(node: KObject, nowMs: number, mode: NoExecuteMode = 'apply'): Taint[] | undefined {
  return planTaints(node, nowMs, mode).taints;
}

/**
 * {@link reconcileTaints} plus whether a NoExecute taint is wanted but left to the rate-limited
 * queue (`pendingNoExecute`).
 */
export function planTaints(node: KObject, nowMs: number, mode: NoExecuteMode): { taints?: Taint[]; pendingNoExecute: boolean } {
  const current: Taint[] = node.spec?.taints ?? [];
  let want = desiredManagedTaints(node);
  let pendingNoExecute = false;
  if (mode === 'suppress') want = want.filter((t) => t.effect !== 'NoExecute');
  else if (mode === 'defer') {
    const hasNoExec = current.some((t) => t.effect === 'NoExecute' && (t.key === TaintNodeNotReady || t.key === TaintNodeUnreachable));
    const missing = want.some((w) => w.effect === 'NoExecute' && !current.some((t) => sameTaint(w, t)));
    // A node already tainted for eviction switches between not-ready and unreachable at once.
    if (missing && !hasNoExec) {
      want = want.filter((t) => t.effect !== 'NoExecute');
      pendingNoExecute = true;
    }
  }
  const kept = current.filter((t) => !MANAGED.some((m) => sameTaint(m, t)) || want.some((w) => sameTaint(w, t)));
  const added = want.filter((w) => !current.some((t) => sameTaint(w, t))).map((w) => ({ ...w, timeAdded: rfc3339(nowMs) }));
  if (kept.length === current.length && !added.length) return { pendingNoExecute };
  return { taints: [...kept, ...added], pendingNoExecute };
}

/**
 * When the pod must leave a node with these taints: 0 for now (an untolerated NoExecute taint),
 * a time in ms once its shortest tolerationSeconds runs out, Infinity when it may stay.
 */
export function evictionTime(pod: KObject, taints: readonly Taint[], nowMs: number): number {
  const noExec = taints.filter((t) => t.effect === 'NoExecute');
  let at = Infinity;
  for (const t of noExec) {
    const tols = tolerationsFor(pod.spec?.tolerations, t);
    if (!tols.length) return 0;
    // Upstream takes the first toleration matching each taint.
    const secs = tols[0]!.tolerationSeconds;
    if (secs === undefined || secs === null) continue;
    const start = parseTime(t.timeAdded) ?? nowMs;
    at = Math.min(at, start + Math.max(0, Number(secs)) * 1000);
  }
  return at;
}

/** The node lifecycle controller, as a {@link Component}. */
export class NodeLifecycleController implements Component {
  readonly name = 'node-lifecycle-controller';
  /** Node names whose taints need reconciling. */
  readonly nodeQueue = new WorkQueue<string>({ name: 'node-lifecycle-taints' });
  /** Pod keys to check for NoExecute eviction. */
  readonly podQueue = new WorkQueue<string>({ name: 'node-lifecycle-eviction' });
  private client!: RestClient;
  private recorder!: EventRecorder;
  private nodeLister!: Lister;
  private leaseLister!: Lister;
  private podLister!: Lister;
  private regs: HandlerRegistration[] = [];
  private running?: Promise<unknown>;
  private timer?: NodeJS.Timeout;
  private monitoring?: Promise<void>;
  private stopped = false;
  private readonly period: number;
  private readonly grace: number;
  private readonly startupGrace: number;
  private readonly eviction: boolean;
  private readonly workers: number;
  private readonly now: () => number;
  private readonly zoneCfg: ZoneEvictionConfig;
  private readonly evictionPeriod: number;
  private evictionTimer?: NodeJS.Timeout;
  private tainting?: Promise<void>;
  /** Each zone's state, as of the last health pass. */
  readonly zoneStates = new Map<string, ZoneState>();
  /** Each zone's queue of nodes waiting for a NoExecute taint. */
  readonly zoneTainters = new Map<string, RateLimitedNodeQueue>();
  /** Heartbeats older than this do not count against a node (set on leaving master disruption). */
  private healthFloor = -Infinity;

  constructor(opts: NodeLifecycleControllerOptions = {}) {
    this.period = opts.nodeMonitorPeriodMs ?? 5000;
    this.grace = opts.nodeMonitorGracePeriodMs ?? 40_000;
    this.startupGrace = opts.nodeStartupGracePeriodMs ?? 60_000;
    this.eviction = opts.taintEviction ?? true;
    this.workers = opts.workers ?? 4;
    this.now = opts.now ?? Date.now;
    this.zoneCfg = { ...DEFAULT_ZONE_EVICTION, ...opts.zoneEviction };
    this.evictionPeriod = opts.nodeEvictionPeriodMs ?? 100;
  }

  /** True while every zone has no Ready node: nothing is tainted for eviction. */
  get inMasterDisruption(): boolean {
    if (!this.zoneStates.size) return false;
    for (const s of this.zoneStates.values()) if (s !== 'FullDisruption') return false;
    return true;
  }

  private tainter(zone: string): RateLimitedNodeQueue {
    let q = this.zoneTainters.get(zone);
    if (!q) {
      q = new RateLimitedNodeQueue(this.inMasterDisruption ? 0 : this.zoneCfg.nodeEvictionRate, this.now());
      this.zoneTainters.set(zone, q);
    }
    return q;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    this.recorder = ctx.recorder(this.name);
    const nodeInf = ctx.informers.forResource(resources.nodes);
    const leaseInf = ctx.informers.forResource(resources.leases, { namespace: NODE_LEASE_NAMESPACE });
    const podInf = ctx.informers.forResource(resources.pods, { indexers: { [NODE_NAME_INDEX]: nodeNameIndexFunc } });
    this.nodeLister = nodeInf.lister;
    this.leaseLister = leaseInf.lister;
    this.podLister = podInf.lister;
    this.regs.push(
      nodeInf.addEventHandler({
        onAdd: (n) => this.onNode(undefined, n),
        onUpdate: (old, cur) => this.onNode(old, cur),
        onDelete: (n) => this.nodeQueue.add(objectFromTombstone(n).metadata?.name),
      }),
      podInf.addEventHandler({
        onAdd: (p) => this.onPod(p),
        onUpdate: (_old, cur) => this.onPod(cur),
      }),
    );
    ctx.informers.start();
    this.running = (async () => {
      await Promise.all([nodeInf.waitForSync(), leaseInf.waitForSync(), podInf.waitForSync()]);
      if (this.stopped) return;
      this.timer = setInterval(() => {
        if (!this.monitoring) this.monitoring = this.monitorNodeHealth().finally(() => (this.monitoring = undefined));
      }, this.period);
      this.evictionTimer = setInterval(() => {
        // Not during a health pass: its zone verdict may still stop the tainting.
        if (!this.tainting && !this.monitoring) this.tainting = this.doNoExecuteTaintingPass().finally(() => (this.tainting = undefined));
      }, this.evictionPeriod);
      const onError = (what: string) => (k: string, err: unknown, n: number) => log.warn(`${what} failed; requeuing`, { key: k, requeues: n, err: errText(err) });
      await Promise.all([
        runWorkers(this.nodeQueue, this.workers, (k) => this.syncNodeTaints(k), { onError: onError('taint sync') }),
        runWorkers(this.podQueue, this.workers, (k) => this.syncPodEviction(k), { onError: onError('eviction') }),
      ]);
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.evictionTimer);
    for (const r of this.regs.splice(0)) r.remove();
    await this.monitoring;
    await this.tainting;
    await Promise.all([this.nodeQueue.shutDownWithDrain(), this.podQueue.shutDownWithDrain()]);
    await this.running;
  }

  private onNode(old: KObject | undefined, cur: KObject): void {
    const name = cur.metadata?.name;
    this.nodeQueue.add(name);
    if (!this.eviction) return;
    const noExec = (n: KObject | undefined) => JSON.stringify((n?.spec?.taints ?? []).filter((t: Taint) => t.effect === 'NoExecute'));
    if (old && noExec(old) === noExec(cur)) return;
    for (const p of this.podLister.byIndex(NODE_NAME_INDEX, name)) this.podQueue.add(podKey(p));
  }

  private onPod(pod: KObject): void {
    if (!this.eviction || !pod.spec?.nodeName || pod.metadata?.deletionTimestamp) return;
    const node = this.nodeLister.get(undefined, pod.spec.nodeName);
    if (node?.spec?.taints?.some((t: Taint) => t.effect === 'NoExecute')) this.podQueue.add(podKey(pod));
  }

  /** The latest sign of life from the node's kubelet, ms, or undefined if it never posted one. */
  private lastHeartbeat(node: KObject): number | undefined {
    const lease = this.leaseLister.get(NODE_LEASE_NAMESPACE, node.metadata.name);
    const times = [parseTime(lease?.spec?.renewTime), parseTime(condition(node, 'Ready')?.lastHeartbeatTime)].filter((t): t is number => t !== undefined);
    return times.length ? Math.max(this.healthFloor, ...times) : undefined;
  }

  /**
   * One pass of upstream's monitorNodeHealth: mark silent nodes' conditions Unknown, then work out
   * each zone's state and set its tainting rate.
   */
  async monitorNodeHealth(): Promise<void> {
    const now = this.now();
    const nodes = this.nodeLister.list();
    const ready = await Promise.all(
      nodes.map(async (node) => {
        try {
          return await this.checkNode(node, now);
        } catch (e) {
          if (!(e instanceof StatusError && (e.code === 409 || e.code === 404))) log.warn('node health update failed', { node: node.metadata?.name, err: errText(e) });
          return condition(node, 'Ready')?.status as string | undefined;
        }
      }),
    );
    const zones = new Map<string, (string | undefined)[]>();
    nodes.forEach((node, i) => {
      if (excludedFromDisruption(node)) return;
      const k = zoneKey(node);
      let list = zones.get(k);
      if (!list) zones.set(k, (list = []));
      list.push(ready[i]);
    });
    this.handleDisruption(zones, now);
    // Not-Ready nodes (and, after a mode change, all) get their taints re-planned: a node waiting
    // for its NoExecute taint is queued again if a mode change dropped it.
    nodes.forEach((node, i) => {
      if (ready[i] !== 'True' || node.spec?.taints?.some((t: Taint) => t.effect === 'NoExecute')) this.nodeQueue.add(node.metadata.name);
    });
  }

  private handleDisruption(zones: Map<string, (string | undefined)[]>, now: number): void {
    const d = decideDisruption(this.zoneStates, zones, this.zoneCfg);
    if (d.transition === 'enter') log.info('all nodes are not Ready; entering master disruption mode: no NoExecute taints, no taint-based eviction');
    if (d.transition === 'exit') {
      log.info('some nodes are Ready again; exiting master disruption mode');
      // Every node gets a fresh grace period, as upstream resets its probe timestamps.
      this.healthFloor = now;
    }
    for (const [k, s] of d.states) {
      const was = this.zoneStates.get(k);
      if (was && was !== s && d.transition === 'none') log.info('zone changed state', { zone: zoneDisplay(k), from: was, to: s });
    }
    this.zoneStates.clear();
    for (const [k, s] of d.states) this.zoneStates.set(k, s);
    for (const [k, rate] of d.rates) this.tainter(k).setRate(rate, now);
    for (const k of [...this.zoneTainters.keys()]) if (!d.states.has(k)) this.zoneTainters.delete(k);
  }

  /**
   * One pass of upstream's doNoExecuteTaintingPass: each zone's queue adds NoExecute taints to the
   * nodes it may, as fast as the zone's rate allows.
   */
  async doNoExecuteTaintingPass(): Promise<void> {
    const now = this.now();
    for (const [zone, q] of [...this.zoneTainters]) {
      await q.drain(now, async (name) => {
        const node = this.nodeLister.get(undefined, name);
        if (!node || zoneKey(node) !== zone) return true;
        const taints = reconcileTaints(node, now, 'apply');
        if (!taints) return true;
        try {
          await this.updateTaints(node, taints);
          return true;
        } catch (e) {
          log.debug('could not add NoExecute taint; will retry', { node: name, err: errText(e) });
          return false;
        }
      });
    }
  }

  private async updateTaints(node: KObject, taints: Taint[]): Promise<void> {
    const spec = { ...node.spec, taints };
    if (!taints.length) delete spec.taints;
    try {
      await this.client.update(resources.nodes, { ...node, spec });
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) return;
      throw e;
    }
  }

  /** Marks the node Unknown if silent; returns its Ready status afterwards. */
  private async checkNode(node: KObject, now: number): Promise<string | undefined> {
    const ready = condition(node, 'Ready');
    const last = this.lastHeartbeat(node);
    let silent: boolean;
    if (!ready) silent = now - (last ?? parseTime(node.metadata?.creationTimestamp) ?? now) > this.startupGrace;
    else silent = last === undefined || now - last > this.grace;
    if (!silent) return ready?.status;
    const conds: KObject[] = [...(node.status?.conditions ?? [])];
    let changed = false;
    for (const type of ['Ready', ...OTHER_CONDITIONS]) {
      const i = conds.findIndex((c) => c.type === type);
      if (i < 0) {
        conds.push({ type, status: 'Unknown', reason: NodeStatusNeverUpdatedReason, message: NodeStatusNeverUpdatedMessage, lastHeartbeatTime: node.metadata?.creationTimestamp, lastTransitionTime: rfc3339(now) });
        changed = true;
      } else if (conds[i]!.status !== 'Unknown') {
        conds[i] = { ...conds[i], status: 'Unknown', reason: NodeStatusUnknownReason, message: NodeStatusUnknownMessage, lastTransitionTime: rfc3339(now) };
        changed = true;
      }
    }
    if (!changed) return ready?.status;
    const wasReady = ready?.status === 'True';
    await this.client.update(resources.nodes, { ...node, status: { ...node.status, conditions: conds } }, 'status');
    log.info('node stopped posting status; conditions set to Unknown', { node: node.metadata.name });
    this.recorder.event(node, 'Normal', 'NodeNotReady', `Node ${node.metadata.name} status is now: NodeNotReady`);
    if (wasReady) await this.markPodsNotReady(node.metadata.name, now);
    return 'Unknown';
  }

  /** Upstream's MarkPodsNotReady: pods on an unreachable node stop counting as Ready. */
  private async markPodsNotReady(nodeName: string, now: number): Promise<void> {
    for (const pod of this.podLister.byIndex(NODE_NAME_INDEX, nodeName)) {
      const conds: KObject[] = pod.status?.conditions ?? [];
      const i = conds.findIndex((c) => c.type === 'Ready');
      if (i < 0 || conds[i]!.status === 'False') continue;
      const next = conds.map((c, j) => (j === i ? { ...c, status: 'False', lastTransitionTime: rfc3339(now) } : c));
      try {
        await this.client.update(resources.pods, { ...pod, status: { ...pod.status, conditions: next } }, 'status');
      } catch (e) {
        log.debug('could not mark pod not ready', { pod: podKey(pod), err: errText(e) });
      }
    }
  }

  /**
   * Reconcile the managed taints of one node: NoSchedule taints and lifting NoExecute ones at once,
   * a new NoExecute taint through the zone's rate-limited queue.
   */
  async syncNodeTaints(name: string): Promise<void> {
    const node = this.nodeLister.get(undefined, name);
    if (!node) {
      for (const q of this.zoneTainters.values()) q.remove(name);
      return;
    }
    const zone = zoneKey(node);
    for (const [k, q] of this.zoneTainters) if (k !== zone) q.remove(name);
    const plan = planTaints(node, this.now(), this.inMasterDisruption ? 'suppress' : 'defer');
    if (plan.pendingNoExecute) this.tainter(zone).add(name, this.now());
    else this.zoneTainters.get(zone)?.remove(name);
    if (plan.taints) await this.updateTaints(node, plan.taints);
  }

  /** Evict the pod if a NoExecute taint on its node says so now, or check again when it will. */
  async syncPodEviction(key: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(key);
    const pod = this.podLister.get(namespace, name);
    if (!pod || pod.metadata?.deletionTimestamp || !pod.spec?.nodeName) return;
    const node = this.nodeLister.get(undefined, pod.spec.nodeName);
    if (!node) return;
    const now = this.now();
    const at = evictionTime(pod, node.spec?.taints ?? [], now);
    if (at === Infinity) return;
    if (at > now) {
      this.podQueue.addAfter(key, at - now);
      return;
    }
    await this.evict(pod);
  }

  private async evict(pod: KObject): Promise<void> {
    this.recorder.event(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${podKey(pod)}`);
    // Tell the pod's owner why it goes, as upstream's DisruptionTarget condition does.
    const conds: KObject[] = (pod.status?.conditions ?? []).filter((c: KObject) => c.type !== 'DisruptionTarget');
    conds.push({ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint', lastTransitionTime: rfc3339(this.now()) });
    try {
      await this.client.update(resources.pods, { ...pod, status: { ...pod.status, conditions: conds } }, 'status');
    } catch (e) {
      log.debug('could not set DisruptionTarget', { pod: podKey(pod), err: errText(e) });
    }
    try {
      await this.client.delete(resources.pods, pod.metadata.namespace, pod.metadata.name, { preconditions: { uid: pod.metadata.uid } });
    } catch (e) {
      if (e instanceof StatusError && (e.code === 404 || e.code === 409)) return;
      throw e;
    }
  }
}
