import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../src/api/errors.js';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { jobFinishTime, timeLeft, TTLAfterFinishedController } from '../../src/controllers/ttlafterfinished/ttlafterfinished-controller.js';
import { startHarness, until, type Harness } from './harness.js';

const ns = 'default';
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function job(name: string, ttl?: number): KObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: {
      ...(ttl !== undefined ? { ttlSecondsAfterFinished: ttl } : {}),
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } },
    },
  };
}

describe('TTL-after-finished helpers', () => {
  const finishedAt = Date.parse('2026-01-01T00:00:00Z');
  const done = (type: string, ttl: number | undefined, extra: KObject = {}): KObject => ({
    metadata: { name: 'j', ...extra },
    spec: { ttlSecondsAfterFinished: ttl },
    status: { conditions: [{ type, status: 'True', lastTransitionTime: rfc3339(finishedAt) }] },
  });
  const cases: [string, KObject, number, number | undefined][] = [
    ['A Complete job with a TTL of 10 s has 10 s left at its finish time.', done('Complete', 10), finishedAt, 10_000],
    ['A Failed job with a TTL of 10 s has expired 5 s after the TTL.', done('Failed', 10), finishedAt + 15_000, -5_000],
    ['A TTL of 0 expires at once.', done('Complete', 0), finishedAt, 0],
    ['A job without a TTL is never due.', done('Complete', undefined), finishedAt, undefined],
    ['A running job is not due.', done('Suspended', 10), finishedAt, undefined],
    ['A job already being deleted is not due again.', done('Complete', 10, { deletionTimestamp: rfc3339(finishedAt) }), finishedAt + 60_000, undefined],
  ];
  for (const [name, j, now, want] of cases) it(name, () => assert.equal(timeLeft(j, now), want));

  it('falls back to status.completionTime when the condition has no transition time.', () => {
    assert.equal(jobFinishTime({ status: { completionTime: '2026-01-01T00:00:05Z', conditions: [{ type: 'Complete', status: 'True' }] } }), finishedAt + 5_000);
  });
});

describe('TTL-after-finished controller', () => {
  let h: Harness;
  let offsetMs = 0;
  before(async () => {
    h = await startHarness();
    await h.run(new TTLAfterFinishedController({ now: () => Date.now() + offsetMs }));
  });
  after(async () => h.stop());

  const exists = async (name: string) => {
    try {
      await h.client.get(resources.jobs, ns, name);
      return true;
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) return false;
      throw e;
    }
  };
  /** Play the job controller: mark the job finished now. */
  const finish = async (name: string, type = 'Complete') => {
    const now = rfc3339(Date.now());
    const status: KObject = { startTime: now, conditions: [{ type, status: 'True', lastTransitionTime: now, reason: type === 'Complete' ? 'CompletionsReached' : 'BackoffLimitExceeded', message: 'done' }] };
    if (type === 'Complete') {
      status.completionTime = now;
      status.succeeded = 1;
      status.conditions.unshift({ type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: now, reason: 'CompletionsReached', message: 'done' });
    } else {
      status.failed = 1;
      status.conditions.unshift({ type: 'FailureTarget', status: 'True', lastTransitionTime: now, reason: 'BackoffLimitExceeded', message: 'done' });
    }
    await h.client.patch(resources.jobs, ns, name, { status }, 'merge', { subresource: 'status' });
    return Date.parse(now);
  };

  it('deletes a finished job with ttlSecondsAfterFinished: 1 about a second after it finished, and not before.', async () => {
    await h.client.create(resources.jobs, ns, job('short', 1));
    await h.client.create(resources.jobs, ns, job('keep'));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(await exists('short'), 'a running job is kept');
    // Timestamps have whole seconds: the TTL runs from the recorded time.
    const finishedAt = await finish('short');
    await finish('keep');
    await until(async () => !(await exists('short')), 'the job to be deleted', 10_000);
    assert.ok(Date.now() - finishedAt >= 1000, `deleted ${Date.now() - finishedAt} ms after finishing, before its TTL`);
    assert.ok(await exists('keep'), 'a job without a TTL is kept');
  });

  it('deletes a failed job once the injected clock passes its TTL.', async () => {
    await h.client.create(resources.jobs, ns, job('hour', 3600));
    await finish('hour', 'Failed');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(await exists('hour'), 'not yet: an hour is left');
    offsetMs = 2 * 3600_000;
    // Touch the job so the controller looks again with the moved clock.
    await h.client.patch(resources.jobs, ns, 'hour', { metadata: { labels: { touched: 'yes' } } });
    await until(async () => !(await exists('hour')), 'the job to be deleted');
  });
});
