/**
 * The scheduling queue (upstream's PriorityQueue): pods waiting to be scheduled live in one of
 *   - activeQ: ready now, highest spec.priority first, then the earliest-queued;
 *   - backoffQ: failed recently, held for 1 s, 2 s, 4 s … up to 10 s per attempt;
 *   - unschedulablePods: rejected by plugins, waiting for a cluster event that one of those
 *     plugins says could help (its "queueing hint"), or for the 5-minute leftover flush.
 * Pods held back by a PreEnqueue plugin (scheduling gates) wait in unschedulablePods as "gated".
 */
import { eventMatches, Events, type ClusterEvent, type ClusterEventWithHint } from '../framework/events.js';
import { Nominator } from '../framework/nominator.js';
import { podInfoFor, podKey, type PodInfo } from '../framework/pod-info.js';
import type { Status } from '../framework/status.js';
import type { Pod } from '../framework/types.js';
import { Heap } from './heap.js';

/** A pod in the queue, with its scheduling history. */
export interface QueuedPodInfo {
  podInfo: PodInfo;
  /** When the pod last entered the queue (ms); the activeQ tiebreak and the backoff base. */
  timestamp: number;
  /** Scheduling attempts so far. */
  attempts: number;
  /** When the first attempt started (ms), or null before it. */
  initialAttemptTimestamp: number | null;
  /** Plugins that rejected the pod in its last attempt. */
  unschedulablePlugins: Set<string>;
  /** Plugins that returned Pending in its last attempt. */
  pendingPlugins: Set<string>;
  /** Held back by a PreEnqueue plugin. */
  gated: boolean;
  /** The gating status, when gated. */
  gatingStatus?: Status;
}

/** Queue options; durations in milliseconds. */
export interface SchedulingQueueOptions {
  now?: () => number;
  /** Default 1000 (upstream's podInitialBackoffSeconds = 1). */
  podInitialBackoffMs?: number;
  /** Default 10000 (upstream's podMaxBackoffSeconds = 10). */
  podMaxBackoffMs?: number;
  /** Default 5 minutes (upstream's podMaxInUnschedulablePodsDuration). */
  podMaxInUnschedulablePodsDurationMs?: number;
  /** PreEnqueue check (e.g. scheduling gates); a non-null, non-success status gates the pod. */
  preEnqueue?: (pod: PodInfo) => Status | null;
  /** Plugin name → events that may make pods it rejected schedulable. */
  eventRegistrations?: ReadonlyMap<string, ClusterEventWithHint[]>;
  nominator?: Nominator;
  /** activeQ order; default: priority descending, then queue timestamp. */
  less?: (a: QueuedPodInfo, b: QueuedPodInfo) => boolean;
}

/** Upstream's PrioritySort: higher priority first, then whoever entered the queue first. */
export function prioritySortLess(a: QueuedPodInfo, b: QueuedPodInfo): boolean {
  const pa = a.podInfo.priority;
  const pb = b.podInfo.priority;
  return pa > pb || (pa === pb && a.timestamp < b.timestamp);
}

const keyOf = (q: QueuedPodInfo): string => q.podInfo.key;

/** Does anything but status/resourceVersion/managedFields differ? (upstream's isPodUpdated) */
function podSpecChanged(oldPod: Pod, newPod: Pod): boolean {
  const strip = (p: Pod) => {
    const { status: _s, ...rest } = p;
    const meta = { ...(rest.metadata ?? {}) } as Record<string, unknown>;
    delete meta.resourceVersion;
    delete meta.generation;
    delete meta.managedFields;
    return JSON.stringify({ ...rest, metadata: meta });
  };
  return strip(oldPod) !== strip(newPod);
}

/** The three-part scheduling queue. */
export class SchedulingQueue {
  readonly nominator: Nominator;
  private readonly now: () => number;
  private readonly initialBackoff: number;
  private readonly maxBackoff: number;
  private readonly maxInUnschedulable: number;
  private readonly preEnqueue: ((pod: PodInfo) => Status | null) | undefined;
  private readonly registrations: ReadonlyMap<string, ClusterEventWithHint[]>;
  private readonly activeQ: Heap<QueuedPodInfo>;
  private readonly backoffQ: Heap<QueuedPodInfo>;
  private readonly unschedulable = new Map<string, QueuedPodInfo>();
  private readonly inFlight = new Map<string, QueuedPodInfo>();
  private waiters: Array<() => void> = [];
  private closed = false;
  private timers: ReturnType<typeof setInterval>[] = [];
  /** Incremented on every pop. */
  schedulingCycle = 0;
  /** The cycle of the last move request; pods failing in an earlier-started cycle retry via backoffQ. */
  private moveRequestCycle = -1;

  constructor(opts: SchedulingQueueOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.initialBackoff = opts.podInitialBackoffMs ?? 1000;
    this.maxBackoff = opts.podMaxBackoffMs ?? 10_000;
    this.maxInUnschedulable = opts.podMaxInUnschedulablePodsDurationMs ?? 5 * 60_000;
    this.preEnqueue = opts.preEnqueue;
    this.registrations = opts.eventRegistrations ?? new Map();
    this.nominator = opts.nominator ?? new Nominator();
    this.activeQ = new Heap(keyOf, opts.less ?? prioritySortLess);
    this.backoffQ = new Heap(keyOf, (a, b) => this.backoffExpiry(a) < this.backoffExpiry(b));
  }

