/**
 * The kubelet's prober (upstream pkg/kubelet/prober): one worker per container and probe kind,
 * probing every periodSeconds, turning runs of results into a state once failureThreshold or
 * successThreshold is met, holding liveness and startup after a failure until the container is
 * replaced, and keeping liveness and readiness quiet until the startup probe has succeeded.
 */
import type { KObject } from '../../client/rest-client.js';
import type { Ticker } from '../timing.js';
import type { ExecSyncFn } from './exec-probe.js';
import type { ProbeOutcome } from './probe-util.js';
import { runProbeWithRetries } from './run-probe.js';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';
export type ProbeResult = 'success' | 'failure' | 'unknown';

/** A running container to probe. */
export interface ProbeTarget {
  podUID: string;
  podName: string;
  namespace: string;
  podIP: string;
  /** The pod spec's container. */
  container: KObject;
  containerId: string;
  /** When the container started (its status' state.running.startedAt), ms since the epoch. */
  startedAtMs: number;
}

/** An event the kubelet should record on the container, as upstream's prober does on each run. */
export interface ProbeEvent {
  type: 'Warning';
  /** Unhealthy for a failed or errored probe, ProbeWarning for a success with a warning. */
  reason: 'Unhealthy' | 'ProbeWarning';
  message: string;
}

export interface ProberOptions {
  execSync: ExecSyncFn;
  /**
   * Called when a probe's result changes (after failureThreshold / successThreshold are met), and on
   * each failure for liveness/startup restarts. `message` is the failing run's event message
   * (`Liveness probe failed: HTTP probe failed with statuscode: 500`), '' for success.
   * Initial values (readiness false, not started) are not reported: read them from ready()/started().
   */
  onResult(t: ProbeTarget, kind: ProbeKind, result: ProbeResult, message: string): void;
  /** Every failed, errored or warned run, worded like upstream's Unhealthy / ProbeWarning events. */
  onEvent?(t: ProbeTarget, kind: ProbeKind, e: ProbeEvent): void;
  /** Shared timer wheel; without one each worker keeps its own timer. */
  ticker?: Ticker;
  /**
   * Delay the first probe by a random part of the period when the manager started less than a
   * period ago (upstream does this after a kubelet restart). Default true.
   */
  jitter?: boolean;
  /** Multiplies every probe duration (initialDelay, period, timeout); tests use e.g. 0.02. Default 1. */
  periodScale?: number;
}

const KINDS: ProbeKind[] = ['startup', 'liveness', 'readiness'];
const SPEC_FIELD: Record<ProbeKind, string> = { startup: 'startupProbe', liveness: 'livenessProbe', readiness: 'readinessProbe' };
const TITLE: Record<ProbeKind, string> = { startup: 'Startup', liveness: 'Liveness', readiness: 'Readiness' };
/** The result before any probe has decided (upstream worker.initialValue). */
const INITIAL: Record<ProbeKind, ProbeResult> = { startup: 'unknown', liveness: 'success', readiness: 'failure' };

/** A probe with upstream's defaults filled in. */
export interface ProbeSpec {
  handler: KObject;
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

/** Fills upstream's defaults: initialDelay 0, period 10, timeout 1, success 1, failure 3. */
export function probeSpec(p: KObject): ProbeSpec {
  const pos = (v: unknown, d: number) => (typeof v === 'number' && v > 0 ? v : d);
  return {
    handler: p,
    initialDelaySeconds: typeof p.initialDelaySeconds === 'number' && p.initialDelaySeconds > 0 ? p.initialDelaySeconds : 0,
    periodSeconds: pos(p.periodSeconds, 10),
    timeoutSeconds: pos(p.timeoutSeconds, 1),
    successThreshold: pos(p.successThreshold, 1),
    failureThreshold: pos(p.failureThreshold, 3),
  };
}

interface Worker {
  kind: ProbeKind;
  spec: ProbeSpec;
  entry: Entry;
  result: ProbeResult;
  lastResult?: ProbeResult;
  resultRun: number;
  onHold: boolean;
  stopped: boolean;
  inFlight: boolean;
  /** A tick came while a probe ran: probe again right after (Go's ticker buffers one tick). */
  pending: boolean;
  cancel?: () => void;
}

interface Entry {
  target: ProbeTarget;
  workers: Map<ProbeKind, Worker>;
}

type Every = (periodMs: number, fn: () => void, offsetMs: number) => () => void;

function timerEvery(periodMs: number, fn: () => void, offsetMs: number): () => void {
  let iv: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    iv = setInterval(fn, periodMs);
    fn();
  }, offsetMs);
  return () => {
    clearTimeout(first);
    if (iv) clearInterval(iv);
  };
}

