/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics
 * (tools/leaderelection): a candidate takes the lease when it is free or its holder has not
 * renewed it for leaseDurationSeconds (judged on the local clock from when the record last
 * changed, so clocks need not agree), renews it every retryPeriod, and gives up leading when it
 * could not renew within renewDeadline. Every write carries the resourceVersion it read, so two
 * candidates can never both succeed.
 */
import { abortableSleep } from '../base/sleep.js';
import { StatusError } from '../api/errors.js';
import { logger } from '../base/log.js';
import type { KObject, ResourceRef, RestClient } from './rest-client.js';

const log = logger('leader-election');

const leases: ResourceRef = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespaced: true };

/** client-go's JitterFactor: waits between acquire attempts are retryPeriod × (1 + rand × 1.2). */
export const JITTER_FACTOR = 1.2;

/** The lease fields leader election reads and writes (client-go's LeaderElectionRecord). */
export interface LeaderElectionRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions: number;
}

export interface LeaderCallbacks {
  /** Called once this candidate leads; `signal` aborts when it stops leading. Not awaited. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /** Called after leading ended (lost or stopped). Not called if this candidate never led. */
  onStoppedLeading?(): void;
  /** Called when the observed leader changes, including to this candidate; never with ''. */
  onNewLeader?(identity: string): void;
}

