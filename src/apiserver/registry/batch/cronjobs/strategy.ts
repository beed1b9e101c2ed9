/** batch/v1 cronjobs: defaults, schedule validation, the status subresource and the table. */
import { translateTimestampSince } from '../../../../api/duration.js';
import { defaultCronJob } from '../../../../api/defaulting/batch.js';
import { formatLabelSelector } from '../../../../api/labels/label-selector.js';
import { validateCronJob, validateCronJobStatusUpdate, validateCronJobUpdate } from '../../../../api/validation/batch.js';
import type { Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, containerCells, containersColumn, imagesColumn, keepStatus, nameColumn, resetStatus, statusStrategy } from '../../strategy-helpers.js';

/** The cronjobs strategy. */
export function cronJobStrategy(): Strategy {
  return {
    info: { group: 'batch', version: 'v1', resource: 'cronjobs', singular: 'cronjob', kind: 'CronJob', namespaced: true, shortNames: ['cj'], categories: ['all'] },
    nameValidation: 'dns-subdomain',
    defaults: (obj) => {
      defaultCronJob(obj);
    },
    prepareForCreate: resetStatus,
    prepareForUpdate: keepStatus,
    validate: validateCronJob,
    validateUpdate: validateCronJobUpdate,
    bumpsGeneration: true,
    table: {
      columns: [
        nameColumn(),
        col('Schedule', 'string', 'The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.'),
        col('Timezone', 'string', 'The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.'),
        col('Suspend', 'boolean', 'This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.'),
        col('Active', 'integer', 'A list of pointers to currently running jobs.'),
        col('Last Schedule', 'string', 'Information when was the last time the job was successfully scheduled.'),
        ageColumn(),
        containersColumn(),
        imagesColumn(),
        col('Selector', 'string', 'A label query over pods that should match the pod count.', 1),
      ],
      cells: (cj, now) => {
        const spec = cj.spec ?? {};
        const [names, images] = containerCells(spec.jobTemplate?.spec?.template?.spec?.containers);
        const suspend = spec.suspend === undefined || spec.suspend === null ? '<unset>' : spec.suspend ? 'True' : 'False';
        const last = cj.status?.lastScheduleTime ? translateTimestampSince(cj.status.lastScheduleTime, now) : '<none>';
        return [
          cj.metadata?.name ?? '',
          spec.schedule ?? '',
          spec.timeZone ?? '<none>',
          suspend,
          Array.isArray(cj.status?.active) ? cj.status.active.length : 0,
          last,
          age(cj, now),
          names,
          images,
          formatLabelSelector(spec.jobTemplate?.spec?.selector),
        ];
      },
    },
    status: statusStrategy({ resetMeta: true, validate: validateCronJobStatusUpdate }),
  };
}
