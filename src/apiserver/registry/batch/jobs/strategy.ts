/**
 * batch/v1 jobs: defaults, the generated `batch.kubernetes.io/controller-uid` selector,
 * validation, the status subresource and the table.
 */
import { humanDuration } from '../../../../api/duration.js';
import { defaultJob } from '../../../../api/defaulting/batch.js';
import { formatLabelSelector } from '../../../../api/labels/label-selector.js';
import { jobLabels, validateJob, validateJobStatusUpdate, validateJobUpdate } from '../../../../api/validation/batch.js';
import type { KObject, Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, containerCells, containersColumn, imagesColumn, keepStatus, nameColumn, statusStrategy } from '../../strategy-helpers.js';

/**
 * Add the controller-uid and job-name labels to the template and select on the uid (upstream's
 * generateSelector). Needs metadata.uid and metadata.name; a no-op with `manualSelector: true`.
 */
export function generateJobSelector(job: KObject): void {
  const spec = (job.spec ??= {});
  if (spec.manualSelector === true) return;
  const uid = job.metadata?.uid ?? '';
  const name = job.metadata?.name ?? '';
  const template = (spec.template ??= {});
  const tmeta = (template.metadata ??= {});
  const labels = (tmeta.labels ??= {});
  for (const k of [jobLabels.legacyJobName, jobLabels.jobName]) if (!(k in labels)) labels[k] = name;
  for (const k of [jobLabels.legacyControllerUid, jobLabels.controllerUid]) if (!(k in labels)) labels[k] = uid;
  const sel = (spec.selector ??= {});
  const ml = (sel.matchLabels ??= {});
  if (!(jobLabels.controllerUid in ml)) ml[jobLabels.controllerUid] = uid;
}

function conditionTrue(job: KObject, type: string): boolean {
  const c = (Array.isArray(job.status?.conditions) ? job.status.conditions : []).find((x: any) => x?.type === type);
  return c?.status === 'True';
}

/** The Status cell: Complete, Failed, Terminating, Suspended, FailureTarget or Running. */
export function jobStatus(job: KObject): string {
  if (conditionTrue(job, 'Complete')) return 'Complete';
  if (conditionTrue(job, 'Failed')) return 'Failed';
  if (job.metadata?.deletionTimestamp) return 'Terminating';
  if (conditionTrue(job, 'Suspended')) return 'Suspended';
  if (conditionTrue(job, 'FailureTarget')) return 'FailureTarget';
  return 'Running';
}

/** The Completions cell: `1/3`, `0/1 of 4` for work queues. */
export function jobCompletions(job: KObject): string {
  const succeeded = job.status?.succeeded ?? 0;
  if (job.spec?.completions !== undefined && job.spec?.completions !== null) return `${succeeded}/${job.spec.completions}`;
  const parallelism = job.spec?.parallelism ?? 0;
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

/** The Duration cell: start to completion, or start to now while running. */
export function jobDuration(job: KObject, now: Date): string {
  const start = job.status?.startTime;
  if (!start) return '';
  const end = job.status?.completionTime ? Date.parse(job.status.completionTime) : now.getTime();
  return humanDuration(end - Date.parse(start));
}

/** The jobs strategy. */
export function jobStrategy(): Strategy {
  return {
    info: { group: 'batch', version: 'v1', resource: 'jobs', singular: 'job', kind: 'Job', namespaced: true, categories: ['all'] },
    nameValidation: 'dns-subdomain',
    defaults: (obj) => {
      defaultJob(obj);
    },
    prepareForCreate(obj) {
      obj.status = {};
      generateJobSelector(obj);
    },
    prepareForUpdate: keepStatus,
    validate: validateJob,
    validateUpdate: validateJobUpdate,
    bumpsGeneration: true,
    table: {
      columns: [
        nameColumn(),
        col('Status', 'string', 'Status of the job.'),
        col('Completions', 'string', 'The number of pods which reached phase Succeeded.'),
        col('Duration', 'string', 'Time required to complete the job.'),
        ageColumn(),
        containersColumn(),
        imagesColumn(),
        col('Selector', 'string', 'A label query over pods that should match the pod count.', 1),
      ],
      cells: (job, now) => {
        const [names, images] = containerCells(job.spec?.template?.spec?.containers);
        return [job.metadata?.name ?? '', jobStatus(job), jobCompletions(job), jobDuration(job, now), age(job, now), names, images, formatLabelSelector(job.spec?.selector)];
      },
    },
    selectableFields: (job) => ({ 'status.successful': String(job.status?.succeeded ?? 0) }),
    status: statusStrategy({ resetMeta: true, validate: validateJobStatusUpdate }),
  };
}