/** Something that can record an event (an EventRecorder). */
export interface EventSink {
  event(obj: KObject, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

export interface LeaderElectionConfig {
  client: RestClient;
  /** The Lease's namespace and name, e.g. kube-system / kube-scheduler. */
  namespace: string;
  name: string;
  /** Unique per candidate, e.g. `${hostname}_${uuid}`. */
  identity: string;
  /** How long a lease holds without renewal. Rounded up to whole seconds in the Lease. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a failed renewal before giving up. Default 10 s. */
  renewDeadlineMs?: number;
  /** Wait between attempts. Default 2 s. */
  retryPeriodMs?: number;
  /** Give the lease up on {@link LeaderElector.stop} so another candidate need not wait for it to expire. */
  releaseOnCancel?: boolean;
  callbacks: LeaderCallbacks;
  /** Records "<identity> became leader" / "stopped leading" LeaderElection events on the Lease. */
  recorder?: EventSink;
}

/** Throws on a configuration client-go would refuse. */
export function validateLeaderElectionConfig(c: LeaderElectionConfig): void {
  const lease = c.leaseDurationMs ?? 15_000;
  const renew = c.renewDeadlineMs ?? 10_000;
  const retry = c.retryPeriodMs ?? 2_000;
  if (!(lease > renew)) throw new Error('leaseDuration must be greater than renewDeadline');
  if (!(renew > JITTER_FACTOR * retry)) throw new Error('renewDeadline must be greater than retryPeriod*JitterFactor');
  if (!(lease > 0)) throw new Error('leaseDuration must be greater than zero');
  if (!(renew > 0)) throw new Error('renewDeadline must be greater than zero');
  if (!(retry > 0)) throw new Error('retryPeriod must be greater than zero');
  if (!c.identity) throw new Error('Lock identity is empty');
  if (!c.namespace || !c.name) throw new Error('Lease namespace and name are required');
  if (typeof c.callbacks?.onStartedLeading !== 'function') throw new Error('OnStartedLeading callback must not be nil');
}

/** Lease times are MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

function recordOf(lease: KObject): LeaderElectionRecord {
  const s = lease.spec ?? {};
  return {
    holderIdentity: s.holderIdentity ?? '',
    leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
    acquireTime: s.acquireTime ?? undefined,
    renewTime: s.renewTime ?? undefined,
    leaseTransitions: s.leaseTransitions ?? 0,
  };
}


/**
 * One candidate. `run()` campaigns until it leads, leads until it loses the lease or is stopped,
 * and then resolves; it may be called again afterwards (unless stopped).
 */
export class LeaderElector {
  readonly config: Required<Pick<LeaderElectionConfig, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>> & LeaderElectionConfig;
  private readonly abort = new AbortController();
  private leading = false;
  private running?: Promise<void>;
  /** The last lease read or written, and when (local clock) its record last changed. */
  private observedLease?: KObject;
  private observedRaw = '';
  private observedTime = 0;
  private reportedLeader = '';

  constructor(config: LeaderElectionConfig) {
    validateLeaderElectionConfig(config);
    // `??` per field: a caller passing `undefined` through must get the default, not a 1 ms retry loop.
    this.config = { ...config, leaseDurationMs: config.leaseDurationMs ?? 15_000, renewDeadlineMs: config.renewDeadlineMs ?? 10_000, retryPeriodMs: config.retryPeriodMs ?? 2_000 };
  }

  /** True while this candidate holds the lease and has not given up leading. */
  isLeader(): boolean {
    return this.leading;
  }

  /** The identity of the last observed holder ('' if none). */
  getLeader(): string {
    return this.observedLease ? recordOf(this.observedLease).holderIdentity : '';
  }

  /** Campaign, lead, and resolve when leading ends or {@link stop} is called. */
  run(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.runOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Stop campaigning or leading (releasing the lease if configured); resolves when `run` has returned. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async runOnce(): Promise<void> {
    const signal = this.abort.signal;
    if (!(await this.acquire(signal))) return;
    this.leading = true;
    const leaderAbort = new AbortController();
    log.info('became leader', { lease: this.leaseName(), identity: this.config.identity });
    this.emit('Normal', `${this.config.identity} became leader`);
    try {
      const r = this.config.callbacks.onStartedLeading(leaderAbort.signal);
      if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch((e) => log.error('onStartedLeading failed', { err: String(e) }));
    } catch (e) {
      log.error('onStartedLeading failed', { err: String(e) });
    }
    await this.renew(signal);
    this.leading = false;
    leaderAbort.abort();
    if (signal.aborted && this.config.releaseOnCancel) await this.release();
    log.info('stopped leading', { lease: this.leaseName(), identity: this.config.identity });
    this.emit('Normal', `${this.config.identity} stopped leading`);
    try {
      this.config.callbacks.onStoppedLeading?.();
    } catch (e) {
      log.error('onStoppedLeading failed', { err: String(e) });
    }
  }

  /** Try until the lease is ours; false if stopped first. */
  private async acquire(signal: AbortSignal): Promise<boolean> {
    const { retryPeriodMs, renewDeadlineMs } = this.config;
    while (!signal.aborted) {
      const ok = await this.tryAcquireOrRenew(signal, renewDeadlineMs);
      this.maybeReportTransition();
      if (ok) return true;
      await abortableSleep(retryPeriodMs * (1 + Math.random() * JITTER_FACTOR), signal);
    }
    return false;
  }

  /** Renew every retryPeriod; return when a renewal did not succeed within renewDeadline, or on stop. */
  private async renew(signal: AbortSignal): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs } = this.config;
    while (!signal.aborted) {
      const deadline = performance.now() + renewDeadlineMs;
      let ok = false;
      while (!signal.aborted) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        ok = await this.tryAcquireOrRenew(signal, left);
        this.maybeReportTransition();
        if (ok) break;
        const wait = Math.min(retryPeriodMs, deadline - performance.now());
        if (wait <= 0) break;
        await abortableSleep(wait, signal);
      }
      if (signal.aborted) return;
      if (!ok) {
        log.warn('failed to renew lease; giving up leadership', { lease: this.leaseName(), identity: this.config.identity });
        return;
      }
      await abortableSleep(retryPeriodMs, signal);
    }
  }

  private leaseDurationSeconds(): number {
    return Math.max(1, Math.ceil(this.config.leaseDurationMs / 1000));
  }

  private observe(lease: KObject, now: number): void {
    const raw = JSON.stringify(recordOf(lease));
    if (raw !== this.observedRaw) {
      this.observedRaw = raw;
      this.observedTime = now;
    }
    this.observedLease = lease;
  }