  /** Sizes of the three parts (and gated pods among the unschedulable). */
  stats(): { active: number; backoff: number; unschedulable: number; gated: number; inFlight: number } {
    let gated = 0;
    for (const q of this.unschedulable.values()) if (q.gated) gated++;
    return { active: this.activeQ.size, backoff: this.backoffQ.size, unschedulable: this.unschedulable.size, gated, inFlight: this.inFlight.size };
  }

  /** Which part holds the pod: 'active', 'backoff', 'unschedulable', 'gated', 'inFlight', or undefined. */
  where(pod: Pod): 'active' | 'backoff' | 'unschedulable' | 'gated' | 'inFlight' | undefined {
    const k = podKey(pod);
    if (this.activeQ.has(k)) return 'active';
    if (this.backoffQ.has(k)) return 'backoff';
    const u = this.unschedulable.get(k);
    if (u) return u.gated ? 'gated' : 'unschedulable';
    if (this.inFlight.has(k)) return 'inFlight';
    return undefined;
  }

  /** Every queued pod (not in flight). */
  pendingPods(): Pod[] {
    return [...this.activeQ.list(), ...this.backoffQ.list(), ...this.unschedulable.values()].map((q) => q.podInfo.pod);
  }

  private newQueued(pi: PodInfo): QueuedPodInfo {
    return { podInfo: pi, timestamp: this.now(), attempts: 0, initialAttemptTimestamp: null, unschedulablePlugins: new Set(), pendingPlugins: new Set(), gated: false };
  }

  /** Move to activeQ unless a PreEnqueue plugin gates it (then it waits in unschedulablePods). */
  private moveToActive(q: QueuedPodInfo): boolean {
    const key = q.podInfo.key;
    const gate = this.preEnqueue?.(q.podInfo) ?? null;
    if (gate !== null && gate.code !== 0) {
      q.gated = true;
      q.gatingStatus = gate;
      this.unschedulable.set(key, q);
      return false;
    }
    q.gated = false;
    q.gatingStatus = undefined;
    this.unschedulable.delete(key);
    this.backoffQ.delete(key);
    this.activeQ.addOrUpdate(q);
    this.wake();
    return true;
  }

  /** A new unscheduled pod. */
  add(pod: Pod): void {
    const pi = podInfoFor(pod);
    const key = pi.key;
    this.unschedulable.delete(key);
    this.backoffQ.delete(key);
    this.moveToActive(this.newQueued(pi));
    this.nominator.add(pi);
  }

  /** An unscheduled pod changed. */
  update(oldPod: Pod, newPod: Pod): void {
    const pi = podInfoFor(newPod);
    const key = pi.key;
    this.nominator.add(pi);
    const a = this.activeQ.get(key);
    if (a) {
      a.podInfo = pi;
      this.activeQ.addOrUpdate(a);
      return;
    }
    const b = this.backoffQ.get(key);
    if (b) {
      b.podInfo = pi;
      this.backoffQ.addOrUpdate(b);
      return;
    }
    const u = this.unschedulable.get(key);
    if (u) {
      u.podInfo = pi;
      if (podSpecChanged(oldPod, newPod)) {
        if (!u.gated && this.isBackingOff(u)) {
          this.unschedulable.delete(key);
          this.backoffQ.addOrUpdate(u);
        } else {
          this.moveToActive(u);
        }
      }
      return;
    }
    const f = this.inFlight.get(key);
    if (f) {
      f.podInfo = pi;
      return;
    }
    this.add(newPod);
  }

  /** An unscheduled pod was deleted (or got bound elsewhere). */
  delete(pod: Pod): void {
    const key = podKey(pod);
    this.activeQ.delete(key);
    this.backoffQ.delete(key);
    this.unschedulable.delete(key);
    this.nominator.delete(key);
  }

  /** Move these pods to activeQ now, wherever they wait. */
  activate(pods: readonly Pod[]): void {
    for (const p of pods) {
      const key = podKey(p);
      const q = this.unschedulable.get(key) ?? this.backoffQ.get(key);
      if (q) this.moveToActive(q);
    }
  }

  /** Take the next pod without waiting; undefined when activeQ is empty. */
  tryPop(): QueuedPodInfo | undefined {
    const q = this.activeQ.pop();
    if (!q) return undefined;
    this.schedulingCycle++;
    q.attempts++;
    if (q.initialAttemptTimestamp === null) q.initialAttemptTimestamp = this.now();
    this.inFlight.set(q.podInfo.key, q);
    return q;
  }

  /** Wait for the next pod; undefined once the queue is closed. */
  async pop(): Promise<QueuedPodInfo | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const q = this.tryPop();
      if (q) return q;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** The pod's cycle is over (scheduled, requeued or dropped). */
  done(key: string): void {
    this.inFlight.delete(key);
  }

