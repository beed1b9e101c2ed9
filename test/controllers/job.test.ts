import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import type { KObject, RestClient } from '../../src/client/rest-client.js';
import { GarbageCollector } from '../../src/controllers/garbagecollector/garbage-collector.js';
import { JobController } from '../../src/controllers/job/job-controller.js';
import { backoffDelay, formatIndexes } from '../../src/controllers/job/util.js';
import { startHollowNodes, type HollowNodes } from '../../src/kubelet/hollow.js';
import { eventsFor, list, startHarness, until, type Harness } from './harness.js';
import { eventually, startTestCluster, type TestCluster } from '../helpers.js';

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

describe('Job pod tracking with finalizers, and podFailurePolicy', () => {
  // No kubelet: the tests play it by writing pod status, so every step happens when they say.
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await h.run(new JobController({ backoffBaseMs: 20, backoffMaxMs: 50 }), new GarbageCollector());
  });
  after(async () => h.stop());

  const FINALIZER = 'batch.kubernetes.io/job-tracking';
  const getJob = (name: string) => h.client.get(resources.jobs, ns, name);
  const pods = (jobName: string) => list(h.client, resources.pods, ns, `batch.kubernetes.io/job-name=${jobName}`);
  const gone = (name: string) =>
    h.client.get(resources.pods, ns, name).then(
      () => false,
      (e) => (e?.code === 404 ? true : Promise.reject(e)),
    );
  function unboundJob(name: string, spec: KObject): KObject {
    const j = job(name, spec);
    delete j.spec.template.spec.nodeName;
    j.spec.template.spec.containers[0].name = 'main';
    return j;
  }
  /** Play kubelet: finish the pod with the main container's exit code, and extra conditions. */
  async function finishPod(pod: KObject, exitCode: number, conditions: KObject[] = []): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await h.client.patch(
      resources.pods,
      ns,
      pod.metadata.name,
      {
        status: {
          phase: exitCode === 0 ? 'Succeeded' : 'Failed',
          conditions,
          containerStatuses: [{ name: 'main', image: 'busybox', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode, startedAt: now, finishedAt: now } } }],
        },
      },
      'merge',
      { subresource: 'status' },
    );
  }

  it('adds the job-tracking finalizer to its pods and counts a finished pod deleted right away exactly once.', async () => {
    await h.client.create(resources.jobs, ns, unboundJob('early', { completions: 2, parallelism: 2 }));
    await until(async () => (await pods('early')).length === 2, 'two pods');
    const [a, b] = await pods('early');
    for (const p of [a!, b!]) assert.deepEqual(p.metadata.finalizers, [FINALIZER]);
    await finishPod(a!, 0);
    await h.client.delete(resources.pods, ns, a!.metadata.name);
    // The finalizer holds the pod until it is counted, then lets it go.
    await until(() => gone(a!.metadata.name), 'the deleted pod to go');
    await until(async () => (await getJob('early')).status?.succeeded === 1, 'one success counted');
    await finishPod(b!, 0);
    await until(async () => !!condition(await getJob('early'), 'Complete'), 'the Job to complete');
    await new Promise((r) => setTimeout(r, 300));
    const j = await getJob('early');
    assert.equal(j.status.succeeded, 2, 'each pod counted once');
    assert.equal(j.status.failed ?? 0, 0);
    assert.deepEqual(j.status.uncountedTerminatedPods ?? {}, {});
    const left = await pods('early');
    assert.deepEqual(
      left.map((p) => p.metadata.name),
      [b!.metadata.name],
    );
    assert.deepEqual(left[0]!.metadata.finalizers ?? [], [], 'no finalizer left after completion');
  });

  it('counts a running pod that is deleted as failed, once, and replaces it.', async () => {
    await h.client.create(resources.jobs, ns, unboundJob('gone', { completions: 1, backoffLimit: 3 }));
    await until(async () => (await pods('gone')).length === 1, 'a pod');
    const [first] = await pods('gone');
    await h.client.delete(resources.pods, ns, first!.metadata.name);
    await until(() => gone(first!.metadata.name), 'the deleted pod to go');
    await until(async () => (await pods('gone')).length === 1, 'a replacement pod');
    await until(async () => (await getJob('gone')).status?.failed === 1, 'one failure counted');
    const [second] = await pods('gone');
    await finishPod(second!, 0);
    await until(async () => !!condition(await getJob('gone'), 'Complete'), 'the Job to complete');
    const j = await getJob('gone');
    assert.equal(j.status.failed, 1);
    assert.equal(j.status.succeeded, 1);
  });

  it('leaves no tracking finalizer behind when the Job is deleted with propagation Orphan (kubectl delete --cascade=orphan).', async () => {
    await h.client.create(resources.jobs, ns, unboundJob('orphaned', { completions: 2, parallelism: 2 }));
    await until(async () => (await pods('orphaned')).length === 2, 'two pods');
    await h.client.delete(resources.jobs, ns, 'orphaned', { propagationPolicy: 'Orphan' });
    await until(
      () => getJob('orphaned').then(() => false, (e) => e?.code === 404),
      'the Job to go',
    );
    await until(async () => (await pods('orphaned')).every((p) => !p.metadata.finalizers?.length && !p.metadata.ownerReferences?.length), 'the pods released and orphaned');
    assert.equal((await pods('orphaned')).length, 2, 'the pods stay');
  });

  it('releases the finalizers of a deleted Job’s pods so that the garbage collector can remove them.', async () => {
    await h.client.create(resources.jobs, ns, unboundJob('dropped', { completions: 2, parallelism: 2 }));
    await until(async () => (await pods('dropped')).length === 2, 'two pods');
    await h.client.delete(resources.jobs, ns, 'dropped', { propagationPolicy: 'Background' });
    await until(async () => (await pods('dropped')).length === 0, 'the pods to go');
  });

  it('fails the Job at once when a FailJob rule matches an exit code, with upstream’s reason and message.', async () => {
    await h.client.create(
      resources.jobs,
      ns,
      unboundJob('failjob', { backoffLimit: 6, podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { containerName: 'main', operator: 'In', values: [42] } }] } }),
    );
    await until(async () => (await pods('failjob')).length === 1, 'a pod');
    const [p] = await pods('failjob');
    await finishPod(p!, 42);
    await until(async () => !!condition(await getJob('failjob'), 'Failed'), 'the Job to fail');
    const j = await getJob('failjob');
    const msg = `Container main for pod default/${p!.metadata.name} failed with exit code 42 matching FailJob rule at index 0`;
    for (const type of ['Failed', 'FailureTarget']) {
      assert.equal(condition(j, type).reason, 'PodFailurePolicy');
      assert.equal(condition(j, type).message, msg);
    }
    assert.equal(j.status.failed, 1);
    assert.equal((await pods('failjob')).length, 1, 'no retry');
    assert.deepEqual((await pods('failjob'))[0]!.metadata.finalizers ?? [], []);
  });

  it('does not count a failure an Ignore rule matches (a DisruptionTarget pod) towards backoffLimit.', async () => {
    await h.client.create(
      resources.jobs,
      ns,
      unboundJob('ignore', {
        backoffLimit: 0,
        podFailurePolicy: {
          rules: [
            { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] },
            { action: 'Count', onExitCodes: { operator: 'NotIn', values: [0] } },
          ],
        },
      }),
    );
    await until(async () => (await pods('ignore')).length === 1, 'a pod');
    const [first] = await pods('ignore');
    await finishPod(first!, 137, [{ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI' }]);
    await until(async () => (await pods('ignore')).length === 2, 'a replacement pod');
    let j = await getJob('ignore');
    assert.equal(condition(j, 'Failed'), undefined, 'not failed with backoffLimit 0');
    const second = (await pods('ignore')).find((p) => p.metadata.name !== first!.metadata.name)!;
    await finishPod(second, 0);
    await until(async () => !!condition(await getJob('ignore'), 'Complete'), 'the Job to complete');
    j = await getJob('ignore');
    assert.equal(j.status.failed ?? 0, 0);
    assert.equal(j.status.succeeded, 1);
  });

  it('fails the Job on a failure a Count rule matches once backoffLimit is passed.', async () => {
    await h.client.create(
      resources.jobs,
      ns,
      unboundJob('count', { backoffLimit: 0, podFailurePolicy: { rules: [{ action: 'Count', onExitCodes: { operator: 'NotIn', values: [0] } }] } }),
    );
    await until(async () => (await pods('count')).length === 1, 'a pod');
    const [p] = await pods('count');
    await finishPod(p!, 3);
    await until(async () => !!condition(await getJob('count'), 'Failed'), 'the Job to fail');
    const j = await getJob('count');
    assert.equal(condition(j, 'Failed').reason, 'BackoffLimitExceeded');
    assert.equal(j.status.failed, 1);
  });
});

