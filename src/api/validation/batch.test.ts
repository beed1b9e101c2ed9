import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../errors.js';
import { defaultCronJob, defaultJob } from '../defaulting/batch.js';
import { validateCronJob, validateJob, validateJobUpdate } from './batch.js';
import { nextCronTime, parseCronSchedule } from './cron.js';

const uid = '0e5c8a1e-0000-4000-8000-000000000001';
function job(spec: Record<string, any>): Record<string, any> {
  const labels = {
    'controller-uid': uid,
    'batch.kubernetes.io/controller-uid': uid,
    'job-name': 'pi',
    'batch.kubernetes.io/job-name': 'pi',
  };
  return defaultJob({
    metadata: { name: 'pi', namespace: 'default', uid },
    spec: {
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } },
      template: { metadata: { labels }, spec: { restartPolicy: 'Never', containers: [{ name: 'pi', image: 'perl' }] } },
      ...spec,
    },
  });
}
const r = (e: ReturnType<typeof validateJob>) => e.map(fieldErrorString);

describe('validateJob', () => {
  it('a generated-selector job is valid', () => assert.deepEqual(r(validateJob(job({}))), []));
  it('the template restartPolicy must be OnFailure or Never', () => {
    const j = job({});
    j.spec.template.spec.restartPolicy = 'Always';
    assert.deepEqual(r(validateJob(j)), ['spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"']);
  });
  it('parallelism and completions may not be negative', () => {
    assert.deepEqual(r(validateJob(job({ parallelism: -1, completions: -2 }))), [
      'spec.parallelism: Invalid value: -1: must be greater than or equal to 0',
      'spec.completions: Invalid value: -2: must be greater than or equal to 0',
    ]);
  });
  it('a selector that is not the generated one is refused', () => {
    const j = job({ selector: { matchLabels: { app: 'x' } } });
    j.spec.template.metadata.labels.app = 'x';
    assert.deepEqual(r(validateJob(j)), ['spec.selector: Invalid value: {"matchLabels":{"app":"x"}}: `selector` not auto-generated']);
  });
  it('the template is immutable once the job runs', () => {
    const old = job({});
    const next = structuredClone(old);
    next.spec.template.spec.containers[0].image = 'perl:5';
    assert.equal(r(validateJobUpdate(next, old)).length, 1);
    assert.match(r(validateJobUpdate(next, old))[0], /^spec\.template: Invalid value: .*: field is immutable$/);
  });
});

describe('validateJob podFailurePolicy and backoffLimitPerIndex', () => {
  const pfp = (rules: unknown[], extra: Record<string, any> = {}) => job({ podFailurePolicy: { rules }, ...extra });
  const cases: { name: string; job: () => Record<string, any>; want: string[] }[] = [
    {
      name: 'A policy with an exit-code rule and a DisruptionTarget rule is valid.',
      job: () =>
        pfp([
          { action: 'FailJob', onExitCodes: { containerName: 'pi', operator: 'In', values: [1, 42] } },
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] },
        ]),
      want: [],
    },
    {
      name: 'A policy requires restartPolicy Never.',
      job: () => {
        const j = pfp([{ action: 'Count', onExitCodes: { operator: 'NotIn', values: [0] } }]);
        j.spec.template.spec.restartPolicy = 'OnFailure';
        return j;
      },
      want: ['spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified'],
    },
    {
      name: 'An unknown action, operator and container name are refused.',
      job: () => pfp([{ action: 'Retry', onExitCodes: { containerName: 'nope', operator: 'Is', values: [3] } }]),
      want: [
        'spec.podFailurePolicy.rules[0].action: Unsupported value: "Retry": supported values: "Count", "FailIndex", "FailJob", "Ignore"',
        'spec.podFailurePolicy.rules[0].onExitCodes.operator: Unsupported value: "Is": supported values: "In", "NotIn"',
        'spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "nope": must be one of the container or initContainer names in the pod template',
      ],
    },
    {
      name: 'Exit codes must be non-empty, unique, ordered and not 0 for In.',
      job: () => pfp([{ action: 'FailJob', onExitCodes: { operator: 'In', values: [0, 5, 5, 2] } }, { action: 'FailJob', onExitCodes: { operator: 'In', values: [] } }]),
      want: [
        'spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator',
        'spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 5',
        'spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [0,5,5,2]: must be ordered',
        'spec.podFailurePolicy.rules[1].onExitCodes.values: Invalid value: []: at least one value is required',
      ],
    },
    {
      name: 'A rule needs exactly one of onExitCodes and onPodConditions, and an action.',
      job: () => pfp([{ action: 'Ignore' }, { onExitCodes: { operator: 'In', values: [1] }, onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }]),
      want: [
        'spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required',
        'spec.podFailurePolicy.rules[1].action: Required value: valid values: ["Count" "FailIndex" "FailJob" "Ignore"]',
        'spec.podFailurePolicy.rules[1]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported',
      ],
    },
    {
      name: 'FailIndex requires backoffLimitPerIndex.',
      job: () => pfp([{ action: 'FailIndex', onExitCodes: { operator: 'In', values: [1] } }]),
      want: ['spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set'],
    },
    {
      name: 'backoffLimitPerIndex requires the Indexed mode, and maxFailedIndexes requires backoffLimitPerIndex.',
      job: () => job({ backoffLimitPerIndex: 1 }),
      want: ['spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode'],
    },
    {
      name: 'maxFailedIndexes without backoffLimitPerIndex is refused.',
      job: () => job({ completionMode: 'Indexed', completions: 3, maxFailedIndexes: 1 }),
      want: ['spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified'],
    },
    {
      name: 'maxFailedIndexes may not exceed completions.',
      job: () => job({ completionMode: 'Indexed', completions: 3, backoffLimitPerIndex: 1, maxFailedIndexes: 4 }),
      want: ['spec.maxFailedIndexes: Invalid value: 4: must be less than or equal to completions'],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(r(validateJob(c.job())), c.want));
});

