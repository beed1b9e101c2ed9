/**
 * The CronJob controller (upstream's pkg/controller/cronjob, v2): creates a Job from
 * `spec.jobTemplate` at each scheduled time, named `<cronjob>-<scheduled minutes since epoch>`,
 * honouring suspend, startingDeadlineSeconds and the concurrency policy; tracks its running Jobs
 * in `status.active`, and deletes finished Jobs beyond the history limits.
 *
 * Each sync requeues the CronJob for its next scheduled time. The clock is injectable; with a
 * fake clock, tests enqueue the key themselves after moving it.
 */
import { StatusError } from '../../api/errors.js';
import { nextCronTime, parseCronSchedule, type CronSchedule } from '../../api/validation/cron.js';
import type { Component, ComponentContext } from '../../client/component.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import { objectFromTombstone, splitMetaNamespaceKey, type DeletedFinalStateUnknown, type Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { getControllerOf, newControllerRef, resolveControllerRef } from '../common/controller-ref.js';
import { ControllerLoop } from '../common/controller-loop.js';
import { rfc3339 } from '../../base/time.js';

const GVK = { apiVersion: 'batch/v1', kind: 'CronJob' };

/** The annotation a created Job carries: its scheduled time, RFC 3339. */
export const SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
/** Beyond this many missed start times a warning is recorded (upstream's limit). */
export const MAX_MISSED_SCHEDULES = 100;

export interface CronJobControllerOptions {
  /** Concurrent syncs (upstream's --concurrent-cron-job-syncs). Default 5. */
  workers?: number;
  /** Milliseconds clock. Default Date.now. */
  now?: () => number;
}

