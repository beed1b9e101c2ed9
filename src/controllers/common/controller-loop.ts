/**
 * The life cycle every queue-driven controller shares: its informer handler registrations, workers
 * that start once the caches have synced, and a stop that detaches, drains the queue and waits.
 */
import { logger } from '../../base/log.js';
import { runWorkers, type HandlerRegistration, type WorkQueue } from '../../client/index.js';

const log = logger('controller');

export class ControllerLoop {
  /** Handlers the controller registered on shared informers; removed on stop. */
  readonly regs: HandlerRegistration[] = [];
  private running?: Promise<void>;
  private stoppedFlag = false;

  constructor(
    private readonly queue: WorkQueue<string>,
    /** The log field naming a key, e.g. `replicaset`. */
    private readonly keyLabel: string,
  ) {}

  get stopped(): boolean {
    return this.stoppedFlag;
  }

  /** After `ready` (cache syncs), run `workers` workers of `sync` until stop; failed keys are retried with backoff. */
  run(ready: () => Promise<unknown>, workers: number, sync: (key: string) => Promise<void>): void {
    this.running = (async () => {
      await ready();
      if (this.stoppedFlag) return;
      await runWorkers(this.queue, workers, sync, {
        onError: (k, err, n) => log.warn('sync failed; requeuing', { [this.keyLabel]: k, requeues: n, err: err instanceof Error ? err.message : String(err) }),
      });
    })();
  }

  async stop(): Promise<void> {
    this.stoppedFlag = true;
    for (const r of this.regs.splice(0)) r.remove();
    await this.queue.shutDownWithDrain();
    await this.running;
  }
}
