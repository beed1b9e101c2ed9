/**
 * batch/v1 defaults (upstream's pkg/apis/batch/v1/defaults.go).
 */
import { defaultPodTemplateSpec } from './pod.js';

type Obj = Record<string, any>;

/** Job: completions/parallelism 1, backoffLimit 6, NonIndexed, suspend false, labels from the template. */
export function defaultJob(job: Obj): Obj {
  const spec = (job.spec ??= {});
  const unset = (v: unknown) => v === undefined || v === null;
  if (unset(spec.completions) && unset(spec.parallelism)) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  if (unset(spec.parallelism)) spec.parallelism = 1;
  if (unset(spec.backoffLimit)) spec.backoffLimit = unset(spec.backoffLimitPerIndex) ? 6 : 2147483647;
  const tlabels = spec.template?.metadata?.labels;
  const meta = (job.metadata ??= {});
  if (tlabels && Object.keys(meta.labels ?? {}).length === 0) meta.labels = { ...tlabels };
  if (unset(spec.completionMode)) spec.completionMode = 'NonIndexed';
  if (unset(spec.suspend)) spec.suspend = false;
  if (unset(spec.podReplacementPolicy)) spec.podReplacementPolicy = spec.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed';
  for (const rule of Array.isArray(spec.podFailurePolicy?.rules) ? spec.podFailurePolicy.rules : []) {
    for (const p of Array.isArray(rule?.onPodConditions) ? rule.onPodConditions : []) if (!p.status) p.status = 'True';
  }
  defaultPodTemplateSpec(spec.template);
  return job;
}

/** CronJob: Allow, not suspended, keep 3 successful and 1 failed Jobs. */
export function defaultCronJob(cj: Obj): Obj {
  const spec = (cj.spec ??= {});
  if (!spec.concurrencyPolicy) spec.concurrencyPolicy = 'Allow';
  if (spec.suspend === undefined || spec.suspend === null) spec.suspend = false;
  if (spec.successfulJobsHistoryLimit === undefined || spec.successfulJobsHistoryLimit === null) spec.successfulJobsHistoryLimit = 3;
  if (spec.failedJobsHistoryLimit === undefined || spec.failedJobsHistoryLimit === null) spec.failedJobsHistoryLimit = 1;
  defaultPodTemplateSpec(spec.jobTemplate?.spec?.template);
  return cj;
}
