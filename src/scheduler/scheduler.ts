/**
 * The scheduler (upstream's Scheduler and schedule_one.go), wired to an abstract cluster source:
 * events feed the cache and the queue; a loop pops pods, runs a synchronous scheduling cycle,
 * assumes the pod on the chosen node at once, and binds it in the background. Failures go back
 * to the queue with a FitError message for the pod's PodScheduled condition and event.
 *
 * The lead connects a ClusterSource to informers (pods, nodes) and to the pods/binding API.
 */
import { logger, type Logger } from '../base/log.js';
import { Cache } from './cache/cache.js';
import { CycleState } from './framework/cycle-state.js';
import { ActionType, Events, nodeUpdateActions, podUpdateActions } from './framework/events.js';
import { FitError } from './framework/fit-error.js';
import { Framework, type Profile, type Registry } from './framework/framework.js';
import { derivePodInfo, podInfoFor, podKey, type PodInfo } from './framework/pod-info.js';
import type { PodDisruptionBudget } from './framework/preemption.js';
import { SchedulingAlgorithm, type ScheduleResult } from './framework/scheduling-cycle.js';
import { Status } from './framework/status.js';
import { DefaultSchedulerName, type Node, type Pod } from './framework/types.js';
import { defaultProfile, inTreeRegistry } from './plugins/registry.js';
import type { VolumeListers } from './plugins/volume-binding/volume-binding.js';
import { SchedulingQueue, type QueuedPodInfo } from './queue/scheduling-queue.js';

/** Callbacks a cluster source delivers events to. */
export interface ClusterEventHandlers {
  addNode(node: Node): void;
  updateNode(oldNode: Node, newNode: Node): void;
  deleteNode(node: Node): void;
  addPod(pod: Pod): void;
  updatePod(oldPod: Pod, newPod: Pod): void;
  deletePod(pod: Pod): void;
  /** A claim, volume or storage class changed (upstream's PersistentVolumeClaim/PersistentVolume/StorageClass events). */
  storageChange?(label: string, oldObj: unknown, newObj: unknown): void;
}

/** Why a pod was not scheduled, for its PodScheduled=False condition and FailedScheduling event. */
export interface SchedulingFailure {
  /** The condition reason: `Unschedulable` (no node fits) or `SchedulerError`. */
  reason: 'Unschedulable' | 'SchedulerError';
  /** Upstream's message, e.g. `0/3 nodes are available: 3 Insufficient cpu. preemption: …`. */
  message: string;
  /** A node preemption nominated ('' clears an earlier nomination); undefined leaves status.nominatedNodeName alone. */
  nominatedNodeName?: string;
}

/** Where the scheduler gets its events and sends its decisions. */
export interface ClusterSource {
  /** Start delivering node and pod events (an initial list as adds, then changes); returns an unsubscribe. */
  subscribe(handlers: ClusterEventHandlers): () => void;
  /** Bind the pod to the node (POST pods/binding). */
  bind(pod: Pod, nodeName: string): Promise<void>;
  /** Record a failed attempt (PodScheduled condition, event, nominatedNodeName). */
  recordFailure(pod: Pod, failure: SchedulingFailure): void | Promise<void>;
  /** Evict a preemption victim (add the DisruptionTarget condition and delete it). Without it, preemption only nominates. */
  preemptVictim?(victim: Pod, preemptor: Pod, nodeName: string): Promise<void>;
  /** Namespace labels, for pod affinity namespaceSelectors. */
  namespaceLabels?(namespace: string): Record<string, string> | undefined;
  /** PodDisruptionBudgets, which preemption tries not to violate. */
  podDisruptionBudgets?(): readonly PodDisruptionBudget[];
  /** Claims, volumes and storage classes, for VolumeBinding; absent: it lets every pod through. */
  volumeListers?(): VolumeListers | undefined;
}

/** Scheduler options; durations in milliseconds. */
export interface SchedulerOptions {
  /** The profile; default: kube-scheduler's default plugins, named `default-scheduler`. */
  profile?: Profile;
  /** Extra plugin factories (out-of-tree plugins), merged over the in-tree ones. */
  registry?: Registry;
  /** 0 (default): adaptive, as upstream. */
  percentageOfNodesToScore?: number;
  podInitialBackoffMs?: number;
  podMaxBackoffMs?: number;
  podMaxInUnschedulablePodsDurationMs?: number;
  /** Forget assumed pods not confirmed this long after binding; 0 (default): never. */
  assumedPodTTLMs?: number;
  /** Bindings in flight before the loop waits for one to finish (default 500). */
  maxConcurrentBindings?: number;
  now?: () => number;
  random?: () => number;
  log?: Logger;
}

