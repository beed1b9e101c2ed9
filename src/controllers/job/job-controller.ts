/**
 * The Job controller (upstream's pkg/controller/job): runs pods from a batch/v1 Job's template
 * until `completions` of them succeed (NonIndexed, or one per index for Indexed), at most
 * `parallelism` at a time, waiting an exponential backoff after failures, and fails the Job once
 * `backoffLimit` is passed or `activeDeadlineSeconds` runs out.
 *
 * Pods are tracked with the batch.kubernetes.io/job-tracking finalizer (upstream's
 * trackJobStatusAndRemoveFinalizers): a finished pod's UID is first written to
 * `status.uncountedTerminatedPods`, then its finalizer is removed, and only then is it moved into
 * `status.succeeded`/`failed`; so a pod deleted early (or by pod GC) is counted exactly once.
 * `spec.podFailurePolicy` decides per failed pod whether it fails the Job, is ignored, or counts;
 * with `backoffLimitPerIndex` an Indexed Job retries each index on its own and marks it failed.
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
  INDEX_FAILURE_COUNT_ANNOTATION,
  INDEX_IGNORED_FAILURE_COUNT_ANNOTATION,
  podCountAnnotation,
  podFinishTime,
  hasTrackingFinalizer,
  isJobFinished,
  isPodActive,
  isPodFailed,
  isPodFinished,
  JOB_TRACKING_FINALIZER,
  isPodReady,
  jobPodFromTemplate,
  MAX_BACKOFF_MS,
  podCompletionIndex,
  podRestarts,
  rfc3339,
  withCondition,
} from './util.js';
import { ControllerLoop } from '../common/controller-loop.js';
import { isIndexFailed, matchPodFailurePolicy } from './pod-failure-policy.js';

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

/** Queue keys of orphan pods whose tracking finalizer may need removing (namespaces cannot hold ':'). */
const ORPHAN_POD_PREFIX = 'orphan-pod:';
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
  /**
   * UIDs of pods whose tracking finalizer this controller removed and whose update the informer
   * has not shown yet: the cache may still show the finalizer, and such a pod must not be counted again.
   */
  private readonly expectedFinalizerRemovals = new Set<string>();
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
        onDelete: (p) => {
          this.expectedFinalizerRemovals.delete(objectFromTombstone(p).metadata?.uid);
          this.onDeletePod(p);
        },
      }),
    );
    ctx.informers.start();
    this.loop.run(
      async () => {
        await Promise.all([jobInf.waitForSync(), podInf.waitForSync()]);
      },
      this.workers,
      (k) => (k.startsWith(ORPHAN_POD_PREFIX) ? this.syncOrphanPod(k.slice(ORPHAN_POD_PREFIX.length)) : this.sync(k)),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  private onDeleteJob(obj: KObject | DeletedFinalStateUnknown): void {
    const job = objectFromTombstone(obj);
    this.expectations.deleteExpectations(key(job));
    this.queue.add(key(job));
    // Its pods lose their tracker: release their finalizers (upstream's cleanupPodFinalizers).
    for (const p of this.podLister.list(job.metadata?.namespace)) {
      if (hasTrackingFinalizer(p) && getControllerOf(p)?.uid === job.metadata?.uid) this.queue.add(ORPHAN_POD_PREFIX + key(p));
    }
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

  /** A pod with the tracking finalizer and no live controlling Job: its finalizer may have to go. */
  private checkOrphanFinalizer(pod: KObject): void {
    if (hasTrackingFinalizer(pod) && !this.jobOf(pod)) this.queue.add(ORPHAN_POD_PREFIX + key(pod));
  }

  private onAddPod(pod: KObject): void {
    if (!hasTrackingFinalizer(pod)) this.expectedFinalizerRemovals.delete(pod.metadata?.uid);
    this.checkOrphanFinalizer(pod);
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
    if (!hasTrackingFinalizer(cur)) this.expectedFinalizerRemovals.delete(cur.metadata?.uid);
    this.checkOrphanFinalizer(cur);
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

  /**
   * Remove the tracking finalizer of a pod whose Job is gone, finished, or not a Job at all
   * (upstream's syncOrphanPod). A pod whose Job still runs keeps it.
   */
  async syncOrphanPod(podKey: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(podKey);
    const pod = this.podLister.get(namespace, name);
    if (!pod || !hasTrackingFinalizer(pod)) return;
    const ref = getControllerOf(pod);
    if (ref) {
      if (ref.kind !== GVK.kind || ref.apiVersion !== GVK.apiVersion) return;
      const job = this.jobOf(pod);
      if (job && !isJobFinished(job)) return;
    }
    const { err } = await this.removeFinalizers([pod]);
    if (err) throw err;
  }

  /**
   * Reconcile one Job: claim its pods, create or delete pods, record finished pods in
   * uncountedTerminatedPods, release their finalizers, count them, decide Complete/Failed.
   */
  async sync(jobKey: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(jobKey);
    let job = this.jobLister.get(namespace, name);
    if (!job) {
      this.expectations.deleteExpectations(jobKey);
      return;
    }
    if (isJobFinished(job)) {
      // A finished Job tracks nothing: release whatever finalizers are left (a backup; normally none are).
      const left = this.podLister.list(namespace).filter((p) => hasTrackingFinalizer(p) && getControllerOf(p)?.uid === job!.metadata?.uid);
      const { err } = await this.removeFinalizers(left);
      if (err) throw err;
      return;
    }
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
    // A copy: counters move in it as pods are counted.
    const st: KObject = { ...(job.status ?? {}) };
    const indexed = spec.completionMode === 'Indexed';
    const completions: number | undefined = spec.completions === undefined || spec.completions === null ? undefined : Number(spec.completions);
    const parallelism = num(spec.parallelism, 1);
    const suspended = spec.suspend === true;
    const deleting = !!job.metadata?.deletionTimestamp;
    const policy = spec.podFailurePolicy;
    // backoffLimitPerIndex: indexes fail on their own, and FailIndex rules apply.
    const perIndex = indexed && spec.backoffLimitPerIndex !== undefined && spec.backoffLimitPerIndex !== null;
    const match = (p: KObject) => matchPodFailurePolicy(policy, p, perIndex);
    let active = pods.filter(isPodActive);

    const uncounted = {
      succeeded: new Set<string>(Array.isArray(st.uncountedTerminatedPods?.succeeded) ? st.uncountedTerminatedPods.succeeded : []),
      failed: new Set<string>(Array.isArray(st.uncountedTerminatedPods?.failed) ? st.uncountedTerminatedPods.failed : []),
    };
    const doneIndexes = parseIndexes(st.completedIndexes);
    const validIndex = (p: KObject) => {
      const i = podCompletionIndex(p);
      return i !== undefined && completions !== undefined && i < completions ? i : undefined;
    };
    // Pods this sync has not counted yet: they still carry the finalizer, and we are not already removing it.
    const untracked = (p: KObject) => hasTrackingFinalizer(p) && !this.expectedFinalizerRemovals.has(p.metadata?.uid);
    // Counters as they will be once every recorded pod is counted.
    const newlyFailed = pods.filter(
      (p) => untracked(p) && !uncounted.failed.has(p.metadata?.uid) && isPodFailed(p, job!) && (!indexed || validIndex(p) !== undefined) && match(p).countFailed,
    ).length;
    const failed = num(st.failed, 0) + uncounted.failed.size + newlyFailed;
    const newlySucceededIndexes = new Set<number>();
    let succeeded: number;
    if (indexed) {
      for (const p of pods) {
        const i = validIndex(p);
        if (p.status?.phase === 'Succeeded' && untracked(p) && i !== undefined && !uncounted.failed.has(p.metadata?.uid)) newlySucceededIndexes.add(i);
      }
      succeeded = new Set([...doneIndexes, ...newlySucceededIndexes]).size;
    } else {
      succeeded = num(st.succeeded, 0) + uncounted.succeeded.size;
      for (const p of pods) if (p.status?.phase === 'Succeeded' && untracked(p) && !uncounted.succeeded.has(p.metadata?.uid) && !uncounted.failed.has(p.metadata?.uid)) succeeded++;
    }

    const failedIndexes = perIndex ? parseIndexes(st.failedIndexes) : new Set<number>();
    if (perIndex) {
      for (const p of pods) {
        const i = validIndex(p);
        if (i !== undefined && untracked(p) && !uncounted.failed.has(p.metadata?.uid) && isIndexFailed(job, p)) failedIndexes.add(i);
      }
    }

    const startTime: string | undefined = st.startTime ?? (suspended ? undefined : rfc3339(now));
    let conditions: KObject[] = Array.isArray(st.conditions) ? [...st.conditions] : [];
    const cond = (type: string, reason: string, message: string) => ({ type, status: 'True', lastProbeTime: rfc3339(now), lastTransitionTime: rfc3339(now), reason, message });

    // Failure: a FailJob rule, past the backoff limit, or past the deadline. A FailureTarget once written decides.
    const restarts = spec.template?.spec?.restartPolicy === 'OnFailure' ? active.reduce((n, p) => n + podRestarts(p), 0) : 0;
    const backoffLimit = num(spec.backoffLimit, 6);
    const deadlineMs = spec.activeDeadlineSeconds === undefined || spec.activeDeadlineSeconds === null ? undefined : Number(spec.activeDeadlineSeconds) * 1000;
    const startMs = startTime ? Date.parse(startTime) : undefined;
    let failure: { reason: string; message: string } | undefined;
    const target = findCondition(job, 'FailureTarget');
    if (target?.status === 'True') failure = { reason: target.reason, message: target.message };
    if (!failure && policy) {
      for (const p of pods) {
        if (!isPodFailed(p, job)) continue;
        const m = match(p);
        if (m.message) {
          failure = { reason: 'PodFailurePolicy', message: m.message };
          break;
        }
      }
    }
    if (!failure && failed + restarts > backoffLimit) failure = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    else if (!failure && deadlineMs !== undefined && startMs !== undefined && !suspended && now - startMs >= deadlineMs) {
      failure = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
    }
    if (!failure && perIndex) {
      const maxFailed = spec.maxFailedIndexes;
      if (maxFailed !== undefined && maxFailed !== null && failedIndexes.size > Number(maxFailed)) {
        failure = { reason: 'MaxFailedIndexesExceeded', message: 'Job has exceeded the specified maximal number of failed indexes' };
      } else if (failedIndexes.size > 0 && completions !== undefined && failedIndexes.size + succeeded >= completions) {
        failure = { reason: 'FailedIndexes', message: 'Job has failed indexes' };
      }
    }

    let manageErr: unknown;
    let requeueMs: number | undefined;
    let finished: { type: 'Complete' | 'Failed'; reason: string; message: string } | undefined;
    if (failure) {
      // Active pods are deleted keeping their finalizers; below they are counted as failed.
      await this.deletePods(jobKey, job, active);
      active = [];
      if (!target) this.recorder.event(job, 'Warning', failure.reason, failure.message);
      conditions = withCondition(conditions, cond('FailureTarget', failure.reason, failure.message));
      finished = { type: 'Failed', ...failure };
    } else {
      const complete = findCondition(job, 'SuccessCriteriaMet')?.status === 'True' || (completions !== undefined ? succeeded >= completions : succeeded > 0 && active.length === 0);
      if (complete) {
        await this.deletePods(jobKey, job, active);
        active = [];
        conditions = withCondition(conditions, cond('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods'));
        finished = { type: 'Complete', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' };
      } else if (needsSync && !deleting) {
        try {
          const r = await this.managePods(jobKey, job, pods, active, {
            succeeded,
            doneIndexes: new Set([...doneIndexes, ...newlySucceededIndexes]),
            failedIndexes,
            completions,
            parallelism,
            suspended,
            indexed,
            perIndex,
            now,
            policy,
          });
          active = r.active;
          requeueMs = r.requeueMs;
        } catch (e) {
          manageErr = e;
        }
      }
      if (suspended) conditions = withCondition(conditions, cond('Suspended', 'JobSuspended', 'Job suspended'));
      else if (findCondition(job, 'Suspended')?.status === 'True') conditions = withCondition(conditions, { ...cond('Suspended', 'JobResumed', 'Job resumed'), status: 'False' });
    }

    // Record finished pods as uncounted (upstream's trackJobStatusAndRemoveFinalizers).
    const toRelease: KObject[] = [];
    const withFinalizer = new Set<string>([...this.expectedFinalizerRemovals]);
    for (const p of pods) if (hasTrackingFinalizer(p)) withFinalizer.add(p.metadata?.uid);
    for (const p of pods) {
      if (!untracked(p)) continue;
      const uid: string = p.metadata?.uid;
      const considerFailed = isPodFailed(p, job);
      const canRelease = deleting || !!finished || p.status?.phase === 'Succeeded' || considerFailed;
      if (!canRelease) continue;
      toRelease.push(p);
      if (p.status?.phase === 'Succeeded' && !uncounted.failed.has(uid)) {
        if (indexed) {
          const i = validIndex(p);
          if (i !== undefined) doneIndexes.add(i);
        } else uncounted.succeeded.add(uid);
      } else if (considerFailed || (finished && !isPodFinished(p))) {
        if (!uncounted.failed.has(uid) && (!indexed || validIndex(p) !== undefined) && match(p).countFailed) uncounted.failed.add(uid);
      }
    }

    let completionTime: string | undefined = st.completionTime;
    let finishedWritten = false;
    /** The finished condition goes in only once every finished pod is counted. */
    const finish = () => {
      if (!finished || finishedWritten || uncounted.succeeded.size || uncounted.failed.size) return;
      finishedWritten = true;
      conditions = withCondition(conditions, cond(finished.type, finished.reason, finished.message));
      if (finished.type === 'Complete') {
        completionTime = rfc3339(now);
        this.recorder.event(job!, 'Normal', 'Completed', 'Job completed');
      }
    };
    const currentStatus = (): KObject => {
      finish();
      const status: KObject = {
        ...st,
        active: active.length,
        ready: active.filter(isPodReady).length,
        succeeded: indexed ? doneIndexes.size : num(st.succeeded, 0),
        failed: num(st.failed, 0),
        terminating: pods.filter((p) => p.metadata?.deletionTimestamp && !isPodFinished(p)).length,
        uncountedTerminatedPods: {},
      };
      if (uncounted.succeeded.size) status.uncountedTerminatedPods.succeeded = [...uncounted.succeeded];
      if (uncounted.failed.size) status.uncountedTerminatedPods.failed = [...uncounted.failed];
      if (startTime) status.startTime = startTime;
      if (completionTime) status.completionTime = completionTime;
      if (conditions.length) status.conditions = conditions;
      if (indexed) status.completedIndexes = formatIndexes(doneIndexes);
      if (perIndex) status.failedIndexes = formatIndexes(failedIndexes);
      return status;
    };
    /** Move recorded pods whose finalizer is gone into the counters; true when any moved. */
    const countReleased = (): boolean => {
      let moved = false;
      for (const [set, counter] of [
        [uncounted.succeeded, 'succeeded'],
        [uncounted.failed, 'failed'],
      ] as const) {
        for (const uid of [...set]) {
          if (withFinalizer.has(uid)) continue;
          set.delete(uid);
          // Indexed successes are counted by completedIndexes.
          if (!(indexed && counter === 'succeeded')) st[counter] = num(st[counter], 0) + 1;
          moved = true;
        }
      }
      return moved;
    };
    // First persist what is about to be counted, then release the pods, then count them.
    job = await this.updateStatus(job, currentStatus());
    let releaseErr: unknown;
    if (toRelease.length) {
      const r = await this.removeFinalizers(toRelease);
      for (const uid of r.released) withFinalizer.delete(uid);
      releaseErr = r.err;
    }
    if (countReleased()) job = await this.updateStatus(job, currentStatus());
    if (releaseErr) throw releaseErr;
    if (manageErr) throw manageErr;
    if (requeueMs !== undefined) this.queue.addAfter(jobKey, requeueMs);
    if (!failure && !finished && deadlineMs !== undefined && startMs !== undefined && !suspended) {
      this.queue.addAfter(jobKey, Math.max(0, startMs + deadlineMs - now) + 10);
    }
  }

  /** Create or delete pods towards the wanted number of active pods; returns the active pods after. */
  private async managePods(
    jobKey: string,
    job: KObject,
    pods: KObject[],
    active: KObject[],
    o: {
      succeeded: number;
      doneIndexes: Set<number>;
      failedIndexes: Set<number>;
      completions?: number;
      parallelism: number;
      suspended: boolean;
      indexed: boolean;
      perIndex: boolean;
      now: number;
      policy?: KObject;
    },
  ): Promise<{ active: KObject[]; requeueMs?: number }> {
    let want: number;
    if (o.suspended) want = 0;
    else if (o.completions === undefined) want = o.succeeded > 0 ? active.length : o.parallelism;
    else want = Math.max(0, Math.min(o.parallelism, o.completions - o.succeeded - o.failedIndexes.size));
    if (active.length > want) {
      // Not-ready and newest first.
      const victims = [...active]
        .sort((a, b) => Number(isPodReady(a)) - Number(isPodReady(b)) || String(b.metadata?.creationTimestamp).localeCompare(String(a.metadata?.creationTimestamp)))
        .slice(0, active.length - want);
      // Surplus pods are not failures: their finalizers go first, so they are never counted.
      await this.deletePods(jobKey, job, victims, true);
      return { active: active.filter((p) => !victims.includes(p)) };
    }
    if (active.length === want) return { active };
    let requeueMs: number | undefined;
    if (!o.perIndex) {
      // Failures a podFailurePolicy ignores do not back off.
      const rec = backoffRecord(o.policy ? pods.filter((p) => p.status?.phase !== 'Failed' || matchPodFailurePolicy(o.policy, p).countFailed) : pods);
      const waitMs = rec.lastFailureMs + backoffDelay(rec.failuresAfterSuccess, this.backoffBaseMs, this.backoffMaxMs) - o.now;
      if (rec.failuresAfterSuccess > 0 && waitMs > 0) return { active, requeueMs: waitMs };
    }
    let indexes: (number | undefined)[];
    const annotationsFor = new Map<number, Record<string, string>>();
    if (o.indexed && o.completions !== undefined) {
      const busy = new Set(active.map(podCompletionIndex));
      const lastFailed = o.perIndex ? this.lastFailedPerIndex(job, pods) : new Map<number, KObject>();
      indexes = [];
      for (let i = 0; i < o.completions && indexes.length < want - active.length; i++) {
        if (o.doneIndexes.has(i) || o.failedIndexes.has(i) || busy.has(i)) continue;
        if (o.perIndex) {
          // The index's own failure counts ride on its next pod, and its own backoff applies.
          const prev = lastFailed.get(i);
          let failures = 0;
          let ignored = 0;
          if (prev) {
            const counted = matchPodFailurePolicy(o.policy, prev, true).countFailed;
            failures = podCountAnnotation(prev, INDEX_FAILURE_COUNT_ANNOTATION) + (counted ? 1 : 0);
            ignored = podCountAnnotation(prev, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION) + (counted ? 0 : 1);
            const waitMs = counted ? podFinishTime(prev) + backoffDelay(failures, this.backoffBaseMs, this.backoffMaxMs) - o.now : 0;
            if (waitMs > 0) {
              requeueMs = Math.min(requeueMs ?? Infinity, waitMs);
              continue;
            }
          }
          const ann: Record<string, string> = { [INDEX_FAILURE_COUNT_ANNOTATION]: String(failures) };
          if (ignored > 0) ann[INDEX_IGNORED_FAILURE_COUNT_ANNOTATION] = String(ignored);
          annotationsFor.set(i, ann);
        }
        indexes.push(i);
      }
    } else indexes = Array.from({ length: want - active.length }, () => undefined);
    if (!indexes.length) return { active, requeueMs };
    this.expectations.expectCreations(jobKey, indexes.length);
    const ref = newControllerRef(job, GVK);
    const results = await Promise.allSettled(
      indexes.map(async (i) => {
        try {
          const created = await this.client.create(resources.pods, job.metadata.namespace, jobPodFromTemplate(job, ref, i, i === undefined ? undefined : annotationsFor.get(i)));
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
    return { active: [...active, ...made], requeueMs };
  }

  /** Per completion index, its most recently finished failed pod. */
  private lastFailedPerIndex(job: KObject, pods: KObject[]): Map<number, KObject> {
    const out = new Map<number, KObject>();
    for (const p of pods) {
      const i = podCompletionIndex(p);
      if (i === undefined || !isPodFailed(p, job)) continue;
      const prev = out.get(i);
      // Each retry carries more earlier failures; finish times (in seconds) only break ties.
      const tries = (x: KObject) => podCountAnnotation(x, INDEX_FAILURE_COUNT_ANNOTATION) + podCountAnnotation(x, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION);
      if (!prev || tries(p) > tries(prev) || (tries(p) === tries(prev) && podFinishTime(p) >= podFinishTime(prev))) out.set(i, p);
    }
    return out;
  }

  /**
   * Delete pods (uid preconditions). With `release`, their tracking finalizers are removed first
   * so that they never count; otherwise the finalizer stays and the pods are counted as failed.
   */
  private async deletePods(jobKey: string, job: KObject, victims: KObject[], release = false): Promise<void> {
    if (!victims.length) return;
    if (release) {
      const { err } = await this.removeFinalizers(victims.filter(hasTrackingFinalizer));
      if (err) throw err;
    }
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

  /**
   * Remove the tracking finalizer from pods (a strategic-merge delete from the list, so other
   * finalizers stay); returns the UIDs released or already gone, and the first error. Each is remembered until the
   * informer shows the pod without it, so a stale cache never counts it again.
   */
  private async removeFinalizers(pods: KObject[]): Promise<{ released: string[]; err?: unknown }> {
    const released: string[] = [];
    let firstErr: unknown;
    await Promise.all(
      pods.map(async (pod) => {
        const uid: string = pod.metadata?.uid;
        this.expectedFinalizerRemovals.add(uid);
        try {
          // The uid makes the patch fail on a pod that replaced this one under the same name.
          const patch = { metadata: { uid, [`$deleteFromPrimitiveList/finalizers`]: [JOB_TRACKING_FINALIZER] } };
          await this.client.patch(resources.pods, pod.metadata.namespace, pod.metadata.name, patch, 'strategic');
          released.push(uid);
        } catch (e) {
          if (e instanceof StatusError && e.code === 404) {
            released.push(uid);
            return;
          }
          this.expectedFinalizerRemovals.delete(uid);
          firstErr ??= e;
        }
      }),
    );
    return { released, err: firstErr };
  }

  /**
   * Write status through /status when it changed; returns the Job as written. A conflict is
   * returned as an error (the sync is retried from a fresh cache): counters computed from a stale
   * Job must never be written.
   */
  private async updateStatus(job: KObject, status: KObject): Promise<KObject> {
    if (deepEqual(job.status ?? {}, status)) return job;
    return await this.client.update(resources.jobs, { ...job, status }, 'status');
  }
}
