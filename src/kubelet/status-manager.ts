/**
 * Writes pod statuses to the API: one PATCH of pods/status in flight per pod at most, later
 * statuses replacing earlier unsent ones (so a burst of changes costs one request), unchanged
 * statuses skipped, and every write through a shared limiter so thousands of pods do not flood
 * the API server.
 */
import { StatusError } from '../api/errors.js';
import { logger } from '../base/log.js';
import type { KObject, RestClient } from '../client/rest-client.js';
import { resources } from '../client/resources.js';
import { Limiter, Ticker, hash53 } from './timing.js';

const log = logger('kubelet-status');

interface Entry {
  namespace: string;
  name: string;
  uid: string;
  pending?: KObject;
  pendingFp?: number;
  sentFp?: number;
  inflight: boolean;
  waiters?: (() => void)[];
  gone?: boolean;
}

/** Counters, for tests and benchmarks. */
export interface StatusManagerStats {
  patches: number;
  coalesced: number;
  skipped: number;
  errors: number;
}

/** The pod status writer, shareable by every kubelet in a process. */
export class StatusManager {
  private readonly entries = new Map<string, Entry>();
  readonly stats: StatusManagerStats = { patches: 0, coalesced: 0, skipped: 0, errors: 0 };
  private stopped = false;

  constructor(
    private readonly client: RestClient,
    private readonly limiter: Limiter = new Limiter(32),
    private readonly ticker: Ticker = new Ticker(),
    private readonly retryMs = 1000,
  ) {}

  /** Queue `status` for the pod unless it equals what was last written or queued. */
  set(pod: KObject, status: KObject): void {
    if (this.stopped) return;
    const uid: string = pod.metadata.uid;
    let e = this.entries.get(uid);
    if (!e) this.entries.set(uid, (e = { namespace: pod.metadata.namespace, name: pod.metadata.name, uid, inflight: false }));
    const fp = hash53(JSON.stringify(status));
    if (e.pending ? fp === e.pendingFp : fp === e.sentFp) {
      this.stats.skipped++;
      return;
    }
    if (e.pending) this.stats.coalesced++;
    e.pending = status;
    e.pendingFp = fp;
    this.pump(e);
  }

  /** Resolves once everything queued for the pod has been written (or given up on). */
  flush(uid: string): Promise<void> {
    const e = this.entries.get(uid);
    if (!e || (!e.pending && !e.inflight)) return Promise.resolve();
    return new Promise((r) => (e.waiters ??= []).push(r));
  }

  /** Drop the pod (it is gone). */
  forget(uid: string): void {
    const e = this.entries.get(uid);
    if (!e) return;
    e.gone = true;
    e.pending = undefined;
    this.entries.delete(uid);
    this.wake(e);
  }

  /** Pods with a status queued or in flight. */
  get backlog(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.pending || e.inflight) n++;
    return n;
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) {
      e.pending = undefined;
      this.wake(e);
    }
    this.entries.clear();
  }

  private pump(e: Entry): void {
    if (e.inflight || !e.pending || e.gone || this.stopped) return;
    e.inflight = true;
    let retry = false;
    void this.limiter
      .run(async () => {
        const status = e.pending;
        const fp = e.pendingFp;
        e.pending = undefined;
        if (!status || e.gone || this.stopped) return;
        try {
          // The uid makes the write fail rather than land on a same-named successor pod.
          await this.client.patch(resources.pods, e.namespace, e.name, { metadata: { uid: e.uid }, status }, 'strategic', { subresource: 'status' });
          this.stats.patches++;
          e.sentFp = fp;
        } catch (err) {
          this.stats.errors++;
          if (err instanceof StatusError && (err.code === 404 || err.code === 409 || err.code === 422)) {
            log.debug('pod status not written', { pod: `${e.namespace}/${e.name}`, err });
            if (err.code === 404) e.gone = true;
            return;
          }
          log.warn('pod status write failed; will retry', { pod: `${e.namespace}/${e.name}`, err });
          if (!e.pending) {
            e.pending = status;
            e.pendingFp = fp;
          }
          retry = true;
        }
      })
      .finally(() => {
        if (retry && !this.stopped) {
          // Back off outside the limiter, so one failing pod holds no request slot.
          this.ticker.after(this.retryMs, () => {
            e.inflight = false;
            this.pump(e);
            if (!e.inflight) this.wake(e);
          });
          return;
        }
        e.inflight = false;
        if (e.pending && !e.gone && !this.stopped) this.pump(e);
        else this.wake(e);
      });
  }

  private wake(e: Entry): void {
    const ws = e.waiters;
    e.waiters = undefined;
    for (const w of ws ?? []) w();
  }
}
