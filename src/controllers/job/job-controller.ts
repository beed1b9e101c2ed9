/**
 * The Job controller (upstream's pkg/controller/job): runs pods from a batch/v1 Job's template
 * until `completions` of them succeed (NonIndexed, or one per index for Indexed), at most
 * `parallelism` at a time, waiting an exponential backoff after failures, and fails the Job once
 * `backoffLimit` is passed or `activeDeadlineSeconds` runs out.
 *
 * Finished pods are counted from the pods themselves; the counters never go down, so pods removed
 * later (pod GC) do not undo progress. (Upstream tracks them exactly with the
 * batch.kubernetes.io/job-tracking finalizer; not done here.)
 */
import { StatusError } from '../../api/errors.js';
import { labelSelectorFromObject, selectorIsEmpty, selectorMatches, type LabelSelector } from '../../api/labels/index.js';
import { logger } from '../../base/log.js';
import type { Component, ComponentContext } from '../../client/component.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import { objectFromTombstone, splitMetaNamespaceKey, type DeletedFinalStateUnknown, type Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { claimObjects, recheckOwner } from '../common/claim.js';
import { getControllerOf, newControllerRef, resolveControllerRef } from '../common/controller-ref.js';
import { UIDTrackingControllerExpectations } from '../common/expectations.js';
import {
  backoffDelay,
  backoffRecord,
  DEFAULT_BACKOFF_MS,
  findCondition,
  formatIndexes,
  isJobFinished,
  isPodActive,
  isPodReady,
  jobPodFromTemplate,
  MAX_BACKOFF_MS,
  podCompletionIndex,
  podRestarts,
  rfc3339,
  withCondition,
} from './util.js';
import { ControllerLoop } from '../common/controller-loop.js';

const log = logger('job-controller');
const GVK = { apiVersion: 'batch/v1', kind: 'Job' };

export interface JobControllerOptions {
  /** Concurrent syncs (upstream's --concurrent-job-syncs). Default 5. */
  workers?: number;
  /** First delay after a pod failure, doubling per consecutive failure. Default 10 s. */
  backoffBaseMs?: number;
  /** Cap of that delay. Default 6 min. */
  backoffMaxMs?: number;
  /** Milliseconds clock. Default Date.now. */
  now?: () => number;
}

const key = (obj: KObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
/** Key-order-insensitive JSON equality. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as KObject)[k])]));
  return v;
}
const deepEqual = (a: unknown, b: unknown) => JSON.stringify(canonical(a ?? null)) === JSON.stringify(canonical(b ?? null));
const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));
const num = (v: unknown, d: number) => (v === undefined || v === null ? d : Number(v));

/** Parse `status.completedIndexes` (`0-2,5`). */
function parseIndexes(s: unknown): Set<number> {
  const out = new Set<number>();
  if (typeof s !== 'string') return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b && i - a < 1_000_000; i++) out.add(i);
  }
  return out;
}

