/**
 * Pure helpers the Job controller decides with: pod phases, finish times, the failure backoff,
 * conditions, completion indexes, and the pod a Job's template stamps out.
 */
import type { KObject } from '../../client/rest-client.js';
import type { OwnerReference } from '../common/controller-ref.js';

/** The finalizer that keeps a Job's finished pod around until the controller has counted it. */
export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
/** Failures of the pod's index before it (backoffLimitPerIndex), counted and ignored by the podFailurePolicy. */
export const INDEX_FAILURE_COUNT_ANNOTATION = 'batch.kubernetes.io/job-index-failure-count';
export const INDEX_IGNORED_FAILURE_COUNT_ANNOTATION = 'batch.kubernetes.io/job-index-ignored-failure-count';
/** Annotation and label carrying an Indexed Job pod's completion index. */
export const COMPLETION_INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';
/** Upstream's DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff. */
export const DEFAULT_BACKOFF_MS = 10_000;
export const MAX_BACKOFF_MS = 6 * 60_000;

/** RFC 3339 in seconds, as the API serialises metav1.Time. */
export { rfc3339 } from '../../base/time.js';

/** Neither Succeeded nor Failed. */
export function isPodFinished(pod: KObject): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** The pod carries the job-tracking finalizer. */
export function hasTrackingFinalizer(pod: KObject): boolean {
  return Array.isArray(pod.metadata?.finalizers) && pod.metadata.finalizers.includes(JOB_TRACKING_FINALIZER);
}

/**
 * Whether the pod counts as failed (upstream's isPodFailed): phase Failed, or, unless the Job
 * replaces only Failed pods (podReplacementPolicy Failed, or a podFailurePolicy), being deleted
 * before it succeeded.
 */
export function isPodFailed(pod: KObject, job: KObject): boolean {
  if (pod.status?.phase === 'Failed') return true;
  const onlyFailed = job.spec?.podReplacementPolicy === 'Failed' || !!job.spec?.podFailurePolicy;
  if (onlyFailed) return false;
  return !!pod.metadata?.deletionTimestamp && pod.status?.phase !== 'Succeeded';
}

/** Counts towards `status.active`: not finished and not being deleted. */
export function isPodActive(pod: KObject): boolean {
  return !isPodFinished(pod) && !pod.metadata?.deletionTimestamp;
}

export { isPodReady } from '../common/pods.js';

/** When the pod finished: the latest container finish, else its last condition change, else creation. */
export function podFinishTime(pod: KObject): number {
  let t = -Infinity;
  for (const cs of pod.status?.containerStatuses ?? []) {
    const f = Date.parse(cs?.state?.terminated?.finishedAt ?? '');
    if (Number.isFinite(f)) t = Math.max(t, f);
  }
  if (Number.isFinite(t)) return t;
  for (const c of pod.status?.conditions ?? []) {
    const f = Date.parse(c?.lastTransitionTime ?? '');
    if (Number.isFinite(f)) t = Math.max(t, f);
  }
  if (Number.isFinite(t)) return t;
  const c = Date.parse(pod.metadata?.creationTimestamp ?? '');
  return Number.isFinite(c) ? c : 0;
}

/** Container restarts of a pod (counted as failures for `restartPolicy: OnFailure`). */
export function podRestarts(pod: KObject): number {
  let n = 0;
  for (const cs of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) n += Number(cs?.restartCount ?? 0);
  return n;
}

/**
 * Failures since the last success, and when the last of them happened (upstream's backoff
 * record): the delay before the next pod grows with the consecutive failures.
 */
export function backoffRecord(pods: KObject[]): { failuresAfterSuccess: number; lastFailureMs: number } {
  const finished = pods.filter(isPodFinished).map((p) => ({ ok: p.status.phase === 'Succeeded', t: podFinishTime(p) }));
  finished.sort((a, b) => a.t - b.t);
  let failures = 0;
  let last = 0;
  for (const f of finished) {
    if (f.ok) failures = 0;
    else {
      failures++;
      last = f.t;
    }
  }
  return { failuresAfterSuccess: failures, lastFailureMs: last };
}