/** Counters. */
export interface SchedulerStats {
  attempts: number;
  scheduled: number;
  unschedulable: number;
  errors: number;
  bindErrors: number;
  preemptions: number;
}

const isTerminal = (p: Pod): boolean => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
const isAssigned = (p: Pod): boolean => !!p.spec?.nodeName;

/** The scheduler. */
export class Scheduler implements ClusterEventHandlers {
  readonly cache: Cache;
  readonly queue: SchedulingQueue;
  readonly framework: Framework;
  readonly algorithm: SchedulingAlgorithm;
  readonly schedulerName: string;
  readonly stats: SchedulerStats = { attempts: 0, scheduled: 0, unschedulable: 0, errors: 0, bindErrors: 0, preemptions: 0 };
  private readonly source: ClusterSource;
  private readonly log: Logger;
  /** Unscheduled pods we are responsible for, latest version (to notice deletions mid-cycle). */
  private readonly pending = new Map<string, Pod>();
  private readonly bindings = new Set<Promise<void>>();
  private readonly maxBindings: number;
  private unsubscribe: (() => void) | null = null;
  private loopDone: Promise<void> | null = null;
  private stopped = false;
  private cleanupTimer: ReturnType<typeof setInterval> | null = null;

  constructor(source: ClusterSource, opts: SchedulerOptions = {}) {
    this.source = source;
    this.log = opts.log ?? logger('scheduler');
    const profile = opts.profile ?? defaultProfile();
    this.schedulerName = profile.schedulerName ?? DefaultSchedulerName;
    this.cache = new Cache({ assumedPodTTLMs: opts.assumedPodTTLMs, now: opts.now });
    this.maxBindings = opts.maxConcurrentBindings ?? 500;
    const registry: Registry = { ...inTreeRegistry(), ...(opts.registry ?? {}) };
    const withPdbs: Profile = {
      ...profile,
      plugins: profile.plugins.map((p) =>
        p.name === 'DefaultPreemption'
          ? { ...p, args: { pdbs: () => source.podDisruptionBudgets?.() ?? [], random: opts.random, ...((p.args as object | undefined) ?? {}) } }
          : p.name === 'VolumeBinding'
            ? { ...p, args: { listers: source.volumeListers?.(), ...((p.args as object | undefined) ?? {}) } }
            : p,
      ),
    };
    this.framework = new Framework({
      registry,
      profile: withPdbs,
      snapshot: () => this.cache.snapshot,
      namespaceLabels: (ns) => source.namespaceLabels?.(ns),
    });
    this.queue = new SchedulingQueue({
      now: opts.now,
      podInitialBackoffMs: opts.podInitialBackoffMs,
      podMaxBackoffMs: opts.podMaxBackoffMs,
      podMaxInUnschedulablePodsDurationMs: opts.podMaxInUnschedulablePodsDurationMs,
      preEnqueue: this.framework.preEnqueuePlugins.length ? (pi) => this.framework.runPreEnqueuePlugins(pi) : undefined,
      eventRegistrations: this.framework.eventRegistrations,
      nominator: this.framework.nominator,
    });
    this.algorithm = new SchedulingAlgorithm({ percentageOfNodesToScore: opts.percentageOfNodesToScore, random: opts.random });
  }

  /** Is this (unassigned) pod ours to schedule? */
  responsibleFor(pod: Pod): boolean {
    return (pod.spec?.schedulerName || DefaultSchedulerName) === this.schedulerName;
  }

  // ---- event handlers (upstream's eventhandlers.go) ----

  addNode(node: Node): void {
    this.cache.addNode(node);
    this.queue.moveAllToActiveOrBackoffQueue(Events.NodeAdd, undefined, node);
  }

  updateNode(oldNode: Node, newNode: Node): void {
    this.cache.updateNode(oldNode, newNode);
    const actions = nodeUpdateActions(oldNode, newNode);
    if (actions !== 0) this.queue.moveAllToActiveOrBackoffQueue({ resource: 'Node', actionType: actions, label: 'NodeUpdate' }, oldNode, newNode);
  }

  deleteNode(node: Node): void {
    this.cache.removeNode(node);
    this.queue.moveAllToActiveOrBackoffQueue(Events.NodeDelete, node, undefined);
  }

  storageChange(label: string, oldObj: unknown, newObj: unknown): void {
    this.queue.moveAllToActiveOrBackoffQueue({ resource: 'Other', actionType: oldObj === undefined ? ActionType.Add : ActionType.Update, label }, oldObj, newObj);
  }

