/**
 * An event recorder writing core/v1 Events the way client-go's tools/record does: named
 * `<object>.<hex nanoseconds>`, in the object's namespace (`default` for cluster-scoped objects),
 * with source, reporting component and instance. Before writing, events are correlated:
 *  - spam filter: per source+object, a token bucket of 25 with one more every 5 minutes;
 *  - similar events (same object, type and reason, different messages): from the 10th distinct
 *    message within 10 minutes they are folded into one "(combined from similar events): ..." event;
 *  - repeats (same object, type, reason and message) within the window bump `count` and
 *    `lastTimestamp` of the existing event with a PATCH instead of creating another.
 * Recording never blocks or throws; writes happen in the background (see {@link EventRecorder.flush}).
 */
import { setMaxListeners } from 'node:events';
import { format } from 'node:util';
import { StatusError } from '../api/errors.js';
import { logger } from '../base/log.js';
import type { KObject, ResourceRef, RestClient } from './rest-client.js';

const log = logger('event-recorder');

const eventsRef: ResourceRef = { group: '', version: 'v1', resource: 'events', namespaced: true };

export type EventType = 'Normal' | 'Warning';
export const EventTypeNormal: EventType = 'Normal';
export const EventTypeWarning: EventType = 'Warning';

/** Event reasons the upstream components use, spelled as upstream spells them. */
export const EventReason = {
  // replica sets, jobs, daemon sets, stateful sets (controller_utils, job, daemon, stateful set controllers)
  SuccessfulCreate: 'SuccessfulCreate',
  FailedCreate: 'FailedCreate',
  SuccessfulDelete: 'SuccessfulDelete',
  FailedDelete: 'FailedDelete',
  SelectingAll: 'SelectingAll',
  // deployments
  ScalingReplicaSet: 'ScalingReplicaSet',
  DeploymentRollback: 'DeploymentRollback',
  // jobs and cron jobs
  Completed: 'Completed',
  BackoffLimitExceeded: 'BackoffLimitExceeded',
  DeadlineExceeded: 'DeadlineExceeded',
  SawCompletedJob: 'SawCompletedJob',
  // scheduler
  Scheduled: 'Scheduled',
  FailedScheduling: 'FailedScheduling',
  Preempted: 'Preempted',
  // kubelet
  Pulling: 'Pulling',
  Pulled: 'Pulled',
  Failed: 'Failed',
  BackOff: 'BackOff',
  Created: 'Created',
  Started: 'Started',
  Killing: 'Killing',
  Unhealthy: 'Unhealthy',
  NodeReady: 'NodeReady',
  NodeNotReady: 'NodeNotReady',
  Starting: 'Starting',
  RegisteredNode: 'RegisteredNode',
  // node lifecycle, taints, garbage collection, namespaces
  NodeNotSchedulable: 'NodeNotSchedulable',
  TaintManagerEviction: 'TaintManagerEviction',
  DeletingNode: 'DeletingNode',
  RemovingNode: 'RemovingNode',
  OwnerRefInvalidNamespace: 'OwnerRefInvalidNamespace',
  // leader election
  LeaderElection: 'LeaderElection',
} as const;

/** core/v1 ObjectReference */
export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

/** A reference to the object (client-go's reference.GetReference). A reference passed in is copied. */
export function objectReference(obj: KObject, fieldPath?: string): ObjectReference {
  if (!obj.metadata) {
    const ref = { ...(obj as ObjectReference) };
    if (fieldPath) ref.fieldPath = fieldPath;
    return ref;
  }
  const m = obj.metadata;
  const ref: ObjectReference = { kind: obj.kind, namespace: m.namespace, name: m.name, uid: m.uid, apiVersion: obj.apiVersion, resourceVersion: m.resourceVersion };
  if (fieldPath) ref.fieldPath = fieldPath;
  for (const k of Object.keys(ref) as (keyof ObjectReference)[]) if (ref[k] === undefined || ref[k] === '') delete ref[k];
  return ref;
}

/** The client calls the recorder needs (a RestClient has them). */
export type EventClient = Pick<RestClient, 'send' | 'path'>;

export interface EventRecorderOptions {
  /** source.component and reportingComponent, e.g. `default-scheduler`, `replicaset-controller`. */
  component: string;
  /** source.host (kubelets set the node name). */
  host?: string;
  /** reportingInstance; default the host, else the component. */
  reportingInstance?: string;
  /** Repeats within this window are counted on one event. Default 10 minutes. */
  repeatWindowMs?: number;
  /** Distinct messages per object/type/reason before combining. Default 10. */
  maxSimilarEvents?: number;
  /** Window for the similar-events count. Default 10 minutes. */
  similarWindowMs?: number;
  /** Spam filter bucket size per source+object. Default 25. */
  spamBurst?: number;
  /** Spam filter refill per second. Default 1/300. */
  spamQps?: number;
  /** Writes waiting or in flight beyond this are dropped. Default 1000. */
  maxPending?: number;
  /** Tries per write for transient failures (network, 5xx, 429). Default 3. */
  maxTries?: number;
  /** Wait between tries. Default 1 s. */
  retryDelayMs?: number;
  /** Milliseconds clock, for tests. Default Date.now. */
  now?: () => number;
}

