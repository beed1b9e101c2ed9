/**
 * A controller work queue with client-go's semantics: keys are deduplicated, a key being processed
 * and re-added is handed out again only after `done`, never to two workers at once; delayed and
 * rate-limited re-adds; and `runWorkers`, the processNextWorkItem loop every controller uses.
 */
import { logger } from '../base/log.js';

const log = logger('workqueue');

/** Decides how long an item waits before it is retried. */
export interface RateLimiter<T> {
  /** The delay in milliseconds before the item's next retry; counts as a failure. */
  when(item: T): number;
  /** Clear the item's failure history (it succeeded, or was given up on). */
  forget(item: T): void;
  /** How many failures have been recorded for the item. */
  numRequeues(item: T): number;
}

/** Per-item exponential backoff: base·2^failures, capped (client-go's ItemExponentialFailureRateLimiter). */
export class ItemExponentialFailureRateLimiter<T> implements RateLimiter<T> {
  private readonly failures = new Map<T, number>();

  /** Defaults: 5 ms doubling up to 1000 s, client-go's controller defaults. */
  constructor(
    readonly baseDelayMs = 5,
    readonly maxDelayMs = 1000_000,
  ) {}

  when(item: T): number {
    const n = this.failures.get(item) ?? 0;
    this.failures.set(item, n + 1);
    // 2^n overflows to Infinity long before it matters; the cap handles it.
    const d = this.baseDelayMs * 2 ** n;
    return Math.min(d, this.maxDelayMs);
  }
  forget(item: T): void {
    this.failures.delete(item);
  }
  numRequeues(item: T): number {
    return this.failures.get(item) ?? 0;
  }
}

/**
 * An overall token bucket (client-go's BucketRateLimiter over rate.Limiter): every call reserves a
 * token and returns how long until that token exists. It has no per-item state.
 */
export class BucketRateLimiter<T> implements RateLimiter<T> {
  private tokens: number;
  private last: number;

  /** Defaults: 10 qps with a burst of 100, client-go's controller defaults. */
  constructor(
    readonly qps = 10,
    readonly burst = 100,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  when(_item: T): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
    this.tokens -= 1;
    // A negative balance is a reservation: wait until it is paid back.
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }
  forget(_item: T): void {}
  numRequeues(_item: T): number {
    return 0;
  }
}

/** The longest delay of several limiters (client-go's MaxOfRateLimiter). */
export class MaxOfRateLimiter<T> implements RateLimiter<T> {
  private readonly limiters: RateLimiter<T>[];
  constructor(...limiters: RateLimiter<T>[]) {
    this.limiters = limiters;
  }
  when(item: T): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.when(item));
    return max;
  }
  forget(item: T): void {
    for (const l of this.limiters) l.forget(item);
  }
  numRequeues(item: T): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.numRequeues(item));
    return max;
  }
}

/** client-go's DefaultControllerRateLimiter: per-item 5 ms..1000 s backoff, overall 10 qps / 100 burst. */
export function defaultControllerRateLimiter<T>(): RateLimiter<T> {
  return new MaxOfRateLimiter<T>(new ItemExponentialFailureRateLimiter<T>(5, 1000_000), new BucketRateLimiter<T>(10, 100));
}

export interface WorkQueueOptions<T> {
  /** For log lines. */
  name?: string;
  /** Default: {@link defaultControllerRateLimiter}. */
  rateLimiter?: RateLimiter<T>;
}

/**
 * A deduplicating, delaying, rate-limited work queue. Items are compared with `===` (use string keys).
 * Single-threaded: "concurrency" means interleaved async workers on the event loop.
 */
export class WorkQueue<T = string> {
  readonly name: string;
  private readonly rateLimiter: RateLimiter<T>;
  /** Items waiting to be handed out, in order. */
  private queue: T[] = [];
  private head = 0;
  /** Items that need processing (queued, or re-added while processing). */
  private readonly dirty = new Set<T>();
  /** Items handed out and not yet done. */
  private readonly processing = new Set<T>();
  /** Workers blocked in get(). */
  private waiters: ((v: T | undefined) => void)[] = [];
  /** Delayed adds: the earliest time each item becomes ready, and its timer. */
  private readonly waiting = new Map<T, { readyAt: number; timer: NodeJS.Timeout }>();
  private shuttingDown = false;
  private drainWaiters: (() => void)[] = [];

  constructor(opts: WorkQueueOptions<T> = {}) {
    this.name = opts.name ?? '';
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter<T>();
  }