  addPod(pod: Pod): void {
    if (isAssigned(pod)) {
      if (isTerminal(pod)) return;
      this.cache.addPod(pod);
      this.queue.assignedPodAdded(pod);
      return;
    }
    if (isTerminal(pod) || !this.responsibleFor(pod)) return;
    this.pending.set(podKey(pod), pod);
    this.queue.add(pod);
  }

  updatePod(oldPod: Pod, newPod: Pod): void {
    if (isAssigned(oldPod)) {
      if (isTerminal(newPod)) {
        this.cache.removePod(newPod);
        this.queue.moveAllToActiveOrBackoffQueue(Events.AssignedPodDelete, oldPod, undefined);
        return;
      }
      this.cache.updatePod(oldPod, newPod);
      const actions = podUpdateActions(oldPod, newPod);
      if (actions !== 0) this.queue.moveAllToActiveOrBackoffQueue({ resource: 'Pod', actionType: actions, label: 'AssignedPodUpdate' }, oldPod, newPod);
      return;
    }
    if (isAssigned(newPod)) {
      // Bound (by us or anyone): it leaves the queue and counts on its node.
      this.pending.delete(podKey(newPod));
      this.queue.delete(newPod);
      if (!isTerminal(newPod)) {
        this.cache.addPod(newPod);
        this.queue.assignedPodAdded(newPod);
      }
      return;
    }
    if (!this.responsibleFor(newPod)) return;
    if (isTerminal(newPod)) {
      this.deletePod(newPod);
      return;
    }
    this.pending.set(podKey(newPod), newPod);
    // An assumed pod's own status updates need no new attempt.
    if (this.cache.isAssumedPod(newPod)) return;
    this.queue.update(oldPod, newPod);
  }

  deletePod(pod: Pod): void {
    if (isAssigned(pod)) {
      this.cache.removePod(pod);
      this.queue.moveAllToActiveOrBackoffQueue(Events.AssignedPodDelete, pod, undefined);
      return;
    }
    this.pending.delete(podKey(pod));
    this.queue.delete(pod);
  }

  // ---- lifecycle ----

  /** Subscribe to the source and start scheduling. */
  start(): void {
    if (this.loopDone) return;
    this.stopped = false;
    this.unsubscribe = this.source.subscribe(this);
    this.queue.run();
    if (this.cache.assumedPodTTLMs > 0) {
      this.cleanupTimer = setInterval(() => {
        for (const p of this.cache.cleanupAssumedPods()) this.log.warn('assumed pod expired', { pod: podKey(p) });
      }, 1000);
    }
    this.loopDone = this.loop();
  }

  /** Stop scheduling and wait for in-flight bindings. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.queue.close();
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    this.cleanupTimer = null;
    await this.loopDone;
    this.loopDone = null;
    await this.waitForBindings();
  }

  /** Resolves when every binding started so far has finished. */
  async waitForBindings(): Promise<void> {
    while (this.bindings.size) await Promise.allSettled([...this.bindings]);
  }

  private async loop(): Promise<void> {
    let lastYield = performance.now();
    while (!this.stopped) {
      const q = await this.queue.pop();
      if (!q) break;
      this.scheduleOne(q);
      if (this.bindings.size >= this.maxBindings) await Promise.race(this.bindings);
      // Let I/O (watch events, binding responses) in every few milliseconds.
      const t = performance.now();
      if (t - lastYield > 5) {
        await new Promise<void>((r) => setImmediate(r));
        lastYield = performance.now();
      }
    }
  }

  /** Schedule every pod now in activeQ (without starting the loop); for tests and benchmarks. */
  async scheduleAllQueued(): Promise<number> {
    let n = 0;
    for (let q = this.queue.tryPop(); q; q = this.queue.tryPop()) {
      this.scheduleOne(q);
      n++;
      if (this.bindings.size >= this.maxBindings) await Promise.race(this.bindings);
    }
    await this.waitForBindings();
    return n;
  }

  // ---- one pod ----