  /**
   * Put back a pod whose attempt failed. It goes to backoffQ when it failed for no plugin's
   * reason (an error) or when a move request arrived since its cycle began; otherwise it
   * waits in unschedulablePods for a helpful event.
   */
  addUnschedulableIfNotPresent(q: QueuedPodInfo, podSchedulingCycle: number): void {
    const key = q.podInfo.key;
    this.inFlight.delete(key);
    if (this.activeQ.has(key) || this.backoffQ.has(key) || this.unschedulable.has(key)) return;
    q.timestamp = this.now();
    const noRejector = q.unschedulablePlugins.size === 0 && q.pendingPlugins.size === 0;
    if (this.moveRequestCycle >= podSchedulingCycle || noRejector) this.backoffQ.addOrUpdate(q);
    else this.unschedulable.set(key, q);
  }

  /** Backoff for the pod's attempts so far: initial × 2^(attempts−1), capped at the maximum. */
  backoffDuration(q: QueuedPodInfo): number {
    let d = this.initialBackoff;
    for (let i = 1; i < q.attempts; i++) {
      d *= 2;
      if (d >= this.maxBackoff) return this.maxBackoff;
    }
    return Math.min(d, this.maxBackoff);
  }

  private backoffExpiry(q: QueuedPodInfo): number {
    return q.timestamp + this.backoffDuration(q);
  }

  /** Is the pod still inside its backoff window? */
  isBackingOff(q: QueuedPodInfo): boolean {
    return this.backoffExpiry(q) > this.now();
  }

  /** Would `event` help this pod, going by the plugins that rejected it? 'now' skips backoff. */
  private worthRequeuing(q: QueuedPodInfo, event: ClusterEvent, oldObj: unknown, newObj: unknown): 'skip' | 'backoff' | 'now' {
    const rejectors = new Set([...q.unschedulablePlugins, ...q.pendingPlugins]);
    if (rejectors.size === 0) return 'backoff';
    if (event.resource === '*') return 'backoff';
    let result: 'skip' | 'backoff' = 'skip';
    for (const plugin of rejectors) {
      for (const reg of this.registrations.get(plugin) ?? []) {
        if (!eventMatches(reg.event, event)) continue;
        let hint: 'Queue' | 'QueueSkip' = 'Queue';
        if (reg.hint) {
          try {
            hint = reg.hint(q.podInfo.pod, oldObj, newObj);
          } catch {
            hint = 'Queue';
          }
        }
        if (hint === 'QueueSkip') continue;
        if (q.pendingPlugins.has(plugin)) return 'now';
        result = 'backoff';
      }
    }
    return result;
  }

  /**
   * A cluster event happened: move every unschedulable pod it may help to activeQ (or backoffQ
   * while it is backing off). `oldObj`/`newObj` are the objects before and after (undefined for
   * add / delete).
   */
  moveAllToActiveOrBackoffQueue(event: ClusterEvent, oldObj?: unknown, newObj?: unknown): number {
    let moved = 0;
    for (const q of [...this.unschedulable.values()]) {
      if (q.gated) continue;
      const w = this.worthRequeuing(q, event, oldObj, newObj);
      if (w === 'skip') continue;
      moved++;
      this.unschedulable.delete(q.podInfo.key);
      if (w === 'backoff' && this.isBackingOff(q)) this.backoffQ.addOrUpdate(q);
      else this.moveToActive(q);
    }
    this.moveRequestCycle = this.schedulingCycle;
    return moved;
  }

  /** A pod got bound: pods with affinity to it may now fit. */
  assignedPodAdded(pod: Pod): void {
    this.moveAllToActiveOrBackoffQueue(Events.AssignedPodAdd, undefined, pod);
  }

  /** Move pods whose backoff expired from backoffQ to activeQ. */
  flushBackoffQCompleted(): number {
    let n = 0;
    const now = this.now();
    for (;;) {
      const q = this.backoffQ.peek();
      if (!q || this.backoffExpiry(q) > now) break;
      this.backoffQ.pop();
      this.moveToActive(q);
      n++;
    }
    return n;
  }

  /** Requeue pods that waited in unschedulablePods longer than the maximum (5 min by default). */
  flushUnschedulablePodsLeftover(): number {
    const now = this.now();
    const stale = [...this.unschedulable.values()].filter((q) => !q.gated && now - q.timestamp > this.maxInUnschedulable);
    let n = 0;
    for (const q of stale) {
      this.unschedulable.delete(q.podInfo.key);
      if (this.isBackingOff(q)) this.backoffQ.addOrUpdate(q);
      else this.moveToActive(q);
      n++;
    }
    return n;
  }

  /** Start the periodic flushes (backoffQ every second, leftovers every 30 s). */
  run(): void {
    if (this.timers.length || this.closed) return;
    this.timers.push(setInterval(() => this.flushBackoffQCompleted(), 1000));
    this.timers.push(setInterval(() => this.flushUnschedulablePodsLeftover(), 30_000));
  }

  /** Stop the flushes and release anyone waiting in pop(). */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    if (w.length === 0) return;
    this.waiters = [];
    for (const r of w) r();
  }
}
