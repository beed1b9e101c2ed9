/**
 * Runs a function on request, at once when it has been quiet, and at a bounded rate under a
 * stream of requests (upstream's BoundedFrequencyRunner as kube-proxy uses it): a token bucket
 * holding `burst` runs, refilled one run per `minIntervalMs`. Requests that arrive while a run is
 * in progress or while the bucket is empty coalesce into one later run. Runs never overlap.
 */

/** Options of {@link BoundedRunner}. */
export interface BoundedRunnerOptions {
  /** Average spacing of runs under sustained requests. */
  minIntervalMs: number;
  /** Runs allowed back to back after a quiet spell (default 2, as upstream's kube-proxy). */
  burst?: number;
  /** After a failed run, request another this much later (default max(minIntervalMs, 1000)). */
  retryMs?: number;
  /** Told about a failed run (the run is retried). */
  onError?: (e: unknown) => void;
  /** Clock in ms (tests). */
  now?: () => number;
}

/** See the module comment. */
export class BoundedRunner {
  private tokens: number;
  private refilledAt: number;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  private stopped = false;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(
    private readonly fn: () => Promise<void>,
    private readonly o: BoundedRunnerOptions,
  ) {
    this.burst = Math.max(1, o.burst ?? 2);
    this.now = o.now ?? (() => performance.now());
    this.tokens = this.burst;
    this.refilledAt = this.now();
  }

  /** Something changed: run soon (at once, if the bucket allows and no run is going on). */
  request(): void {
    this.dirty = true;
    if (this.stopped || this.running || this.timer) return;
    this.refill();
    // A token: start after the current tick, so events delivered together make one run.
    const wait = this.tokens >= 1 || this.o.minIntervalMs <= 0 ? 0 : Math.ceil((1 - this.tokens) * this.o.minIntervalMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.dirty || this.stopped || this.running) return;
      this.refill();
      if (this.tokens < 1) return this.request();
      this.tokens -= 1;
      void this.start().catch(() => {});
    }, wait);
  }

  /** Run now, after any run in progress, whatever the bucket says (it is still charged). Rejects when the run fails. */
  async runNow(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.running) await this.running.catch(() => {});
    if (this.stopped) return;
    this.refill();
    this.tokens = Math.max(0, this.tokens - 1);
    this.dirty = true;
    return this.start();
  }

  /** No more runs; waits for one in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.timer = this.retryTimer = undefined;
    while (this.running) await this.running.catch(() => {});
  }

  private refill(): void {
    const t = this.now();
    if (this.o.minIntervalMs <= 0) this.tokens = this.burst;
    else this.tokens = Math.min(this.burst, this.tokens + (t - this.refilledAt) / this.o.minIntervalMs);
    this.refilledAt = t;
  }

  private start(): Promise<void> {
    this.dirty = false;
    const p = (async () => {
      try {
        await this.fn();
      } catch (e) {
        this.o.onError?.(e);
        if (!this.stopped && !this.retryTimer) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.request();
          }, this.o.retryMs ?? Math.max(this.o.minIntervalMs, 1000));
          this.retryTimer.unref?.();
        }
        throw e;
      } finally {
        this.running = undefined;
        // Changes that came in during the run: one more, when the bucket allows.
        if (this.dirty && !this.stopped) queueMicrotask(() => this.request());
      }
    })();
    this.running = p;
    return p;
  }
}