  /** Run one scheduling cycle for a popped pod; binding continues in the background. */
  scheduleOne(q: QueuedPodInfo): ScheduleResult | FitError | Status | undefined {
    const pi = q.podInfo;
    const pod = pi.pod;
    if (pod.metadata?.deletionTimestamp || this.cache.isAssumedPod(pod)) {
      this.queue.done(pi.key);
      return undefined;
    }
    this.stats.attempts++;
    const cycle = this.queue.schedulingCycle;
    const snapshot = this.cache.updateSnapshot();
    const state = new CycleState();
    const result = this.algorithm.schedulePod(this.framework, state, pi, snapshot);
    if (result instanceof FitError) {
      this.stats.unschedulable++;
      let nominated: string | undefined;
      if (this.framework.postFilterPlugins.length) {
        const pf = this.framework.runPostFilterPlugins(state, pi, result.diagnosis.nodeToStatus);
        if (pf.status !== null && pf.status.message() !== '') result.diagnosis.postFilterMsg = pf.status.message();
        nominated = pf.nominatedNodeName;
        if (pf.victims?.length && nominated) this.evict(pf.victims, pi, nominated);
      }
      q.unschedulablePlugins = new Set(result.diagnosis.unschedulablePlugins);
      q.pendingPlugins = new Set(result.diagnosis.pendingPlugins);
      this.handleFailure(q, cycle, { reason: 'Unschedulable', message: result.message, nominatedNodeName: nominated });
      return result;
    }
    if (result instanceof Status) {
      this.stats.errors++;
      q.unschedulablePlugins = new Set();
      q.pendingPlugins = new Set();
      this.handleFailure(q, cycle, { reason: 'SchedulerError', message: result.message() });
      return result;
    }
    const nodeName = result.suggestedHost;
    const assumed: Pod = { ...pod, spec: { ...pod.spec, nodeName } };
    const api = derivePodInfo(pi, assumed);
    this.cache.assumePod(assumed);
    this.queue.nominator.delete(pi.key);
    const rs = this.framework.runReservePluginsReserve(state, api, nodeName);
    if (rs !== null) {
      this.cache.forgetPod(assumed);
      this.stats.errors++;
      q.unschedulablePlugins = rs.isRejected() ? new Set([rs.plugin]) : new Set();
      this.handleFailure(q, cycle, { reason: rs.isRejected() ? 'Unschedulable' : 'SchedulerError', message: rs.message() });
      return rs;
    }
    this.bind(q, cycle, state, api, pod, nodeName);
    return result;
  }

  private bind(q: QueuedPodInfo, cycle: number, state: CycleState, assumed: PodInfo, original: Pod, nodeName: string): void {
    let p: Promise<void>;
    try {
      p = Promise.resolve(this.source.bind(original, nodeName));
    } catch (e) {
      p = Promise.reject(e);
    }
    const tracked = p.then(
      () => {
        this.cache.finishBinding(assumed.pod);
        this.queue.done(assumed.key);
        this.pending.delete(assumed.key);
        this.stats.scheduled++;
      },
      (err: unknown) => {
        this.stats.bindErrors++;
        this.log.warn('binding failed', { pod: `${assumed.namespace}/${assumed.name}`, node: nodeName, err: String(err) });
        if (this.cache.isAssumedPod(assumed.pod)) this.cache.forgetPod(assumed.pod);
        this.framework.runReservePluginsUnreserve(state, assumed, nodeName);
        // The forgotten pod freed room that other pods may fit into.
        this.queue.moveAllToActiveOrBackoffQueue(Events.AssignedPodDelete, assumed.pod, undefined);
        q.unschedulablePlugins = new Set();
        q.pendingPlugins = new Set();
        this.handleFailure(q, cycle, { reason: 'SchedulerError', message: `binding rejected: ${err instanceof Error ? err.message : String(err)}` });
      },
    );
    this.bindings.add(tracked);
    void tracked.finally(() => this.bindings.delete(tracked));
  }

  private evict(victims: PodInfo[], preemptor: PodInfo, nodeName: string): void {
    this.stats.preemptions++;
    this.queue.nominator.add(preemptor, nodeName);
    const evict = this.source.preemptVictim;
    if (!evict) return;
    for (const v of victims) {
      if (v.terminating) continue;
      Promise.resolve(evict.call(this.source, v.pod, preemptor.pod, nodeName)).catch((err: unknown) =>
        this.log.warn('preempting victim failed', { victim: `${v.namespace}/${v.name}`, err: String(err) }),
      );
    }
  }

  /** Requeue a failed pod (unless deleted meanwhile) and report why. */
  private handleFailure(q: QueuedPodInfo, cycle: number, failure: SchedulingFailure): void {
    const key = q.podInfo.key;
    const latest = this.pending.get(key);
    if (!latest || latest.spec?.nodeName) {
      this.queue.done(key);
      return;
    }
    if (latest !== q.podInfo.pod) q.podInfo = podInfoFor(latest);
    if (failure.nominatedNodeName !== undefined) {
      if (failure.nominatedNodeName) this.queue.nominator.add(q.podInfo, failure.nominatedNodeName);
      else this.queue.nominator.delete(key);
    }
    this.queue.addUnschedulableIfNotPresent(q, cycle);
    try {
      const r = this.source.recordFailure(latest, failure);
      if (r) r.catch((err: unknown) => this.log.warn('recording scheduling failure failed', { pod: key, err: String(err) }));
    } catch (err) {
      this.log.warn('recording scheduling failure failed', { pod: key, err: String(err) });
    }
  }
}

