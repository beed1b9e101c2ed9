import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseCronSchedule } from '../../src/api/validation/cron.js';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { CronJobController, jobNameFor, mostRecentScheduleTime, SCHEDULED_TIMESTAMP_ANNOTATION } from '../../src/controllers/cronjob/cronjob-controller.js';
import { eventsFor, list, startHarness, until, type Harness } from './harness.js';

const ns = 'default';
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

describe('CronJob schedule helpers', () => {
  const every5 = parseCronSchedule('*/5 * * * *');
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const cj = (status: KObject = {}, spec: KObject = {}) => ({ metadata: { creationTimestamp: iso(t0) }, spec, status });

  it('names Jobs by the scheduled time in minutes since the epoch.', () => {
    assert.equal(jobNameFor('hello', Date.parse('2026-01-01T00:05:00Z')), `hello-${Math.floor(Date.parse('2026-01-01T00:05:00Z') / MIN)}`);
  });

  const cases: { name: string; obj: KObject; now: number; recent?: number; missed: number }[] = [
    { name: 'nothing is due before the first scheduled time', obj: cj(), now: t0 + 4 * MIN, missed: 0 },
    { name: 'the latest of several missed times is the one to run', obj: cj(), now: t0 + 17 * MIN, recent: t0 + 15 * MIN, missed: 3 },
    { name: 'a time already scheduled is not due again', obj: cj({ lastScheduleTime: iso(t0 + 15 * MIN) }), now: t0 + 17 * MIN, missed: 0 },
    { name: 'startingDeadlineSeconds limits how far back missed times are counted', obj: cj({}, { startingDeadlineSeconds: 500 }), now: t0 + 17 * MIN, recent: t0 + 15 * MIN, missed: 2 },
  ];
  for (const c of cases) {
    it(`finds the most recent schedule time: ${c.name}.`, () => {
      const r = mostRecentScheduleTime(c.obj, every5, c.now);
      assert.equal(r.recent, c.recent);
      assert.equal(r.missed, c.missed);
      assert.equal(r.next, Math.floor(c.now / (5 * MIN)) * 5 * MIN + 5 * MIN);
    });
  }
});

describe('CronJob controller', () => {
  let h: Harness;
  let clock = Date.now();
  let cjc: CronJobController;
  before(async () => {
    h = await startHarness();
    cjc = new CronJobController({ now: () => clock });
    await h.run(cjc);
  });
  after(async () => h.stop());

  const jobs = async () => (await list(h.client, resources.jobs, ns)).map((j) => j.metadata.name).sort();
  const getCJ = () => h.client.get(resources.cronjobs, ns, 'tick');
  const complete = (name: string) =>
    h.client.patch(resources.jobs, ns, name, { status: { startTime: iso(clock), completionTime: iso(clock), conditions: [{ type: 'Complete', status: 'True' }] } }, 'merge', { subresource: 'status' });
  const tickTo = (ms: number) => {
    clock = ms;
    cjc.queue.add(`${ns}/tick`);
  };

  it('creates Jobs on schedule, honours Forbid, and prunes finished Jobs beyond the history limit.', async () => {
    const cj = await h.client.create(resources.cronjobs, ns, {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'tick' },
      spec: {
        schedule: '* * * * *',
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 1,
        jobTemplate: { metadata: { labels: { app: 'tick' } }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } },
      },
    });
    const created = Date.parse(cj.metadata.creationTimestamp);
    clock = created;
    await sleep(200);
    assert.deepEqual(await jobs(), [], 'nothing is due yet');

    const m1 = Math.floor(created / MIN) * MIN + MIN;
    tickTo(m1 + 5_000);
    const j1 = jobNameFor('tick', m1);
    await until(async () => (await jobs()).includes(j1), `job ${j1}`);
    const job1 = await h.client.get(resources.jobs, ns, j1);
    assert.equal(job1.metadata.annotations[SCHEDULED_TIMESTAMP_ANNOTATION], iso(m1));
    assert.equal(job1.metadata.labels.app, 'tick');
    assert.equal(job1.metadata.ownerReferences[0].uid, cj.metadata.uid);
    await until(async () => (await getCJ()).status?.active?.length === 1, 'status.active to list the Job');
    assert.equal((await getCJ()).status.lastScheduleTime, iso(m1));
    assert.equal((await getCJ()).status.active[0].name, j1);

    // The next minute comes while the first Job still runs: Forbid skips it.
    tickTo(m1 + MIN + 5_000);
    await until(async () => (await eventsFor(h.client, ns, 'tick')).some((e) => e.reason === 'JobAlreadyActive'), 'a JobAlreadyActive event');
    assert.deepEqual(await jobs(), [j1]);

    // Once it finishes, the still-due time starts.
    await complete(j1);
    const j2 = jobNameFor('tick', m1 + MIN);
    await until(async () => (await jobs()).includes(j2), `job ${j2}`);
    await until(async () => !!(await getCJ()).status?.lastSuccessfulTime, 'lastSuccessfulTime');
    await until(async () => (await getCJ()).status?.active?.[0]?.name === j2, 'status.active to list only the new Job');

    // A third run leaves two finished Jobs; history keeps only the newest one.
    await sleep(1100); // distinct start times
    await complete(j2);
    tickTo(m1 + 2 * MIN + 5_000);
    const j3 = jobNameFor('tick', m1 + 2 * MIN);
    await until(async () => JSON.stringify(await jobs()) === JSON.stringify([j2, j3].sort()), () => `jobs ${j2} and ${j3} only`);
    await until(async () => (await eventsFor(h.client, ns, 'tick')).some((e) => e.reason === 'SuccessfulDelete' && e.message === `Deleted job ${j1}`), 'a SuccessfulDelete event');
    assert.equal((await getCJ()).status.lastScheduleTime, iso(m1 + 2 * MIN));
  });

  it('creates nothing while suspended.', async () => {
    await h.client.patch(resources.cronjobs, ns, 'tick', { spec: { suspend: true, concurrencyPolicy: 'Allow' } });
    const before = await jobs();
    tickTo(clock + 3 * MIN);
    await sleep(300);
    assert.deepEqual(await jobs(), before);
  });
});