describe('validateCronJob', () => {
  const cj = (schedule: string, extra: Record<string, any> = {}) =>
    defaultCronJob({
      metadata: { name: 'tick' },
      spec: { schedule, jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 't', image: 'busybox' }] } } } }, ...extra },
    });
  it('a standard schedule is valid', () => assert.deepEqual(r(validateCronJob(cj('*/5 * * * *'))), []));
  it('a schedule with too few fields is refused with the parser message', () => {
    assert.deepEqual(r(validateCronJob(cj('* * *'))), ['spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]']);
  });
  it('an hour of 25 is out of range', () => {
    assert.deepEqual(r(validateCronJob(cj('0 25 * * *'))), ['spec.schedule: Invalid value: "0 25 * * *": end of range (25) above maximum (23): 25']);
  });
  it('TZ in the schedule is refused', () => {
    assert.deepEqual(r(validateCronJob(cj('TZ=UTC 0 * * * *'))), ['spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead']);
  });
  it('an unknown time zone is refused', () => {
    assert.deepEqual(r(validateCronJob(cj('0 * * * *', { timeZone: 'Mars/Base' }))), ['spec.timeZone: Invalid value: "Mars/Base": unknown time zone Mars/Base']);
  });
  it('a 53-character name is too long for a CronJob', () => {
    const c = cj('@daily');
    c.metadata.name = 'a'.repeat(53);
    assert.deepEqual(r(validateCronJob(c)), [`metadata.name: Invalid value: "${'a'.repeat(53)}": must be no more than 52 characters`]);
  });
});

describe('cron schedules', () => {
  const after = new Date('2024-03-10T10:07:30Z');
  const cases: Array<{ name: string; spec: string; want: string }> = [
    { name: 'every five minutes fires at the next multiple of five', spec: '*/5 * * * *', want: '2024-03-10T10:10:00.000Z' },
    { name: '@hourly fires at the top of the next hour', spec: '@hourly', want: '2024-03-10T11:00:00.000Z' },
    { name: 'a weekday list skips to Monday', spec: '0 9 * * MON-FRI', want: '2024-03-11T09:00:00.000Z' },
    { name: 'day of month and day of week combine with OR when both are set', spec: '0 0 15 * SUN', want: '2024-03-15T00:00:00.000Z' },
    { name: '@yearly fires on the first of January', spec: '@yearly', want: '2025-01-01T00:00:00.000Z' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(nextCronTime(parseCronSchedule(c.spec), after)?.toISOString(), c.want));
  it('an unknown descriptor is refused', () => assert.throws(() => parseCronSchedule('@sometimes'), /unrecognized descriptor: @sometimes/));
});
