import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { JobController } from '../../src/controllers/job/job-controller.js';
import { backoffDelay, formatIndexes } from '../../src/controllers/job/util.js';
import { startHollowNodes, type HollowNodes } from '../../src/kubelet/hollow.js';
import { eventsFor, list, startHarness, until, type Harness } from './harness.js';

const ns = 'default';

function job(name: string, spec: KObject, annotations?: Record<string, string>): KObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: {
      ...spec,
      template: {
        metadata: annotations ? { annotations } : {},
        spec: { restartPolicy: 'Never', nodeName: 'hollow-node-0', containers: [{ name: 'work', image: 'busybox' }] },
      },
    },
  };
}

const condition = (j: KObject, type: string) => (j.status?.conditions ?? []).find((c: KObject) => c.type === type && c.status === 'True');

describe('Job helpers', () => {
  it('doubles the backoff per consecutive failure and caps it.', () => {
    assert.deepEqual([0, 1, 2, 3, 10].map((n) => backoffDelay(n, 10_000, 360_000)), [0, 10_000, 20_000, 40_000, 360_000]);
  });
  it('formats completed indexes as ranges.', () => {
    assert.equal(formatIndexes([5, 0, 1, 2, 7, 8]), '0-2,5,7-8');
    assert.equal(formatIndexes([]), '');
  });
});

describe('Job controller', () => {
  let h: Harness;
  let nodes: HollowNodes;
  before(async () => {
    h = await startHarness();
    nodes = await startHollowNodes({ client: h.client, count: 1, runDurationMs: 300 });
    await h.run(new JobController({ backoffBaseMs: 50, backoffMaxMs: 200 }));
  });
  after(async () => {
    await nodes.stop();
    await h.stop();
  });

  const getJob = (name: string) => h.client.get(resources.jobs, ns, name);
  const pods = (jobName: string) => list(h.client, resources.pods, ns, `batch.kubernetes.io/job-name=${jobName}`);

  it('runs completions=5 with parallelism=2 to completion, never with more than two pods active.', async () => {
    let running = new Set<string>();
    let maxActive = 0;
    const watch = h.client.watch(resources.pods, ns, { labelSelector: 'batch.kubernetes.io/job-name=five' }, (ev) => {
      const p = ev.object;
      const done = ev.type === 'DELETED' || p.metadata?.deletionTimestamp || ['Succeeded', 'Failed'].includes(p.status?.phase);
      running = new Set(running);
      if (done) running.delete(p.metadata.name);
      else running.add(p.metadata.name);
      maxActive = Math.max(maxActive, running.size);
    });
    const created = await h.client.create(resources.jobs, ns, job('five', { completions: 5, parallelism: 2 }));
    await until(async () => !!condition(await getJob('five'), 'Complete'), 'the Job to complete', 20_000);
    watch.abort();
    const j = await getJob('five');
    assert.equal(j.status.succeeded, 5);
    assert.equal(j.status.active, 0);
    assert.equal(j.status.failed ?? 0, 0);
    assert.ok(j.status.startTime && j.status.completionTime, 'start and completion times');
    assert.ok(condition(j, 'SuccessCriteriaMet'));
    assert.ok(maxActive <= 2, `at most two active pods, saw ${maxActive}`);
    assert.equal(maxActive, 2, 'ran two at a time');
    const ps = await pods('five');
    assert.equal(ps.length, 5);
    for (const p of ps) {
      assert.equal(p.status.phase, 'Succeeded');
      assert.equal(p.metadata.labels['batch.kubernetes.io/controller-uid'], created.metadata.uid);
      assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'Job', name: 'five', uid: created.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    }
    await until(async () => (await eventsFor(h.client, ns, 'five')).some((e) => e.reason === 'Completed'), 'a Completed event');
    const creates = (await eventsFor(h.client, ns, 'five')).filter((e) => e.reason === 'SuccessfulCreate');
    assert.ok(creates.length >= 1 && /^Created pod: five-/.test(creates[0]!.message));
  });

  it('fails a Job whose pods keep failing once the backoff limit is passed.', async () => {
    await h.client.create(resources.jobs, ns, job('crash', { backoffLimit: 1 }, { 'k8ts.io/hollow-exit-code': '1' }));
    await until(async () => !!condition(await getJob('crash'), 'Failed'), 'the Job to fail', 20_000);
    const j = await getJob('crash');
    assert.equal(condition(j, 'Failed').reason, 'BackoffLimitExceeded');
    assert.equal(condition(j, 'FailureTarget').reason, 'BackoffLimitExceeded');
    assert.equal(j.status.failed, 2, 'the first try and one retry');
    assert.equal(j.status.succeeded ?? 0, 0);
    assert.equal(condition(j, 'Complete'), undefined);
    assert.equal((await pods('crash')).length, 2);
    await until(async () => (await eventsFor(h.client, ns, 'crash')).some((e) => e.reason === 'BackoffLimitExceeded' && e.type === 'Warning'), 'a BackoffLimitExceeded event');
  });

  it('fails a Job that runs longer than activeDeadlineSeconds and removes its pods.', async () => {
    const slow = job('slow', { activeDeadlineSeconds: 1 });
    slow.spec.template.spec.restartPolicy = 'OnFailure';
    // Leave the pod unbound so that it never finishes.
    delete slow.spec.template.spec.nodeName;
    await h.client.create(resources.jobs, ns, slow);
    await until(async () => (await pods('slow')).length === 1, 'a pod');
    await until(async () => !!condition(await getJob('slow'), 'Failed'), 'the Job to fail', 10_000);
    const j = await getJob('slow');
    assert.equal(condition(j, 'Failed').reason, 'DeadlineExceeded');
    assert.equal(condition(j, 'Failed').message, 'Job was active longer than specified deadline');
    assert.equal(j.status.active, 0);
    await until(async () => (await pods('slow')).length === 0, 'the pod deleted');
  });

  it('runs an Indexed Job with one successful pod per index.', async () => {
    await h.client.create(resources.jobs, ns, job('idx', { completions: 3, parallelism: 3, completionMode: 'Indexed' }));
    await until(async () => !!condition(await getJob('idx'), 'Complete'), 'the Job to complete', 20_000);
    const j = await getJob('idx');
    assert.equal(j.status.completedIndexes, '0-2');
    const idx = (await pods('idx')).map((p) => p.metadata.annotations['batch.kubernetes.io/job-completion-index']).sort();
    assert.deepEqual(idx, ['0', '1', '2']);
  });
});