/** Probes containers and keeps their liveness, readiness and startup state. */
export class ProbeManager {
  private readonly entries = new Map<string, Entry>();
  /** `podUID/containerName` → containerId, so a new container replaces the old one's workers. */
  private readonly byName = new Map<string, string>();
  private readonly startMs = Date.now();
  private readonly scale: number;
  private readonly every: Every;

  constructor(private readonly o: ProberOptions) {
    this.scale = o.periodScale ?? 1;
    const ticker = o.ticker;
    this.every = ticker ? (p, fn, off) => ticker.every(p, fn, off) : timerEvery;
  }

  /**
   * Starts workers for the container's probes; idempotent per containerId (a repeat call only
   * refreshes podIP and startedAtMs). A new containerId for the same pod and container name
   * replaces the old container's workers.
   */
  addContainer(t: ProbeTarget): void {
    const known = this.entries.get(t.containerId);
    if (known) {
      known.target.podIP = t.podIP;
      known.target.startedAtMs = t.startedAtMs;
      return;
    }
    t = { ...t };
    const nameKey = `${t.podUID}/${t.container.name}`;
    const old = this.byName.get(nameKey);
    if (old !== undefined) this.removeContainer(old);
    const entry: Entry = { target: t, workers: new Map() };
    for (const kind of KINDS) {
      const p = t.container[SPEC_FIELD[kind]];
      if (!p || typeof p !== 'object') continue;
      const w: Worker = { kind, spec: probeSpec(p), entry, result: INITIAL[kind], resultRun: 0, onHold: false, stopped: false, inFlight: false, pending: false };
      entry.workers.set(kind, w);
    }
    if (!entry.workers.size) return;
    this.entries.set(t.containerId, entry);
    this.byName.set(nameKey, t.containerId);
    for (const w of entry.workers.values()) this.start(w);
  }

  /** Stops the container's workers and forgets its results. */
  removeContainer(containerId: string): void {
    const e = this.entries.get(containerId);
    if (!e) return;
    for (const w of e.workers.values()) this.halt(w);
    this.entries.delete(containerId);
    const nameKey = `${e.target.podUID}/${e.target.container.name}`;
    if (this.byName.get(nameKey) === containerId) this.byName.delete(nameKey);
  }

  /** Stops probing every container of the pod. */
  removePod(podUID: string): void {
    for (const [id, e] of [...this.entries]) if (e.target.podUID === podUID) this.removeContainer(id);
  }

  /**
   * Pod termination: liveness and startup stop and read as succeeded, so a shutting-down container is
   * not restarted (upstream StopLivenessAndStartup); readiness goes on.
   */
  stopLivenessAndStartup(podUID: string): void {
    for (const e of this.entries.values()) {
      if (e.target.podUID !== podUID) continue;
      for (const kind of ['liveness', 'startup'] as const) {
        const w = e.workers.get(kind);
        if (!w) continue;
        this.halt(w);
        w.result = 'success';
      }
    }
  }

  /** undefined when no readiness probe (then a running container is ready); false until the first success. */
  ready(containerId: string): boolean | undefined {
    const w = this.entries.get(containerId)?.workers.get('readiness');
    return w ? w.result === 'success' : undefined;
  }

  /** undefined when no startup probe; false until it succeeds. */
  started(containerId: string): boolean | undefined {
    const w = this.entries.get(containerId)?.workers.get('startup');
    return w ? w.result === 'success' : undefined;
  }

  /** The current result of one probe, undefined when the container has no such probe. */
  result(containerId: string, kind: ProbeKind): ProbeResult | undefined {
    return this.entries.get(containerId)?.workers.get(kind)?.result;
  }

  /** Stops every worker. */
  stop(): void {
    for (const id of [...this.entries.keys()]) this.removeContainer(id);
  }

