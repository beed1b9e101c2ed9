/**
 * Per-watcher delivery queue shared by storage backends: asynchronous, ordered delivery with a
 * bounded buffer, so that one slow consumer never blocks writers or other watchers.
 */
import { SlowWatcherError, type WatchEvent, type WatchHandler } from './interface.js';

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Delivers event batches to one {@link WatchHandler} in order, from a microtask, never from the
 * producer's stack. When `onEvents` returns a promise, the next batch waits for it to settle
 * (backpressure); meanwhile batches queue up, and once more than `limit` events are waiting the
 * watch is closed with {@link SlowWatcherError}. A single batch arriving at an empty queue is always
 * accepted, whatever its size, so a large commit alone never counts as slowness.
 */
export class WatchQueue {
  private queue: WatchEvent[][] = [];
  private queued = 0;
  private scheduled = false;
  private waiting = false;
  private deliveredSinceProgress = false;
  private drainWaiters: Array<() => void> = [];
  private done = false;

  /**
   * @param handler the consumer.
   * @param limit the most events that may wait undelivered.
   * @param onEnd called once when the watch ends for any reason (close or cancel), to unregister it.
   */
  constructor(
    private readonly handler: WatchHandler,
    private readonly limit: number,
    private readonly onEnd: () => void,
  ) {}

  /** True once closed or cancelled. */
  get closed(): boolean {
    return this.done;
  }

  /** Events queued and not yet handed to the handler. */
  get pending(): number {
    return this.queued;
  }

  /** True when nothing is queued and the handler is not busy with a returned promise. */
  get idle(): boolean {
    return this.queued === 0 && !this.waiting;
  }

  /**
   * Queue one batch. `exempt` batches (history replay, paced by the caller with
   * {@link whenDrained}) skip the slowness check.
   */
  push(events: WatchEvent[], exempt = false): void {
    if (this.done || events.length === 0) return;
    if (!exempt && this.queued > 0 && this.queued + events.length > this.limit) {
      this.close(new SlowWatcherError());
      return;
    }
    this.queue.push(events);
    this.queued += events.length;
    this.schedule();
  }

  /** Run `cb` once the queue is empty and the handler idle (immediately if it already is). Dropped if the watch ends. */
  whenDrained(cb: () => void): void {
    if (this.done) return;
    if (this.idle) {
      cb();
      return;
    }
    this.drainWaiters.push(cb);
  }

  /** Send a progress notification if the watcher has been idle since the previous call. */
  progress(revision: number): void {
    if (this.done || !this.handler.onProgress) return;
    if (this.deliveredSinceProgress || !this.idle) {
      this.deliveredSinceProgress = false;
      return;
    }
    try {
      this.handler.onProgress(revision);
    } catch (err) {
      this.close(toError(err));
    }
  }

  /** End the watch and tell the handler (asynchronously) through onClose. Queued events are dropped. Idempotent. */
  close(err?: Error): void {
    if (this.done) return;
    this.finish();
    queueMicrotask(() => {
      try {
        this.handler.onClose(err);
      } catch {
        // A throwing onClose has nobody left to tell.
      }
    });
  }

  /** End the watch without calling onClose (the consumer asked for it). Idempotent. */
  cancel(): void {
    if (this.done) return;
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.queue = [];
    this.queued = 0;
    this.drainWaiters = [];
    this.onEnd();
  }

  private schedule(): void {
    if (this.scheduled || this.waiting || this.done) return;
    this.scheduled = true;
    queueMicrotask(() => this.pump());
  }

  private pump(): void {
    this.scheduled = false;
    while (!this.done && !this.waiting && this.queue.length > 0) {
      const batch = this.queue.shift()!;
      this.queued -= batch.length;
      this.deliveredSinceProgress = true;
      let result: unknown;
      try {
        result = this.handler.onEvents(batch);
      } catch (err) {
        this.close(toError(err));
        return;
      }
      if (isThenable(result)) {
        this.waiting = true;
        result.then(
          () => {
            this.waiting = false;
            this.schedule();
            this.notifyDrained();
          },
          (err: unknown) => {
            this.waiting = false;
            this.close(toError(err));
          },
        );
        return;
      }
    }
    this.notifyDrained();
  }

  private notifyDrained(): void {
    if (this.done || !this.idle || this.drainWaiters.length === 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const cb of waiters) cb();
  }
}