/** A bounded map that forgets the least recently used entry (client-go's groupcache lru). */
class LRU<V> {
  private readonly m = new Map<string, V>();
  constructor(private readonly max = 4096) {}
  get(k: string): V | undefined {
    const v = this.m.get(k);
    if (v !== undefined) {
      this.m.delete(k);
      this.m.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
  }
}

interface Observation {
  count: number;
  firstTimestamp: string;
  name: string;
  namespace: string;
  lastSeen: number;
}

/** RFC 3339 with whole seconds, metav1.Time's wire form. */
function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

let lastNanos = 0n;
/** Nanoseconds since the epoch, strictly increasing within the process (event names must not collide). */
function uniqueNanos(ms: number): bigint {
  let n = BigInt(Math.floor(ms)) * 1_000_000n;
  if (n <= lastNanos) n = lastNanos + 1n;
  lastNanos = n;
  return n;
}

/** Event writes in flight per recorder. */
const EVENT_WRITE_CONCURRENCY = 4;

/** Records events about objects; see the module comment for the correlation rules. */
export class EventRecorder {
  private readonly opts: Required<Omit<EventRecorderOptions, 'host' | 'reportingInstance'>> & Pick<EventRecorderOptions, 'host' | 'reportingInstance'>;
  private readonly spam = new LRU<{ tokens: number; last: number }>();
  private readonly similar = new LRU<{ localKeys: Set<string>; last: number }>();
  private readonly observed = new LRU<Observation>();
  /** Per event name, the tail of its write chain: writes to one event stay in order. */
  private readonly tails = new Map<string, Promise<void>>();
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  private pending = 0;
  private stopped = false;
  private readonly abort = new AbortController();
  /** Counters, for tests and metrics. */
  readonly stats = { created: 0, patched: 0, filtered: 0, dropped: 0, failed: 0 };

  constructor(
    private readonly client: EventClient,
    options: EventRecorderOptions,
  ) {
    if (!options.component) throw new Error('event recorder needs a component');
    // Every in-flight event write listens on this one signal.
    setMaxListeners(0, this.abort.signal);
    this.opts = {
      repeatWindowMs: 10 * 60_000,
      maxSimilarEvents: 10,
      similarWindowMs: 10 * 60_000,
      spamBurst: 25,
      spamQps: 1 / 300,
      maxPending: 1000,
      maxTries: 3,
      retryDelayMs: 1000,
      now: Date.now,
      ...options,
    };
  }

  /** Record an event about `obj` (an API object or an ObjectReference). */
  event(obj: KObject | ObjectReference, type: EventType, reason: string, message: string): void {
    this.record(objectReference(obj as KObject), type, reason, message);
  }

  /** {@link event} with a printf-style message (`%s`, `%d`, `%j`, `%o`, as node's util.format). */
  eventf(obj: KObject | ObjectReference, type: EventType, reason: string, messageFmt: string, ...args: unknown[]): void {
    this.event(obj, type, reason, format(messageFmt, ...args));
  }

  /** {@link event} about a part of the object, e.g. `spec.containers{web}`. */
  eventWithFieldPath(obj: KObject | ObjectReference, fieldPath: string, type: EventType, reason: string, message: string): void {
    this.record(objectReference(obj as KObject, fieldPath), type, reason, message);
  }

  /** Resolves when every write queued so far has finished (or failed). */
  async flush(): Promise<void> {
    while (this.tails.size) await Promise.all([...this.tails.values()]);
  }