const key = (obj: KObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The Job name for a scheduled time (upstream's getJobName): minutes since the epoch. */
export function jobNameFor(cronJobName: string, scheduledMs: number): string {
  return `${cronJobName}-${Math.floor(scheduledMs / 60_000)}`;
}

/** `Complete` or `Failed`, when the Job has finished. */
export function jobFinishedType(job: KObject): 'Complete' | 'Failed' | undefined {
  for (const c of Array.isArray(job.status?.conditions) ? job.status.conditions : []) {
    if ((c?.type === 'Complete' || c?.type === 'Failed') && c.status === 'True') return c.type;
  }
  return undefined;
}

/**
 * The most recent schedule time in (earliest, now] and how many were missed, where earliest is
 * the last schedule time (or creation), moved up to `now - startingDeadlineSeconds` when set
 * (upstream's mostRecentScheduleTime). Also the next schedule time after now.
 */
export function mostRecentScheduleTime(cj: KObject, sched: CronSchedule, nowMs: number): { recent?: number; missed: number; next?: number } {
  const tz: string | undefined = cj.spec?.timeZone ?? undefined;
  let earliest = Date.parse(cj.status?.lastScheduleTime ?? cj.metadata?.creationTimestamp ?? '');
  if (!Number.isFinite(earliest)) earliest = nowMs;
  const sds = cj.spec?.startingDeadlineSeconds;
  if (sds !== undefined && sds !== null) earliest = Math.max(earliest, nowMs - Number(sds) * 1000);
  let recent: number | undefined;
  let missed = 0;
  let t = nextCronTime(sched, new Date(earliest), tz);
  // Counting stops a little past the limit: only "more than MAX" matters.
  while (t && t.getTime() <= nowMs) {
    recent = t.getTime();
    missed++;
    if (missed > MAX_MISSED_SCHEDULES + 1) {
      // Skip ahead to the last time before now without counting each one.
      const probe = nextCronTime(sched, new Date(nowMs - 60_000 * 60 * 24 * 366), tz);
      if (probe && probe.getTime() > recent) {
        let p: Date | undefined = probe;
        while (p && p.getTime() <= nowMs) {
          recent = p.getTime();
          p = nextCronTime(sched, p, tz);
        }
      }
      break;
    }
    t = nextCronTime(sched, t, tz);
  }
  const next = nextCronTime(sched, new Date(nowMs), tz)?.getTime();
  return { recent, missed, next };
}

/** A reference to a Job for `status.active`. */
function jobRef(job: KObject): KObject {
  return { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, namespace: job.metadata.namespace, uid: job.metadata.uid, resourceVersion: job.metadata.resourceVersion };
}

/** The Job a CronJob creates for a scheduled time (upstream's getJobFromTemplate2). */
export function jobFromTemplate(cj: KObject, scheduledMs: number): KObject {
  const tm = cj.spec?.jobTemplate?.metadata ?? {};
  const annotations: Record<string, string> = { ...(tm.annotations ?? {}), [SCHEDULED_TIMESTAMP_ANNOTATION]: rfc3339(scheduledMs) };
  const metadata: KObject = {
    name: jobNameFor(cj.metadata.name, scheduledMs),
    namespace: cj.metadata.namespace,
    labels: { ...(tm.labels ?? {}) },
    annotations,
    ownerReferences: [newControllerRef(cj, GVK)],
  };
  return { apiVersion: 'batch/v1', kind: 'Job', metadata, spec: structuredClone(cj.spec?.jobTemplate?.spec ?? {}) };
}

/** The CronJob controller, as a {@link Component}. */
export class CronJobController implements Component {
  readonly name = 'cronjob-controller';
  readonly queue = new WorkQueue<string>({ name: 'cronjob' });
  private client!: RestClient;
  private recorder!: EventRecorder;
  private cjLister!: Lister;
  private jobLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'cronjob');
  private readonly workers: number;
  private readonly now: () => number;

  constructor(opts: CronJobControllerOptions = {}) {
    this.workers = opts.workers ?? 5;
    this.now = opts.now ?? Date.now;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    this.recorder = ctx.recorder(this.name);
    const cjInf = ctx.informers.forResource(resources.cronjobs);
    const jobInf = ctx.informers.forResource(resources.jobs);
    this.cjLister = cjInf.lister;
    this.jobLister = jobInf.lister;
    const onJob = (obj: KObject | DeletedFinalStateUnknown) => {
      const job = objectFromTombstone(obj);
      const cj = resolveControllerRef(job.metadata?.namespace, getControllerOf(job), 'CronJob', (ns, n) => this.cjLister.get(ns, n));
      if (cj) this.queue.add(key(cj));
    };
    this.loop.regs.push(
      cjInf.addEventHandler({
        onAdd: (cj) => this.queue.add(key(cj)),
        onUpdate: (_old, cur) => this.queue.add(key(cur)),
        onDelete: (cj) => this.queue.add(key(objectFromTombstone(cj))),
      }),
      jobInf.addEventHandler({
        onAdd: onJob,
        onUpdate: (old, cur) => {
          onJob(cur);
          if (getControllerOf(old)?.uid !== getControllerOf(cur)?.uid) onJob(old);
        },
        onDelete: onJob,
      }),
    );
    ctx.informers.start();
    this.loop.run(
      async () => {
        await Promise.all([cjInf.waitForSync(), jobInf.waitForSync()]);
      },
      this.workers,
      (k) => this.sync(k),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Reconcile one CronJob: refresh `status.active`, start a Job when one is due, prune history. */
  async sync(cjKey: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(cjKey);
    const cached = this.cjLister.get(namespace, name);
    if (!cached) return;
    const cj: KObject = structuredClone(cached);
    const jobs = this.jobLister.list(namespace).filter((j) => getControllerOf(j)?.uid === cj.metadata.uid);
    const st: KObject = (cj.status ??= {});
    const before = JSON.stringify(st);
    const now = this.now();

    // status.active: drop finished or vanished Jobs, add running ones it lost track of.
    let active: KObject[] = Array.isArray(st.active) ? st.active : [];
    const byUid = new Map(jobs.map((j) => [j.metadata.uid, j]));
    for (const j of jobs) {
      const finished = jobFinishedType(j);
      const listed = active.some((r) => r.uid === j.metadata.uid);
      if (!finished && !listed) active = [...active, jobRef(j)];
      if (finished && listed) {
        active = active.filter((r) => r.uid !== j.metadata.uid);
        this.recorder.event(cj, 'Normal', 'SawCompletedJob', `Saw completed job: ${j.metadata.name}, condition: ${finished}`);
        if (finished === 'Complete') {
          const ct = Date.parse(j.status?.completionTime ?? '');
          const prev = Date.parse(st.lastSuccessfulTime ?? '');
          if (Number.isFinite(ct) && !(ct <= prev)) st.lastSuccessfulTime = rfc3339(ct);
        }
      }
    }
    // A ref the cache lacks may be a Job too new to have been seen: ask the server before dropping it.
    const kept: KObject[] = [];
    for (const r of active) {
      if (byUid.has(r.uid)) {
        kept.push(r);
        continue;
      }
      try {
        const j = await this.client.get(resources.jobs, r.namespace ?? namespace, r.name);
        if (j.metadata?.uid === r.uid && !jobFinishedType(j)) kept.push(r);
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 404)) throw e;
      }
    }
    st.active = active = kept;

    let requeueMs: number | undefined;
    if (!cj.metadata.deletionTimestamp && cj.spec?.suspend !== true) {
      let sched: CronSchedule | undefined;
      try {
        sched = parseCronSchedule(String(cj.spec?.schedule ?? ''));
      } catch (e) {
        this.recorder.event(cj, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(cj.spec?.schedule)} : ${errText(e)}`);
      }
      if (sched) {
        const { recent, missed, next } = mostRecentScheduleTime(cj, sched, now);
        if (next !== undefined) requeueMs = Math.max(0, next - now) + 100;
        if (missed > MAX_MISSED_SCHEDULES) {
          this.recorder.event(cj, 'Warning', 'TooManyMissedTimes', `too many missed start times: ${missed > MAX_MISSED_SCHEDULES + 1 ? '> ' : ''}${MAX_MISSED_SCHEDULES}. Set or decrease .spec.startingDeadlineSeconds or check clock skew`);
        }
        if (recent !== undefined) st.active = active = await this.startJob(cj, jobs, active, recent, now);
      }
    }

    if (!st.active?.length) delete st.active;
    await this.cleanupHistory(cj, jobs);
    if (JSON.stringify(st) !== before) await this.client.update(resources.cronjobs, cj, 'status');
    if (requeueMs !== undefined) this.queue.addAfter(cjKey, requeueMs);
  }

  /** Start the Job for `scheduled` unless too late, already there, or forbidden; returns status.active. */
  private async startJob(cj: KObject, jobs: KObject[], active: KObject[], scheduled: number, now: number): Promise<KObject[]> {
    const st = cj.status;
    const sds = cj.spec?.startingDeadlineSeconds;
    if (sds !== undefined && sds !== null && scheduled + Number(sds) * 1000 < now) {
      this.recorder.event(cj, 'Warning', 'MissSchedule', `Missed scheduled time to start a job: ${rfc3339(scheduled)}`);
      return active;
    }
    const jobName = jobNameFor(cj.metadata.name, scheduled);
    if (jobs.some((j) => j.metadata.name === jobName) || active.some((r) => r.name === jobName)) return active;
    const policy = cj.spec?.concurrencyPolicy ?? 'Allow';
    if (policy === 'Forbid' && active.length > 0) {
      // Upstream records this at most once per scheduled time, at V(4) logging; an event helps users.
      this.recorder.event(cj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
      return active;
    }
    if (policy === 'Replace') {
      for (const r of active) {
        try {
          await this.client.delete(resources.jobs, r.namespace ?? cj.metadata.namespace, r.name, { propagationPolicy: 'Background', preconditions: { uid: r.uid } });
          this.recorder.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${r.name}`);
        } catch (e) {
          if (!(e instanceof StatusError && e.code === 404)) {
            this.recorder.event(cj, 'Warning', 'FailedDelete', `Deleted job: ${errText(e)}`);
            throw e;
          }
        }
      }
      active = [];
    }
    let created: KObject;
    try {
      created = await this.client.create(resources.jobs, cj.metadata.namespace, jobFromTemplate(cj, scheduled));
      this.recorder.event(cj, 'Normal', 'SuccessfulCreate', `Created job ${created.metadata.name}`);
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 409)) {
        this.recorder.event(cj, 'Warning', 'FailedCreate', `Error creating job: ${errText(e)}`);
        throw e;
      }
      // Created by an earlier sync whose status write was lost: adopt it into status if it is ours.
      created = await this.client.get(resources.jobs, cj.metadata.namespace, jobName);
      if (getControllerOf(created)?.uid !== cj.metadata.uid) return active;
      if (jobFinishedType(created)) {
        st.lastScheduleTime = rfc3339(scheduled);
        return active;
      }
    }
    st.lastScheduleTime = rfc3339(scheduled);
    return [...active.filter((r) => r.uid !== created.metadata.uid), jobRef(created)];
  }

  /** Delete the oldest finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit. */
  private async cleanupHistory(cj: KObject, jobs: KObject[]): Promise<void> {
    const limits: [string, unknown][] = [
      ['Complete', cj.spec?.successfulJobsHistoryLimit],
      ['Failed', cj.spec?.failedJobsHistoryLimit],
    ];
    for (const [type, limit] of limits) {
      if (limit === undefined || limit === null) continue;
      const finished = jobs
        .filter((j) => jobFinishedType(j) === type && !j.metadata?.deletionTimestamp)
        .sort((a, b) => startOf(a) - startOf(b));
      for (const j of finished.slice(0, Math.max(0, finished.length - Number(limit)))) {
        try {
          await this.client.delete(resources.jobs, j.metadata.namespace, j.metadata.name, { propagationPolicy: 'Background', preconditions: { uid: j.metadata.uid } });
          this.recorder.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${j.metadata.name}`);
        } catch (e) {
          if (e instanceof StatusError && e.code === 404) continue;
          this.recorder.event(cj, 'Warning', 'FailedDelete', `Deleted job: ${errText(e)}`);
          throw e;
        }
      }
    }
  }
}

/** Sort key for history: the Job's start time, else its creation (upstream's byJobStartTime). */
function startOf(job: KObject): number {
  const s = Date.parse(job.status?.startTime ?? job.metadata?.creationTimestamp ?? '');
  return Number.isFinite(s) ? s : 0;
}