  /** Mark the item as needing processing. No-op if it is already queued or the queue is shutting down. */
  add(item: T): void {
    if (this.shuttingDown || this.dirty.has(item)) return;
    this.dirty.add(item);
    // A worker holds it: done() will queue it again.
    if (this.processing.has(item)) return;
    this.push(item);
  }

  /** Hand a dirty item to a blocked worker, or queue it. */
  private push(item: T): void {
    const w = this.waiters.shift();
    if (w) {
      this.dirty.delete(item);
      this.processing.add(item);
      w(item);
    } else this.queue.push(item);
  }

  /** Add the item after a delay. A pending delayed add keeps whichever ready time is earlier. */
  addAfter(item: T, delayMs: number): void {
    if (this.shuttingDown) return;
    if (!(delayMs > 0)) {
      this.add(item);
      return;
    }
    const readyAt = performance.now() + delayMs;
    const prev = this.waiting.get(item);
    if (prev) {
      if (prev.readyAt <= readyAt) return;
      clearTimeout(prev.timer);
    }
    const timer = setTimeout(() => {
      this.waiting.delete(item);
      this.add(item);
    }, delayMs);
    this.waiting.set(item, { readyAt, timer });
  }

  /** Add the item when the rate limiter says it may be retried. */
  addRateLimited(item: T): void {
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** Stop tracking the item's retries (call after it was processed successfully). */
  forget(item: T): void {
    this.rateLimiter.forget(item);
  }

  /** How many times the item has been re-added by {@link addRateLimited} since the last forget. */
  numRequeues(item: T): number {
    return this.rateLimiter.numRequeues(item);
  }

  /**
   * The next item, waiting for one if the queue is empty. Resolves `undefined` once the queue is
   * shut down and empty. Every item received must be passed to {@link done}.
   */
  get(): Promise<T | undefined> {
    if (this.head < this.queue.length) {
      const item = this.queue[this.head]!;
      this.queue[this.head++] = undefined as T;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.dirty.delete(item);
      this.processing.add(item);
      return Promise.resolve(item);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The worker finished the item; if it was re-added meanwhile it is queued again. */
  done(item: T): void {
    if (!this.processing.delete(item)) return;
    if (this.dirty.has(item)) this.push(item);
    if (this.processing.size === 0 && this.drainWaiters.length) {
      for (const w of this.drainWaiters.splice(0)) w();
    }
  }

  /** Items waiting to be handed out (not counting in-flight or delayed ones). */
  len(): number {
    return this.queue.length - this.head;
  }

  /** True once {@link shutDown} was called. */
  shuttingDownNow(): boolean {
    return this.shuttingDown;
  }

  /**
   * Stop accepting items and cancel delayed adds; blocked and future `get` calls resolve
   * `undefined` once the remaining queued items are handed out.
   */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  /** Shut down, then wait until every item handed out has been marked done. */
  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }
}

export interface RunWorkersOptions<T> {
  /** Give up on an item after this many failed retries (forget it). Default: retry forever. */
  maxRetries?: number;
  /** Called on each failure, before the item is re-queued. Default: a warning log line. */
  onError?: (item: T, err: unknown, requeues: number) => void;
}

/** Handle one item: sync it, Forget on success, AddRateLimited on error. False when the queue is shut down. */
export async function processNextWorkItem<T>(queue: WorkQueue<T>, sync: (item: T) => Promise<void> | void, opts: RunWorkersOptions<T> = {}): Promise<boolean> {
  const item = await queue.get();
  if (item === undefined) return false;
  try {
    await sync(item);
    queue.forget(item);
  } catch (err) {
    const n = queue.numRequeues(item);
    if (opts.onError) opts.onError(item, err, n);
    else log.warn('error syncing; requeuing', { queue: queue.name, item: String(item), requeues: n, err: err instanceof Error ? err.message : String(err) });
    if (opts.maxRetries !== undefined && n >= opts.maxRetries) queue.forget(item);
    else queue.addRateLimited(item);
  } finally {
    queue.done(item);
  }
  return true;
}

/**
 * Run `n` workers over the queue until it is shut down. Resolves when every worker has exited.
 */
export async function runWorkers<T>(queue: WorkQueue<T>, n: number, sync: (item: T) => Promise<void> | void, opts: RunWorkersOptions<T> = {}): Promise<void> {
  const worker = async () => {
    while (await processNextWorkItem(queue, sync, opts));
  };
  await Promise.all(Array.from({ length: Math.max(1, n) }, worker));
}