describe('Job backoffLimitPerIndex', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await h.run(new JobController({ backoffBaseMs: 20, backoffMaxMs: 50 }));
  });
  after(async () => h.stop());

  const getJob = (name: string) => h.client.get(resources.jobs, ns, name);
  const pods = (jobName: string) => list(h.client, resources.pods, ns, `batch.kubernetes.io/job-name=${jobName}`);
  const indexOf = (p: KObject) => p.metadata.annotations['batch.kubernetes.io/job-completion-index'];
  const running = async (jobName: string, index: string) => (await pods(jobName)).find((p) => indexOf(p) === index && !['Succeeded', 'Failed'].includes(p.status?.phase));
  async function finish(pod: KObject, exitCode: number): Promise<void> {
    await h.client.patch(
      resources.pods,
      ns,
      pod.metadata.name,
      { status: { phase: exitCode ? 'Failed' : 'Succeeded', containerStatuses: [{ name: 'work', image: 'busybox', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode } } }] } },
      'merge',
      { subresource: 'status' },
    );
  }
  function indexedJob(name: string, extra: KObject): KObject {
    const j = job(name, { completionMode: 'Indexed', completions: 3, parallelism: 3, ...extra });
    delete j.spec.template.spec.nodeName;
    return j;
  }

  it('retries an index up to backoffLimitPerIndex, then marks it failed, and fails the Job with FailedIndexes once every index is done.', async () => {
    await h.client.create(resources.jobs, ns, indexedJob('perindex', { backoffLimitPerIndex: 1 }));
    await until(async () => (await pods('perindex')).length === 3, 'three pods');
    const first = (await running('perindex', '1'))!;
    assert.equal(first.metadata.annotations['batch.kubernetes.io/job-index-failure-count'], '0');
    await finish(first, 1);
    let retry: KObject | undefined;
    await until(async () => !!(retry = await running('perindex', '1')), 'a retry of index 1');
    assert.equal(retry!.metadata.annotations['batch.kubernetes.io/job-index-failure-count'], '1');
    await finish(retry!, 1);
    await until(async () => (await getJob('perindex')).status?.failedIndexes === '1', 'index 1 failed');
    assert.equal(condition(await getJob('perindex'), 'Failed'), undefined, 'the other indexes still run');
    await finish((await running('perindex', '0'))!, 0);
    await finish((await running('perindex', '2'))!, 0);
    await until(async () => !!condition(await getJob('perindex'), 'Failed'), 'the Job to fail');
    const j = await getJob('perindex');
    assert.equal(condition(j, 'Failed').reason, 'FailedIndexes');
    assert.equal(condition(j, 'Failed').message, 'Job has failed indexes');
    assert.equal(j.status.completedIndexes, '0,2');
    assert.equal(j.status.failedIndexes, '1');
    assert.equal(j.status.failed, 2);
    assert.equal(j.status.succeeded, 2);
    assert.equal((await pods('perindex')).filter((p) => indexOf(p) === '1').length, 2, 'no third try of index 1');
  });

  it('fails the Job with MaxFailedIndexesExceeded once more indexes fail than maxFailedIndexes.', async () => {
    await h.client.create(resources.jobs, ns, indexedJob('maxfailed', { backoffLimitPerIndex: 0, maxFailedIndexes: 0 }));
    await until(async () => (await pods('maxfailed')).length === 3, 'three pods');
    await finish((await running('maxfailed', '2'))!, 1);
    await until(async () => !!condition(await getJob('maxfailed'), 'Failed'), 'the Job to fail');
    const j = await getJob('maxfailed');
    assert.equal(condition(j, 'Failed').reason, 'MaxFailedIndexesExceeded');
    assert.equal(condition(j, 'Failed').message, 'Job has exceeded the specified maximal number of failed indexes');
    await until(async () => (await pods('maxfailed')).every((p) => !p.metadata.finalizers?.length), 'every finalizer released');
  });
});