  /**
   * One attempt (client-go's tryAcquireOrRenew): create the lease if missing; otherwise take or
   * renew it unless someone else holds an unexpired one. Never throws.
   */
  private async tryAcquireOrRenew(signal: AbortSignal, timeoutMs: number): Promise<boolean> {
    const { client, namespace, name, identity } = this.config;
    const now = Date.now();
    // One budget for the whole attempt, however many requests it takes.
    const end = performance.now() + timeoutMs;
    const opts = () => ({ signal, timeoutMs: Math.max(1, end - performance.now()) });
    const path = client.path(leases, namespace, name);
    try {
      // Fast path: the leader writes over the version it last wrote, skipping the read.
      if (this.leading && this.observedLease && recordOf(this.observedLease).holderIdentity === identity) {
        const old = recordOf(this.observedLease);
        if (this.observedTime + old.leaseDurationSeconds * 1000 > now) {
          try {
            const updated = await client.send<KObject>('PUT', path, this.withRecord(this.observedLease, { ...old, leaseDurationSeconds: this.leaseDurationSeconds(), renewTime: microTime(now) }), opts());
            this.observe(updated, now);
            return true;
          } catch (e) {
            if (signal.aborted) return false;
            log.debug('lease fast-path renew failed; reading it', { lease: this.leaseName(), err: String(e) });
          }
        }
      }

      let lease: KObject;
      try {
        lease = await client.send<KObject>('GET', path, undefined, opts());
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 404)) throw e;
        const created = await client.send<KObject>(
          'POST',
          client.path(leases, namespace),
          this.withRecord(
            { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace } },
            { holderIdentity: identity, leaseDurationSeconds: this.leaseDurationSeconds(), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
          ),
          opts(),
        );
        this.observe(created, now);
        return true;
      }

      this.observe(lease, now);
      const old = recordOf(lease);
      const heldByMe = old.holderIdentity === identity;
      if (old.holderIdentity && !heldByMe && this.observedTime + old.leaseDurationSeconds * 1000 > now) {
        return false;
      }
      const desired: LeaderElectionRecord = {
        holderIdentity: identity,
        leaseDurationSeconds: this.leaseDurationSeconds(),
        acquireTime: heldByMe ? old.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: heldByMe ? old.leaseTransitions : old.leaseTransitions + 1,
      };
      const updated = await client.send<KObject>('PUT', path, this.withRecord(lease, desired), opts());
      this.observe(updated, now);
      return true;
    } catch (e) {
      if (!signal.aborted) log.debug('lease attempt failed', { lease: this.leaseName(), identity, err: String(e) });
      return false;
    }
  }

  /** Give the lease up: empty holder, a one-second duration, transitions kept. */
  private async release(): Promise<void> {
    let lease = this.observedLease;
    // A renewal still in flight when we stopped may have moved the lease on: re-read on conflict.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (!lease || recordOf(lease).holderIdentity !== this.config.identity) return;
      const now = Date.now();
      const rec: LeaderElectionRecord = { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: recordOf(lease).leaseTransitions };
      const path = this.config.client.path(leases, this.config.namespace, this.config.name);
      try {
        const updated = await this.config.client.send<KObject>('PUT', path, this.withRecord(lease, rec), { timeoutMs: this.config.renewDeadlineMs });
        this.observe(updated, now);
        return;
      } catch (e) {
        if ((e as { code?: number }).code !== 409) {
          log.warn('failed to release lease', { lease: this.leaseName(), err: String(e) });
          return;
        }
        lease = await this.config.client.send<KObject>('GET', path, undefined, { timeoutMs: this.config.renewDeadlineMs }).catch(() => undefined);
      }
    }
  }

  private withRecord(lease: KObject, r: LeaderElectionRecord): KObject {
    const spec: KObject = { holderIdentity: r.holderIdentity, leaseDurationSeconds: r.leaseDurationSeconds, leaseTransitions: r.leaseTransitions };
    if (r.acquireTime) spec.acquireTime = r.acquireTime;
    if (r.renewTime) spec.renewTime = r.renewTime;
    return { ...lease, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', spec };
  }

  private maybeReportTransition(): void {
    const holder = this.getLeader();
    if (!holder || holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    try {
      this.config.callbacks.onNewLeader?.(holder);
    } catch (e) {
      log.error('onNewLeader failed', { err: String(e) });
    }
  }

  private emit(type: 'Normal' | 'Warning', message: string): void {
    const r = this.config.recorder;
    if (!r) return;
    const lease = this.observedLease ?? { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { namespace: this.config.namespace, name: this.config.name } };
    r.event({ ...lease, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' }, type, 'LeaderElection', message);
  }

  private leaseName(): string {
    return `${this.config.namespace}/${this.config.name}`;
  }
}

/** Start a candidate in the background; stop it with `stop()`. */
export function startLeaderElection(config: LeaderElectionConfig): LeaderElector {
  const le = new LeaderElector(config);
  void le.run();
  return le;
}