/** The Job controller, as a {@link Component}. */
export class JobController implements Component {
  readonly name = 'job-controller';
  readonly expectations = new UIDTrackingControllerExpectations();
  readonly queue = new WorkQueue<string>({ name: 'job' });
  private client!: RestClient;
  private recorder!: EventRecorder;
  private jobLister!: Lister;
  private podLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'job');
  private readonly workers: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly now: () => number;

  constructor(opts: JobControllerOptions = {}) {
    this.workers = opts.workers ?? 5;
    this.backoffBaseMs = opts.backoffBaseMs ?? DEFAULT_BACKOFF_MS;
    this.backoffMaxMs = opts.backoffMaxMs ?? MAX_BACKOFF_MS;
    this.now = opts.now ?? Date.now;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    this.recorder = ctx.recorder(this.name);
    const jobInf = ctx.informers.forResource(resources.jobs);
    const podInf = ctx.informers.forResource(resources.pods);
    this.jobLister = jobInf.lister;
    this.podLister = podInf.lister;
    this.loop.regs.push(
      jobInf.addEventHandler({
        onAdd: (j) => this.queue.add(key(j)),
        onUpdate: (old, cur) => {
          if (old.metadata?.uid !== cur.metadata?.uid) this.onDeleteJob(old);
          this.queue.add(key(cur));
        },
        onDelete: (j) => this.onDeleteJob(j),
      }),
      podInf.addEventHandler({
        onAdd: (p) => this.onAddPod(p),
        onUpdate: (old, cur) => this.onUpdatePod(old, cur),
        onDelete: (p) => this.onDeletePod(p),
      }),
    );
    ctx.informers.start();
    this.loop.run(
      async () => {
        await Promise.all([jobInf.waitForSync(), podInf.waitForSync()]);
      },
      this.workers,
      (k) => this.sync(k),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  private onDeleteJob(obj: KObject | DeletedFinalStateUnknown): void {
    const job = objectFromTombstone(obj);
    this.expectations.deleteExpectations(key(job));
    this.queue.add(key(job));
  }

  private jobOf(pod: KObject): KObject | undefined {
    return resolveControllerRef(pod.metadata?.namespace, getControllerOf(pod), 'Job', (ns, n) => this.jobLister.get(ns, n));
  }

  /** Jobs whose selector matches an orphan pod: candidates to adopt it. */
  private jobsForOrphan(pod: KObject): KObject[] {
    return this.jobLister.list(pod.metadata?.namespace).filter((j) => {
      try {
        const sel = labelSelectorFromObject(j.spec?.selector);
        return !selectorIsEmpty(sel) && selectorMatches(sel, pod.metadata?.labels ?? {});
      } catch {
        return false;
      }
    });
  }

  private onAddPod(pod: KObject): void {
    if (pod.metadata?.deletionTimestamp) return this.onDeletePod(pod);
    if (getControllerOf(pod)) {
      const job = this.jobOf(pod);
      if (!job) return;
      this.expectations.creationObserved(key(job));
      this.queue.add(key(job));
      return;
    }
    for (const j of this.jobsForOrphan(pod)) this.queue.add(key(j));
  }

  private onUpdatePod(old: KObject, cur: KObject): void {
    if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
    if (cur.metadata?.deletionTimestamp) {
      this.onDeletePod(cur);
      return;
    }
    const oldRef = getControllerOf(old);
    const curRef = getControllerOf(cur);
    if (oldRef && !deepEqual(oldRef, curRef)) {
      const j = this.jobOf(old);
      if (j) this.queue.add(key(j));
    }
    if (curRef) {
      const j = this.jobOf(cur);
      if (j) this.queue.add(key(j));
      return;
    }
    for (const j of this.jobsForOrphan(cur)) this.queue.add(key(j));
  }

  private onDeletePod(obj: KObject | DeletedFinalStateUnknown): void {
    const pod = objectFromTombstone(obj);
    const job = this.jobOf(pod);
    if (!job) return;
    this.expectations.deletionObservedOf(key(job), key(pod));
    this.queue.add(key(job));
  }

  /** Reconcile one Job: claim its pods, create or delete pods, decide Complete/Failed, write status. */
  async sync(jobKey: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(jobKey);
    const job = this.jobLister.get(namespace, name);
    if (!job) {
      this.expectations.deleteExpectations(jobKey);
      return;
    }
    if (isJobFinished(job)) return;
    const needsSync = this.expectations.satisfied(jobKey);
    let selector: LabelSelector;
    try {
      selector = labelSelectorFromObject(job.spec?.selector);
    } catch (e) {
      log.error('invalid selector', { job: jobKey, err: errText(e) });
      return;
    }
    const pods = await claimObjects(this.client, resources.pods, this.podLister.list(namespace), {
      owner: job,
      gvk: GVK,
      match: (p) => !selectorIsEmpty(selector) && selectorMatches(selector, p.metadata?.labels ?? {}),
      canAdopt: recheckOwner(this.client, resources.jobs, job),
    });

    const now = this.now();
    const spec = job.spec ?? {};
    const st = job.status ?? {};
    const indexed = spec.completionMode === 'Indexed';
    const completions: number | undefined = spec.completions === undefined || spec.completions === null ? undefined : Number(spec.completions);
    const parallelism = num(spec.parallelism, 1);
    const suspended = spec.suspend === true;
    let active = pods.filter(isPodActive);
    const succeededPods = pods.filter((p) => p.status?.phase === 'Succeeded');
    const failedPods = pods.filter((p) => p.status?.phase === 'Failed');

    let succeeded = Math.max(num(st.succeeded, 0), succeededPods.length);
    let failed = Math.max(num(st.failed, 0), failedPods.length);
    const doneIndexes = parseIndexes(st.completedIndexes);
    if (indexed) {
      for (const p of succeededPods) {
        const i = podCompletionIndex(p);
        if (i !== undefined && completions !== undefined && i < completions) doneIndexes.add(i);
      }
      succeeded = doneIndexes.size;
    }

    const startTime: string | undefined = st.startTime ?? (suspended ? undefined : rfc3339(now));
    let conditions: KObject[] = Array.isArray(st.conditions) ? [...st.conditions] : [];
    let completionTime: string | undefined = st.completionTime;
    const cond = (type: string, reason: string, message: string) => ({ type, status: 'True', lastProbeTime: rfc3339(now), lastTransitionTime: rfc3339(now), reason, message });

    // Failure: past the backoff limit, or past the deadline.
    const restarts = spec.template?.spec?.restartPolicy === 'OnFailure' ? active.reduce((n, p) => n + podRestarts(p), 0) : 0;
    const backoffLimit = num(spec.backoffLimit, 6);
    const deadlineMs = spec.activeDeadlineSeconds === undefined || spec.activeDeadlineSeconds === null ? undefined : Number(spec.activeDeadlineSeconds) * 1000;
    const startMs = startTime ? Date.parse(startTime) : undefined;
    let failure: { reason: string; message: string } | undefined;
    if (failed + restarts > backoffLimit) failure = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    else if (deadlineMs !== undefined && startMs !== undefined && !suspended && now - startMs >= deadlineMs) {
      failure = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
    }

    let manageErr: unknown;
    let requeueMs: number | undefined;
    if (failure) {
      // Upstream counts the pods it terminates as failed.
      failed += active.length;
      await this.deletePods(jobKey, job, active);
      active = [];
      conditions = withCondition(conditions, cond('FailureTarget', failure.reason, failure.message));
      conditions = withCondition(conditions, cond('Failed', failure.reason, failure.message));
      this.recorder.event(job, 'Warning', failure.reason, failure.message);
    } else {
      const complete = completions !== undefined ? succeeded >= completions : succeeded > 0 && active.length === 0;
      if (complete) {
        await this.deletePods(jobKey, job, active);
        active = [];
        completionTime = rfc3339(now);
        conditions = withCondition(conditions, cond('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods'));
        conditions = withCondition(conditions, cond('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods'));
        this.recorder.event(job, 'Normal', 'Completed', 'Job completed');
      } else if (needsSync && !job.metadata?.deletionTimestamp) {
        try {
          const r = await this.managePods(jobKey, job, pods, active, { succeeded, doneIndexes, completions, parallelism, suspended, indexed, now });
          active = r.active;
          requeueMs = r.requeueMs;
        } catch (e) {
          manageErr = e;
        }
      }
      if (suspended) conditions = withCondition(conditions, cond('Suspended', 'JobSuspended', 'Job suspended'));
      else if (findCondition(job, 'Suspended')?.status === 'True') conditions = withCondition(conditions, { ...cond('Suspended', 'JobResumed', 'Job resumed'), status: 'False' });
    }

    const status: KObject = {
      ...st,
      active: active.length,
      ready: active.filter(isPodReady).length,
      succeeded,
      failed,
      terminating: pods.filter((p) => p.metadata?.deletionTimestamp && !['Succeeded', 'Failed'].includes(p.status?.phase)).length,
    };
    if (startTime) status.startTime = startTime;
    if (completionTime) status.completionTime = completionTime;
    if (conditions.length) status.conditions = conditions;
    if (indexed) status.completedIndexes = formatIndexes(doneIndexes);
    await this.updateStatus(job, status);
    if (manageErr) throw manageErr;
    if (requeueMs !== undefined) this.queue.addAfter(jobKey, requeueMs);
    if (!failure && !completionTime && deadlineMs !== undefined && startMs !== undefined && !suspended) {
      this.queue.addAfter(jobKey, Math.max(0, startMs + deadlineMs - now) + 10);
    }
  }

  /** Create or delete pods towards the wanted number of active pods; returns the active pods after. */
  private async managePods(
    jobKey: string,
    job: KObject,
    pods: KObject[],
    active: KObject[],
    o: { succeeded: number; doneIndexes: Set<number>; completions?: number; parallelism: number; suspended: boolean; indexed: boolean; now: number },
  ): Promise<{ active: KObject[]; requeueMs?: number }> {
    let want: number;
    if (o.suspended) want = 0;
    else if (o.completions === undefined) want = o.succeeded > 0 ? active.length : o.parallelism;
    else want = Math.max(0, Math.min(o.parallelism, o.completions - o.succeeded));
    if (active.length > want) {
      // Not-ready and newest first.
      const victims = [...active]
        .sort((a, b) => Number(isPodReady(a)) - Number(isPodReady(b)) || String(b.metadata?.creationTimestamp).localeCompare(String(a.metadata?.creationTimestamp)))
        .slice(0, active.length - want);
      await this.deletePods(jobKey, job, victims);
      return { active: active.filter((p) => !victims.includes(p)) };
    }
    if (active.length === want) return { active };
    const rec = backoffRecord(pods);
    const waitMs = rec.lastFailureMs + backoffDelay(rec.failuresAfterSuccess, this.backoffBaseMs, this.backoffMaxMs) - o.now;
    if (rec.failuresAfterSuccess > 0 && waitMs > 0) return { active, requeueMs: waitMs };
    let indexes: (number | undefined)[];
    if (o.indexed && o.completions !== undefined) {
      const busy = new Set(active.map(podCompletionIndex));
      indexes = [];
      for (let i = 0; i < o.completions && indexes.length < want - active.length; i++) if (!o.doneIndexes.has(i) && !busy.has(i)) indexes.push(i);
    } else indexes = Array.from({ length: want - active.length }, () => undefined);
    if (!indexes.length) return { active };
    this.expectations.expectCreations(jobKey, indexes.length);
    const ref = newControllerRef(job, GVK);
    const results = await Promise.allSettled(
      indexes.map(async (i) => {
        try {
          const created = await this.client.create(resources.pods, job.metadata.namespace, jobPodFromTemplate(job, ref, i));
          this.recorder.event(job, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata?.name}`);
          return created;
        } catch (e) {
          this.expectations.creationObserved(jobKey);
          this.recorder.event(job, 'Warning', 'FailedCreate', `Error creating: ${errText(e)}`);
          throw e;
        }
      }),
    );
    const made = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return { active: [...active, ...made] };
  }

  private async deletePods(jobKey: string, job: KObject, victims: KObject[]): Promise<void> {
    if (!victims.length) return;
    this.expectations.expectDeletionsOf(jobKey, victims.map(key));
    const results = await Promise.allSettled(
      victims.map(async (pod) => {
        try {
          await this.client.delete(resources.pods, pod.metadata.namespace, pod.metadata.name, { preconditions: { uid: pod.metadata.uid } });
          this.recorder.event(job, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
        } catch (e) {
          this.expectations.deletionObservedOf(jobKey, key(pod));
          if (e instanceof StatusError && e.code === 404) return;
          this.recorder.event(job, 'Warning', 'FailedDelete', `Error deleting: ${errText(e)}`);
          throw e;
        }
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Write status through /status when it changed; one retry on a conflict with a fresh read. */
  private async updateStatus(job: KObject, status: KObject): Promise<void> {
    if (deepEqual(job.status ?? {}, status)) return;
    let obj = job;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.update(resources.jobs, { ...obj, status }, 'status');
        return;
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 409) || attempt >= 1) throw e;
        obj = await this.client.get(resources.jobs, job.metadata.namespace, job.metadata.name);
        // A fresh read that is already finished wins.
        if (isJobFinished(obj)) return;
      }
    }
  }
}
