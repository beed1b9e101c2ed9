import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { ReplicaSetController } from '../../src/controllers/replicaset/replicaset-controller.js';
import { eventsFor, list, setPodReady, startHarness, template, until, type Harness } from './harness.js';

const ns = 'default';

function replicaSet(name: string, replicas: number, labels: Record<string, string>, extra: KObject = {}): KObject {
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name }, spec: { replicas, selector: { matchLabels: labels }, template: template(labels), ...extra } };
}

describe('ReplicaSet controller', () => {
  let h: Harness;
  let rsc: ReplicaSetController;
  before(async () => {
    h = await startHarness();
    rsc = new ReplicaSetController();
    await h.run(rsc);
  });
  after(async () => h.stop());

  const pods = (sel: string) => list(h.client, resources.pods, ns, sel);
  const getRS = (name: string) => h.client.get(resources.replicasets, ns, name);

  it('creates the missing pods from the template, owned by the ReplicaSet, and reports them in status.', async () => {
    const rs = await h.client.create(resources.replicasets, ns, replicaSet('web', 3, { app: 'web' }));
    await until(async () => (await pods('app=web')).length === 3, 'three pods');
    for (const p of await pods('app=web')) {
      assert.match(p.metadata.name, /^web-[a-z0-9]{5}$/);
      assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true }]);
      assert.equal(p.spec.containers[0].image, 'nginx:1.25');
    }
    await until(async () => (await getRS('web')).status?.replicas === 3, 'status.replicas 3');
    const st = (await getRS('web')).status;
    assert.equal(st.fullyLabeledReplicas, 3);
    assert.equal(st.readyReplicas ?? 0, 0);
    assert.equal(st.observedGeneration, 1);
    await until(async () => (await eventsFor(h.client, ns, 'web')).filter((e) => e.reason === 'SuccessfulCreate').length === 3, 'three SuccessfulCreate events');
    assert.match((await eventsFor(h.client, ns, 'web'))[0]!.message, /^Created pod: web-/);
  });

  it('counts ready and available pods once the kubelet reports them ready.', async () => {
    for (const p of await pods('app=web')) await setPodReady(h.client, p);
    await until(async () => (await getRS('web')).status?.availableReplicas === 3, 'three available');
    assert.equal((await getRS('web')).status.readyReplicas, 3);
  });

  it('replaces a pod that was deleted.', async () => {
    const [victim] = await pods('app=web');
    await h.client.delete(resources.pods, ns, victim!.metadata.name);
    await until(async () => {
      const ps = await pods('app=web');
      return ps.length === 3 && !ps.some((p) => p.metadata.name === victim!.metadata.name);
    }, 'a replacement pod');
  });

  it('scales down by deleting the not-ready pods first, then scales up again.', async () => {
    await until(async () => (await pods('app=web')).length === 3, 'three pods');
    const ready = (await pods('app=web')).filter((p) => p.status?.conditions?.some((c: KObject) => c.type === 'Ready' && c.status === 'True'));
    assert.equal(ready.length, 2, 'the replacement is not ready yet');
    await h.client.patch(resources.replicasets, ns, 'web', { spec: { replicas: 2 } });
    await until(async () => (await pods('app=web')).length === 2, 'two pods');
    assert.deepEqual((await pods('app=web')).map((p) => p.metadata.name).sort(), ready.map((p) => p.metadata.name).sort());
    await until(async () => (await eventsFor(h.client, ns, 'web')).some((e) => e.reason === 'SuccessfulDelete' && /^Deleted pod: web-/.test(e.message)), 'a SuccessfulDelete event');
    await h.client.patch(resources.replicasets, ns, 'web', { spec: { replicas: 5 } });
    await until(async () => (await pods('app=web')).length === 5, 'five pods');
    await until(async () => (await getRS('web')).status?.replicas === 5 && (await getRS('web')).status?.observedGeneration === 3, 'status caught up');
  });

  it('never creates more pods than asked for while a burst of syncs races the watch.', async () => {
    const created = new Set<string>();
    const watch = h.client.watch(resources.pods, ns, { labelSelector: 'app=burst' }, (ev) => {
      if (ev.type === 'ADDED') created.add(ev.object.metadata.name);
    });
    await h.client.create(resources.replicasets, ns, replicaSet('burst', 40, { app: 'burst' }));
    // Enqueue the key constantly, and churn the object, while it creates.
    const timer = setInterval(() => rsc.queue.add(`${ns}/burst`), 1);
    for (let i = 0; i < 10; i++) await h.client.patch(resources.replicasets, ns, 'burst', { metadata: { labels: { churn: String(i) } } });
    await until(async () => (await pods('app=burst')).length >= 40, '40 pods');
    await new Promise((r) => setTimeout(r, 500));
    clearInterval(timer);
    assert.equal((await pods('app=burst')).length, 40);
    assert.equal(created.size, 40, 'no pod was created and then removed as an extra');
    watch.abort();
  });

  it('adopts a matching orphan pod instead of creating another, and releases a pod whose labels stop matching.', async () => {
    const orphan = await h.client.create(resources.pods, ns, { metadata: { name: 'stray', labels: { app: 'adopt' } }, spec: { containers: [{ name: 'c', image: 'x' }] } });
    const rs = await h.client.create(resources.replicasets, ns, replicaSet('adopt', 2, { app: 'adopt' }));
    await until(async () => (await pods('app=adopt')).length === 2, 'two pods');
    const stray = await h.client.get(resources.pods, ns, 'stray');
    assert.equal(stray.metadata.uid, orphan.metadata.uid);
    assert.equal(stray.metadata.ownerReferences?.[0]?.uid, rs.metadata.uid);
    await h.client.patch(resources.pods, ns, 'stray', { metadata: { labels: { app: 'gone' } } });
    await until(async () => (await pods('app=adopt')).length === 2 && !(await h.client.get(resources.pods, ns, 'stray')).metadata.ownerReferences?.length, 'stray released and replaced');
  });

  it('reports a ReplicaFailure condition when pods cannot be created, and clears it once nothing fails.', async () => {
    // A terminating namespace refuses new pods; without a namespace controller it stays terminating.
    await h.client.create(resources.namespaces, undefined, { metadata: { name: 'doomed' } });
    await h.client.create(resources.replicasets, 'doomed', replicaSet('broken', 0, { app: 'broken' }));
    await h.client.delete(resources.namespaces, undefined, 'doomed');
    await h.client.patch(resources.replicasets, 'doomed', 'broken', { spec: { replicas: 2 } });
    const get = () => h.client.get(resources.replicasets, 'doomed', 'broken');
    const failure = async () => (await get()).status?.conditions?.find((c: KObject) => c.type === 'ReplicaFailure');
    await until(async () => (await failure())?.reason === 'FailedCreate', 'a ReplicaFailure condition');
    assert.equal((await failure()).status, 'True');
    // (The FailedCreate event cannot be written either: events are refused in that namespace too.)
    assert.match((await failure()).message, /terminat/i);
    await h.client.patch(resources.replicasets, 'doomed', 'broken', { spec: { replicas: 0 } });
    await until(async () => (await failure()) === undefined && (await get()).status?.observedGeneration === 3, 'the condition cleared');
  });
});