/** `base * 2^(failures-1)`, capped; zero with no failures. */
export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
}

/** The Job condition of that type, if any. */
export function findCondition(job: KObject, type: string): KObject | undefined {
  return (Array.isArray(job.status?.conditions) ? job.status.conditions : []).find((c: KObject) => c?.type === type);
}

/** Complete or Failed is True. */
export function isJobFinished(job: KObject): boolean {
  return ['Complete', 'Failed'].some((t) => findCondition(job, t)?.status === 'True');
}

/** Conditions with `cond` set (replacing one of its type; the transition time kept when nothing changed). */
export function withCondition(conditions: KObject[], cond: KObject): KObject[] {
  const i = conditions.findIndex((c) => c.type === cond.type);
  if (i < 0) return [...conditions, cond];
  const old = conditions[i]!;
  if (old.status === cond.status && old.reason === cond.reason && old.message === cond.message) return conditions;
  const next = [...conditions];
  next[i] = { ...cond, lastTransitionTime: old.status === cond.status ? old.lastTransitionTime : cond.lastTransitionTime };
  return next;
}

/** A pod's completion index, or undefined when missing or malformed. */
export function podCompletionIndex(pod: KObject): number | undefined {
  const v = pod.metadata?.annotations?.[COMPLETION_INDEX_ANNOTATION] ?? pod.metadata?.labels?.[COMPLETION_INDEX_ANNOTATION];
  if (typeof v !== 'string' || !/^(0|[1-9]\d*)$/.test(v)) return undefined;
  return Number(v);
}

/** A non-negative integer annotation of the pod, 0 when missing or malformed. */
export function podCountAnnotation(pod: KObject, name: string): number {
  const v = pod.metadata?.annotations?.[name];
  return typeof v === 'string' && /^(0|[1-9]\d*)$/.test(v) ? Number(v) : 0;
}

/** `status.completedIndexes`: sorted indexes as ranges, e.g. `0-2,5`. */
export function formatIndexes(indexes: Iterable<number>): string {
  const xs = [...new Set(indexes)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    out.push(i === j ? String(xs[i]) : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/**
 * The pod a Job creates: the template's labels, annotations and finalizers, the job-tracking
 * finalizer, the controller reference, and for Indexed Jobs the completion index as annotation, label, env and hostname.
 */
export function jobPodFromTemplate(job: KObject, ref: OwnerReference, index?: number, extraAnnotations?: Record<string, string>): KObject {
  const tm = job.spec?.template?.metadata ?? {};
  const name = job.metadata?.name ?? '';
  const metadata: KObject = { generateName: index === undefined ? `${name}-` : `${name}-${index}-`, ownerReferences: [ref] };
  metadata.labels = { ...(tm.labels ?? {}) };
  metadata.annotations = { ...(tm.annotations ?? {}) };
  // Pods are tracked with a finalizer so that none is lost from (or counted twice in) the status.
  metadata.finalizers = [...(Array.isArray(tm.finalizers) ? tm.finalizers : []).filter((f: unknown) => f !== JOB_TRACKING_FINALIZER), JOB_TRACKING_FINALIZER];
  const spec: KObject = structuredClone(job.spec?.template?.spec ?? {});
  if (index !== undefined) {
    metadata.annotations[COMPLETION_INDEX_ANNOTATION] = String(index);
    metadata.labels[COMPLETION_INDEX_ANNOTATION] = String(index);
    if (!spec.hostname) spec.hostname = `${name}-${index}`;
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      const env: KObject[] = (c.env ??= []);
      if (!env.some((e) => e?.name === 'JOB_COMPLETION_INDEX')) {
        env.push({ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX_ANNOTATION}']` } } });
      }
    }
  }
  Object.assign(metadata.annotations, extraAnnotations);
  if (!Object.keys(metadata.annotations).length) delete metadata.annotations;
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}
