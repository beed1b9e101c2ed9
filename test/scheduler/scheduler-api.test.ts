/**
 * The scheduler component against a real API server: bindings, PodScheduled conditions, events,
 * requeueing on cluster changes, taints and selectors, preemption, capacity under load, restarts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logger } from '../../src/base/log.js';
import { resources, type KObject } from '../../src/client/index.js';
import { ApiClusterSource } from '../../src/scheduler/app.js';
import { condition, startSchedulerCluster, until, type PodOpts } from './cluster.js';

const bound = (p: KObject): boolean => !!p.spec?.nodeName;

test('A pod is bound to a node, with PodScheduled=True and a Scheduled event.', async () => {
  const c = await startSchedulerCluster();
  try {
    await c.createNode('node-a');
    const created = await c.createPod('web', { cpu: '100m' });
    const pod = await until(async () => {
      const p = await c.getPod('web');
      return bound(p) && p;
    }, 'web to be bound');
    assert.equal(pod.spec.nodeName, 'node-a');
    assert.equal(pod.metadata.uid, created.metadata.uid);
    assert.equal(condition(pod, 'PodScheduled')?.status, 'True');
    const events = await until(async () => {
      const evs = await c.eventsFor('web');
      return evs.length > 0 && evs;
    }, 'a Scheduled event');
    assert.deepEqual(
      events.map((e) => [e.type, e.reason, e.message, e.source?.component]),
      [['Normal', 'Scheduled', 'Successfully assigned default/web to node-a', 'default-scheduler']],
    );
  } finally {
    await c.stop();
  }
});

test('A pod that fits nowhere gets PodScheduled=False and FailedScheduling, then is scheduled when a node with room is added.', async () => {
  const c = await startSchedulerCluster();
  try {
    await c.createNode('small-1', { cpu: '1' });
    await c.createNode('small-2', { cpu: '1' });
    await c.createPod('big', { cpu: '2' });
    const want =
      '0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.';
    const pod = await until(async () => {
      const p = await c.getPod('big');
      return condition(p, 'PodScheduled')?.status === 'False' && p;
    }, 'PodScheduled=False on big');
    const cond = condition(pod, 'PodScheduled')!;
    assert.deepEqual([cond.reason, cond.message], ['Unschedulable', want]);
    assert.equal(pod.spec.nodeName, undefined);
    const failed = await until(async () => (await c.eventsFor('big')).find((e) => e.reason === 'FailedScheduling'), 'a FailedScheduling event');
    assert.deepEqual([failed.type, failed.message], ['Warning', want]);

    await c.createNode('large', { cpu: '4' });
    const after = await until(async () => {
      const p = await c.getPod('big');
      return bound(p) && p;
    }, 'big to be bound after a node was added');
    assert.equal(after.spec.nodeName, 'large');
    assert.equal(condition(after, 'PodScheduled')?.status, 'True');
  } finally {
    await c.stop();
  }
});

test('Taints, tolerations and node selectors decide placement end to end.', async () => {
  const c = await startSchedulerCluster();
  try {
    const taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
    await c.createNode('gpu', { labels: { accel: 'gpu' }, taints: [taint] });
    await c.createNode('ssd', { labels: { disk: 'ssd' } });
    await c.createNode('plain');
    const toleration = { key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' };
    const cases: { name: string; opts: PodOpts; node: string }[] = [
      { name: 'wants-ssd', opts: { nodeSelector: { disk: 'ssd' } }, node: 'ssd' },
      { name: 'wants-gpu-tolerates', opts: { nodeSelector: { accel: 'gpu' }, tolerations: [toleration] }, node: 'gpu' },
    ];
    for (const tc of cases) await c.createPod(tc.name, tc.opts);
    await c.createPod('wants-gpu-intolerant', { nodeSelector: { accel: 'gpu' } });
    for (const tc of cases) {
      const p = await until(async () => {
        const x = await c.getPod(tc.name);
        return bound(x) && x;
      }, `${tc.name} to be bound`);
      assert.equal(p.spec.nodeName, tc.node, tc.name);
    }
    const p = await until(async () => {
      const x = await c.getPod('wants-gpu-intolerant');
      return condition(x, 'PodScheduled')?.status === 'False' && x;
    }, 'wants-gpu-intolerant to be reported unschedulable');
    assert.equal(
      condition(p, 'PodScheduled')!.message,
      "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector. " +
        'preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.',
    );
  } finally {
    await c.stop();
  }
});

test('Preemption nominates the node, marks and deletes the victim, and binds the preemptor once the victim is gone.', async () => {
  const c = await startSchedulerCluster();
  try {
    await c.createNode('only', { cpu: '1' });
    await c.createPod('victim', { cpu: '800m' });
    await until(async () => bound(await c.getPod('victim')), 'victim to be bound');
    await c.createPod('vip', { cpu: '800m', priorityClassName: 'system-cluster-critical' });
    const vip = await until(async () => {
      const p = await c.getPod('vip');
      return p.status?.nominatedNodeName === 'only' && p;
    }, 'vip to be nominated to the node');
    assert.equal(condition(vip, 'PodScheduled')?.status, 'False');
    // Bound pods get a grace period; with no kubelet the victim lingers as terminating.
    const victim = await until(async () => {
      const p = await c.getPod('victim');
      return p.metadata.deletionTimestamp && p;
    }, 'victim to be terminating');
    assert.equal(condition(victim, 'DisruptionTarget')?.reason, 'PreemptionByScheduler');
    const preempted = await until(async () => (await c.eventsFor('victim')).find((e) => e.reason === 'Preempted'), 'a Preempted event');
    assert.equal(preempted.message, `Preempted by pod ${vip.metadata.uid} on node only`);
    assert.equal((await c.getPod('vip')).spec.nodeName, undefined, 'vip waits while the victim terminates');

    await c.client.delete(resources.pods, 'default', 'victim', { gracePeriodSeconds: 0 });
    const after = await until(async () => {
      const p = await c.getPod('vip');
      return bound(p) && p;
    }, 'vip to be bound');
    assert.equal(after.spec.nodeName, 'only');
  } finally {
    await c.stop();
  }
});

test('Two hundred pods across twenty nodes are all bound, and no node gets more pods than it allows.', async () => {
  const c = await startSchedulerCluster();
  try {
    for (let i = 0; i < 20; i++) await c.createNode(`n${i}`, { pods: 10 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => c.createPod(`p${i}`, { cpu: '10m', memory: '16Mi' })));
    const pods = await until(async () => {
      const items = (await c.client.list(resources.pods, 'default')).items as KObject[];
      return items.length === 200 && items.every(bound) && items;
    }, 'all 200 pods to be bound', 30_000);
    const perNode = new Map<string, number>();
    for (const p of pods) perNode.set(p.spec.nodeName, (perNode.get(p.spec.nodeName) ?? 0) + 1);
    assert.equal(perNode.size, 20);
    assert.ok([...perNode.values()].every((n) => n === 10), JSON.stringify(Object.fromEntries(perNode)));
    // One more has nowhere to go.
    await c.createPod('extra', { cpu: '10m' });
    const extra = await until(async () => {
      const p = await c.getPod('extra');
      return condition(p, 'PodScheduled')?.status === 'False' && p;
    }, 'extra to be reported unschedulable');
    assert.match(condition(extra, 'PodScheduled')!.message, /^0\/20 nodes are available: 20 Too many pods\./);
  } finally {
    await c.stop();
  }
});

test('The component can be stopped and started again, and start and stop are idempotent.', async () => {
  const c = await startSchedulerCluster();
  try {
    await c.createNode('node-a');
    await c.createPod('first');
    await until(async () => bound(await c.getPod('first')), 'first to be bound');
    await Promise.all([c.scheduler.stop(), c.scheduler.stop()]);
    assert.equal(c.scheduler.scheduler, null);

    await c.createPod('while-stopped');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await c.getPod('while-stopped')).spec.nodeName, undefined, 'nothing schedules while stopped');

    await c.scheduler.start(c.ctx);
    await c.scheduler.start(c.ctx);
    await until(async () => bound(await c.getPod('while-stopped')), 'while-stopped to be bound after restart');
    // The restarted scheduler counted the pod bound before the restart.
    assert.equal(c.scheduler.scheduler!.cache.snapshot.get('node-a')?.pods.length, 2);
  } finally {
    await c.stop();
  }
});

test('Pods for another scheduler are left alone.', async () => {
  const c = await startSchedulerCluster();
  try {
    await c.createNode('node-a');
    await c.createPod('other', { schedulerName: 'my-scheduler' });
    await c.createPod('mine');
    await until(async () => bound(await c.getPod('mine')), 'mine to be bound');
    const other = await c.getPod('other');
    assert.equal(other.spec.nodeName, undefined);
    assert.equal(condition(other, 'PodScheduled'), undefined);
  } finally {
    await c.stop();
  }
});

test('The API source treats a pod already bound as done, and does not rewrite an unchanged PodScheduled condition.', async () => {
  const c = await startSchedulerCluster({ startScheduler: false });
  try {
    const f = c.ctx.informers;
    const informers = {
      nodes: f.forResource<any>(resources.nodes),
      pods: f.forResource<any>(resources.pods),
      namespaces: f.forResource(resources.namespaces),
      pdbs: f.forResource<any>(resources.poddisruptionbudgets),
    };
    f.start();
    assert.ok(await f.waitForCacheSync({ timeoutMs: 10_000 }));
    const source = new ApiClusterSource(c.client, informers, c.ctx.recorder('default-scheduler'), logger('test'));
    await c.createNode('node-a');
    await c.createNode('node-b');

    const pod = await c.createPod('taken');
    await c.client.send('POST', c.client.path(resources.pods, 'default', 'taken', 'binding'), {
      apiVersion: 'v1', kind: 'Binding', metadata: { name: 'taken' }, target: { kind: 'Node', name: 'node-a' },
    });
    await source.bind(pod, 'node-b');
    assert.equal((await c.getPod('taken')).spec.nodeName, 'node-a');
    // A binding for a pod that was replaced under the same name is refused.
    await c.client.delete(resources.pods, 'default', 'taken', { gracePeriodSeconds: 0 });
    await c.createPod('taken');
    await assert.rejects(source.bind(pod, 'node-b'), /UID/);

    const waiting = await c.createPod('waiting');
    await until(() => informers.pods.lister.get('default', 'waiting'), 'the informer to see waiting');
    const failure = { reason: 'Unschedulable' as const, message: '0/2 nodes are available: 2 Insufficient cpu.' };
    await source.recordFailure(waiting, failure);
    const first = await c.getPod('waiting');
    assert.equal(condition(first, 'PodScheduled')?.message, failure.message);
    await until(() => informers.pods.lister.get('default', 'waiting')?.metadata.resourceVersion === first.metadata.resourceVersion, 'the informer to see the patch');
    await source.recordFailure(waiting, failure);
    assert.equal((await c.getPod('waiting')).metadata.resourceVersion, first.metadata.resourceVersion);
    await source.recordFailure(waiting, { ...failure, nominatedNodeName: 'node-b' });
    assert.equal((await c.getPod('waiting')).status.nominatedNodeName, 'node-b');
  } finally {
    await c.stop();
  }
});