  /** Refuse new events, cancel retries, and wait for writes in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.flush();
  }

  private record(ref: ObjectReference, type: EventType, reason: string, message: string): void {
    if (this.stopped) return;
    if (!ref.name) {
      log.warn('event about an object without a name dropped', { reason, message });
      return;
    }
    const now = this.opts.now();
    const source = { component: this.opts.component, ...(this.opts.host ? { host: this.opts.host } : {}) };
    const reportingInstance = this.opts.reportingInstance ?? this.opts.host ?? this.opts.component;
    const namespace = ref.namespace || 'default';
    const objKey = [source.component, source.host ?? '', ref.kind, ref.namespace, ref.name, ref.uid, ref.apiVersion].join('\x00');

    if (this.spamFiltered(objKey, now)) {
      this.stats.filtered++;
      return;
    }

    // Similar events: many distinct messages for one object/type/reason fold into one event.
    const aggregateKey = [objKey, type, reason, this.opts.component, reportingInstance].join('\x00');
    let key = [objKey, ref.fieldPath ?? '', type, reason, message].join('\x00');
    let rec = this.similar.get(aggregateKey);
    if (!rec || now - rec.last > this.opts.similarWindowMs) rec = { localKeys: new Set(), last: now };
    rec.localKeys.add(message);
    rec.last = now;
    this.similar.set(aggregateKey, rec);
    if (rec.localKeys.size >= this.opts.maxSimilarEvents) {
      rec.localKeys.delete(rec.localKeys.values().next().value as string);
      message = `(combined from similar events): ${message}`;
      key = aggregateKey;
    }

    const ts = rfc3339(now);
    const prev = this.observed.get(key);
    if (prev && now - prev.lastSeen <= this.opts.repeatWindowMs) {
      const obs: Observation = { ...prev, count: prev.count + 1, lastSeen: now };
      this.observed.set(key, obs);
      const patch = { count: obs.count, lastTimestamp: ts, message };
      const full = this.makeEvent(obs.name, namespace, ref, type, reason, message, source, reportingInstance, obs.firstTimestamp, ts, obs.count);
      this.enqueue(obs.name, () => this.writePatch(namespace, obs.name, patch, full));
      return;
    }
    const name = `${ref.name}.${uniqueNanos(now).toString(16)}`;
    this.observed.set(key, { count: 1, firstTimestamp: ts, name, namespace, lastSeen: now });
    const ev = this.makeEvent(name, namespace, ref, type, reason, message, source, reportingInstance, ts, ts, 1);
    this.enqueue(name, () => this.writeCreate(ev));
  }

  private makeEvent(
    name: string,
    namespace: string,
    ref: ObjectReference,
    type: EventType,
    reason: string,
    message: string,
    source: { component: string; host?: string },
    reportingInstance: string,
    first: string,
    last: string,
    count: number,
  ): KObject {
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: ref,
      reason,
      message,
      source,
      firstTimestamp: first,
      lastTimestamp: last,
      count,
      type,
      eventTime: null,
      reportingComponent: this.opts.component,
      reportingInstance,
    };
  }

  /** True when the object has used up its event budget (client-go's EventSourceObjectSpamFilter). */
  private spamFiltered(key: string, now: number): boolean {
    let b = this.spam.get(key);
    if (!b) b = { tokens: this.opts.spamBurst, last: now };
    b.tokens = Math.min(this.opts.spamBurst, b.tokens + ((now - b.last) / 1000) * this.opts.spamQps);
    b.last = now;
    const filtered = b.tokens < 1;
    if (!filtered) b.tokens -= 1;
    this.spam.set(key, b);
    return filtered;
  }

  /** Event writes share the client with status and lease writes: only a few are in flight at once (client-go writes them from one worker). */
  private async limited(write: () => Promise<void>): Promise<void> {
    while (this.inFlight >= EVENT_WRITE_CONCURRENCY) await new Promise<void>((r) => this.waiters.push(r));
    this.inFlight++;
    try {
      await write();
    } finally {
      this.inFlight--;
      this.waiters.shift()?.();
    }
  }

  private enqueue(name: string, write: () => Promise<void>): void {
    if (this.pending >= this.opts.maxPending) {
      this.stats.dropped++;
      log.warn('too many pending events; dropping one', { name });
      return;
    }
    this.pending++;
    const prev = this.tails.get(name) ?? Promise.resolve();
    const next = prev.then(() => this.limited(write)).catch((e) => {
      this.stats.failed++;
      log.warn('could not write event', { name, err: e instanceof Error ? e.message : String(e) });
    });
    const tail = next.finally(() => {
      this.pending--;
      if (this.tails.get(name) === tail) this.tails.delete(name);
    });
    this.tails.set(name, tail);
  }

  private async writeCreate(ev: KObject): Promise<void> {
    const ns = ev.metadata.namespace;
    try {
      await this.withRetries(() => this.client.send('POST', this.client.path(eventsRef, ns), ev, { timeoutMs: 10_000, signal: this.abort.signal }));
      this.stats.created++;
    } catch (e) {
      // Upstream: an event that already exists is not retried.
      if (e instanceof StatusError && e.code === 409) return;
      throw e;
    }
  }

  private async writePatch(ns: string, name: string, patch: KObject, full: KObject): Promise<void> {
    try {
      await this.withRetries(() =>
        this.client.send('PATCH', this.client.path(eventsRef, ns, name), patch, { contentType: 'application/merge-patch+json', timeoutMs: 10_000, signal: this.abort.signal }),
      );
      this.stats.patched++;
    } catch (e) {
      // The event expired (or its create failed): write it afresh, with the count so far.
      if (e instanceof StatusError && e.code === 404) return this.writeCreate(full);
      throw e;
    }
  }

  private async withRetries<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const transient = !(e instanceof StatusError) || e.code >= 500 || e.code === 429;
        if (!transient || attempt >= this.opts.maxTries || this.abort.signal.aborted) throw e;
        await new Promise<void>((resolve) => {
          const signal = this.abort.signal;
          const onAbort = () => {
            clearTimeout(t);
            resolve();
          };
          const t = setTimeout(() => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          }, this.opts.retryDelayMs);
          signal.addEventListener('abort', onAbort, { once: true });
        });
      }
    }
  }
}
