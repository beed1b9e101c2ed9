/**
 * The TTL-after-finished controller (upstream's pkg/controller/ttlafterfinished): a Job with
 * spec.ttlSecondsAfterFinished is deleted, with background propagation, that many seconds after
 * it finished (its Complete or Failed condition turned True, else status.completionTime).
 */
import { StatusError } from '../../api/errors.js';
import { logger } from '../../base/log.js';
import type { Component, ComponentContext } from '../../client/component.js';
import { splitMetaNamespaceKey, type Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { ControllerLoop } from '../common/controller-loop.js';

const log = logger('ttl-after-finished-controller');

export interface TTLAfterFinishedControllerOptions {
  /** Concurrent syncs (upstream's --concurrent-ttl-after-finished-syncs). Default 5. */
  workers?: number;
  /** Milliseconds clock deciding expiry. Default Date.now. */
  now?: () => number;
}

const key = (obj: KObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
const isCode = (e: unknown, code: number) => e instanceof StatusError && e.code === code;

/** When the Job finished (ms), or undefined while it runs (upstream's jobFinishTime). */
export function jobFinishTime(job: KObject): number | undefined {
  const conds: KObject[] = Array.isArray(job.status?.conditions) ? job.status.conditions : [];
  const c = conds.find((x) => (x?.type === 'Complete' || x?.type === 'Failed') && x?.status === 'True');
  if (!c) return undefined;
  const t = Date.parse(c.lastTransitionTime ?? job.status?.completionTime ?? '');
  return Number.isFinite(t) ? t : undefined;
}

/**
 * Milliseconds until the Job may be deleted: undefined when it has no TTL, is not finished or is
 * already being deleted; 0 or less when it has expired.
 */
export function timeLeft(job: KObject, nowMs: number): number | undefined {
  const ttl = job.spec?.ttlSecondsAfterFinished;
  if (ttl === undefined || ttl === null || job.metadata?.deletionTimestamp) return undefined;
  const finished = jobFinishTime(job);
  if (finished === undefined) return undefined;
  return finished + Number(ttl) * 1000 - nowMs;
}

/** The TTL-after-finished controller, as a {@link Component}. */
export class TTLAfterFinishedController implements Component {
  readonly name = 'ttl-after-finished-controller';
  readonly queue = new WorkQueue<string>({ name: 'ttl_jobs_to_delete' });
  private client!: RestClient;
  private jobLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'job');
  private readonly workers: number;
  private readonly now: () => number;

  constructor(opts: TTLAfterFinishedControllerOptions = {}) {
    this.workers = opts.workers ?? 5;
    this.now = opts.now ?? Date.now;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const jobInf = ctx.informers.forResource(resources.jobs);
    this.jobLister = jobInf.lister;
    const consider = (job: KObject) => {
      if (timeLeft(job, this.now()) !== undefined) this.queue.add(key(job));
    };
    this.loop.regs.push(jobInf.addEventHandler({ onAdd: consider, onUpdate: (_o, cur) => consider(cur) }));
    ctx.informers.start();
    this.loop.run(
      async () => {
        await jobInf.waitForSync();
      },
      this.workers,
      (k) => this.sync(k),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /**
   * Delete the Job if its TTL has run out, else check again when it will have. The cached Job is
   * re-read from the server first, since the TTL may have been changed or removed meanwhile.
   */
  async sync(jobKey: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(jobKey);
    const cached = this.jobLister.get(namespace, name);
    if (!cached) return;
    if (!this.expiredOrRequeue(jobKey, cached)) return;
    let fresh: KObject;
    try {
      fresh = await this.client.get(resources.jobs, namespace, name);
    } catch (e) {
      if (isCode(e, 404)) return;
      throw e;
    }
    if (!this.expiredOrRequeue(jobKey, fresh)) return;
    try {
      // Pinned to what was checked: a Job changed since is looked at again, not deleted.
      await this.client.delete(resources.jobs, namespace, name, { propagationPolicy: 'Background', preconditions: { uid: fresh.metadata.uid, resourceVersion: fresh.metadata.resourceVersion } });
      log.info('deleted expired job', { job: jobKey });
    } catch (e) {
      if (isCode(e, 404)) return;
      throw e;
    }
  }

  private expiredOrRequeue(jobKey: string, job: KObject): boolean {
    const left = timeLeft(job, this.now());
    if (left === undefined) return false;
    if (left > 0) {
      this.queue.addAfter(jobKey, left);
      return false;
    }
    return true;
  }
}