  private start(w: Worker): void {
    const periodMs = w.spec.periodSeconds * 1000 * this.scale;
    const sinceStart = Date.now() - this.startMs;
    const offset = this.o.jitter !== false && sinceStart < periodMs ? Math.random() * periodMs : 0;
    w.cancel = this.every(periodMs, () => this.tick(w), offset);
  }

  private halt(w: Worker): void {
    w.stopped = true;
    w.cancel?.();
    w.cancel = undefined;
  }

  private tick(w: Worker): void {
    if (w.stopped) return;
    if (w.inFlight) {
      w.pending = true;
      return;
    }
    w.inFlight = true;
    void this.doProbe(w)
      .catch(() => {})
      .finally(() => {
        w.inFlight = false;
        if (w.pending && !w.stopped) {
          w.pending = false;
          this.tick(w);
        }
      });
  }

  private async doProbe(w: Worker): Promise<void> {
    if (w.onHold) return;
    const { entry, spec, kind } = w;
    const t = entry.target;
    if (Math.trunc((Date.now() - t.startedAtMs) / (1000 * this.scale)) < spec.initialDelaySeconds) return;
    const startup = entry.workers.get('startup');
    if (kind === 'startup') {
      if (w.result === 'success') return;
    } else if (startup && startup.result !== 'success') return;

    const timeoutMs = spec.timeoutSeconds * 1000 * this.scale;
    const outcome = await runProbeWithRetries(spec.handler, {
      execSync: this.o.execSync,
      containerId: t.containerId,
      container: t.container,
      podIP: t.podIP,
      podDescription: `${t.podName}_${t.namespace}(${t.podUID})`,
      timeoutSeconds: spec.timeoutSeconds,
      timeoutMs,
      execGraceMs: 1000 * this.scale,
    });
    if (w.stopped || w.onHold) return;
    const { result, message } = this.judge(w, outcome);
    // An errored probe's result is thrown away.
    if (result === undefined) return;

    if (w.lastResult === result) w.resultRun++;
    else {
      w.lastResult = result;
      w.resultRun = 1;
    }
    if ((result === 'failure' && w.resultRun < spec.failureThreshold) || (result === 'success' && w.resultRun < spec.successThreshold)) return;

    const changed = w.result !== result;
    w.result = result;
    if ((kind === 'liveness' || kind === 'startup') && result === 'failure') {
      // The container will be killed: hold until a new container (a new entry) replaces it.
      w.onHold = true;
      w.resultRun = 0;
      w.cancel?.();
      w.cancel = undefined;
    }
    if (changed) {
      try {
        this.o.onResult(t, kind, result, result === 'failure' ? message : '');
      } catch {
        // the listener's failure is its own business
      }
    }
    if (kind === 'startup' && result === 'success') {
      // Startup probes stop once they succeed; the others start at once instead of a period later.
      w.cancel?.();
      w.cancel = undefined;
      for (const k of ['liveness', 'readiness'] as const) {
        const other = entry.workers.get(k);
        if (other && !other.stopped) this.tick(other);
      }
    }
  }

  /** Maps a handler outcome to a result (undefined: discard) and records upstream's event for it. */
  private judge(w: Worker, out: ProbeOutcome): { result?: ProbeResult; message: string } {
    const title = TITLE[w.kind];
    const t = w.entry.target;
    const event = (reason: ProbeEvent['reason'], message: string) => {
      try {
        this.o.onEvent?.(t, w.kind, { type: 'Warning', reason, message });
      } catch {
        // the listener's failure is its own business
      }
    };
    if (out.error !== undefined) {
      event('Unhealthy', `${title} probe errored and resulted in ${out.result} state: ${out.error}`);
      return { message: '' };
    }
    switch (out.result) {
      case 'success':
        return { result: 'success', message: '' };
      case 'warning':
        event('ProbeWarning', `${title} probe warning: ${out.output}`);
        return { result: 'success', message: '' };
      case 'failure': {
        const message = `${title} probe failed: ${out.output}`;
        event('Unhealthy', message);
        return { result: 'failure', message };
      }
      default:
        return { result: 'failure', message: `${title} probe failed` };
    }
  }
}