describe('Job pod tracking and podFailurePolicy through kubectl', () => {
  let c: TestCluster;
  let client: RestClient;
  let nodes: HollowNodes;
  before(async () => {
    c = await startTestCluster();
    client = c.adminClient();
    nodes = await startHollowNodes({ client, count: 1, namePrefix: 'jobs-', runDurationMs: 300 });
  });
  after(async () => {
    await nodes?.stop();
    client?.close();
    await c?.stop();
  });

  const jobYaml = (name: string, exitCode: number, extra = '') =>
    `apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: ${name}\nspec:\n  backoffLimit: 6\n${extra}  template:\n    metadata:\n      annotations: {k8ts.io/hollow-exit-code: "${exitCode}"}\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        image: busybox\n`;

  it('fails a Job at the first exit code 42 under a FailJob rule, as kubectl shows.', async () => {
    const f = c.writeFile('failjob.yaml', jobYaml('failjob', 42, '  podFailurePolicy:\n    rules:\n    - action: FailJob\n      onExitCodes: {containerName: main, operator: In, values: [42]}\n'));
    await c.ok(['apply', '-f', f]);
    await c.ok(['wait', '--for=condition=failed', 'job/failjob', '--timeout=60s'], { timeoutMs: 70_000 });
    const job = JSON.parse(await c.ok(['get', 'job', 'failjob', '-o', 'json']));
    const failed = job.status.conditions.find((x: KObject) => x.type === 'Failed');
    const pods = JSON.parse(await c.ok(['get', 'pods', '-l', 'batch.kubernetes.io/job-name=failjob', '-o', 'json'])).items as KObject[];
    assert.equal(pods.length, 1, 'no retry');
    assert.equal(failed.reason, 'PodFailurePolicy');
    assert.equal(failed.message, `Container main for pod default/${pods[0]!.metadata.name} failed with exit code 42 matching FailJob rule at index 0`);
    assert.equal(job.status.failed, 1);
    assert.deepEqual(pods[0]!.metadata.finalizers ?? [], []);
  });

  it('leaves pods without the tracking finalizer after kubectl delete --cascade=orphan.', async () => {
    // Pods that run long enough to still be running when their Job goes.
    const f = c.writeFile('orphan.yaml', jobYaml('keep', 0).replace('annotations: {', 'annotations: {k8ts.io/hollow-run-duration: "60000", ').replace('backoffLimit: 6\n', 'backoffLimit: 6\n  parallelism: 2\n  completions: 2\n'));
    await c.ok(['apply', '-f', f]);
    const podsJson = async () => JSON.parse(await c.ok(['get', 'pods', '-l', 'batch.kubernetes.io/job-name=keep', '-o', 'json'])).items as KObject[];
    await eventually(async () => (await podsJson()).filter((p) => p.metadata.finalizers?.includes('batch.kubernetes.io/job-tracking')).length === 2, 20_000, 100);
    await c.ok(['delete', 'job', 'keep', '--cascade=orphan']);
    await eventually(async () => (await c.kubectl(['get', 'job', 'keep'])).code !== 0, 20_000, 100);
    await eventually(async () => (await podsJson()).every((p) => !p.metadata.finalizers?.length && !p.metadata.ownerReferences?.length), 20_000, 100);
    assert.equal((await podsJson()).length, 2, 'the pods stay, orphaned');
  });
});
