import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { DeploymentController } from '../../src/controllers/deployment/deployment-controller.js';
import { GarbageCollector } from '../../src/controllers/garbagecollector/garbage-collector.js';
import { ReplicaSetController } from '../../src/controllers/replicaset/replicaset-controller.js';
import { list, startHarness, template, until, type Harness } from './harness.js';

const exists = (p: Promise<unknown>) =>
  p.then(
    () => true,
    (e) => (e?.code === 404 ? false : Promise.reject(e)),
  );

describe('Garbage collector with the workload controllers', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await h.run(new ReplicaSetController(), new DeploymentController(), new GarbageCollector());
  });
  after(async () => h.stop());

  it('deletes the ReplicaSet and its pods once their Deployment is deleted.', async () => {
    const labels = { app: 'gc' };
    await h.client.create(resources.deployments, 'default', { metadata: { name: 'gc' }, spec: { replicas: 2, selector: { matchLabels: labels }, template: template(labels) } });
    await until(async () => (await list(h.client, resources.pods, 'default', 'app=gc')).length === 2, 'two pods');
    assert.equal((await list(h.client, resources.replicasets, 'default', 'app=gc')).length, 1);
    await h.client.delete(resources.deployments, 'default', 'gc', { propagationPolicy: 'Background' });
    await until(async () => (await list(h.client, resources.replicasets, 'default', 'app=gc')).length === 0, 'the ReplicaSet deleted');
    await until(async () => (await list(h.client, resources.pods, 'default', 'app=gc')).length === 0, 'the pods deleted');
  });
});

describe('Garbage collector on its own', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await h.run(new GarbageCollector());
  });
  after(async () => h.stop());

  const owner = async (name: string, finalizers: string[]) =>
    h.client.create(resources.deployments, 'default', {
      metadata: { name, finalizers },
      spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: template({ app: name }) },
    });
  const ref = (o: KObject, block: boolean) => ({ apiVersion: 'apps/v1', kind: 'Deployment', name: o.metadata.name, uid: o.metadata.uid, blockOwnerDeletion: block });
  const pod = (name: string, refs: KObject[], finalizers?: string[]) =>
    h.client.create(resources.pods, 'default', { metadata: { name, ownerReferences: refs, ...(finalizers ? { finalizers } : {}) }, spec: { containers: [{ name: 'c', image: 'x' }] } });
  const getPod = (name: string) => h.client.get(resources.pods, 'default', name);

  it('in the foreground, deletes the dependents and holds the owner until blocking dependents are gone.', async () => {
    const o = await owner('fg', ['foregroundDeletion']);
    await pod('fg-blocking', [ref(o, true)], ['test.k8ts.io/hold']);
    await pod('fg-free', [ref(o, false)]);
    await h.client.delete(resources.deployments, 'default', 'fg');
    await until(async () => !(await exists(getPod('fg-free'))), 'the non-blocking dependent deleted');
    await until(async () => !!(await getPod('fg-blocking')).metadata.deletionTimestamp, 'the blocking dependent being deleted');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await h.client.get(resources.deployments, 'default', 'fg')).metadata.finalizers.includes('foregroundDeletion'), 'the owner waits');
    await h.client.patch(resources.pods, 'default', 'fg-blocking', { metadata: { finalizers: null } });
    await until(async () => !(await exists(h.client.get(resources.deployments, 'default', 'fg'))), 'the owner deleted');
  });

  it('orphans the dependents: they lose the owner reference and survive, then the owner goes.', async () => {
    const o = await owner('orph', ['orphan']);
    await pod('orph-a', [ref(o, true)]);
    await pod('orph-b', [ref(o, false)]);
    await h.client.delete(resources.deployments, 'default', 'orph');
    await until(async () => !(await exists(h.client.get(resources.deployments, 'default', 'orph'))), 'the owner deleted');
    for (const n of ['orph-a', 'orph-b']) assert.equal((await getPod(n)).metadata.ownerReferences, undefined, n);
  });

  it('removes a reference to a vanished owner but keeps an object that still has a live owner.', async () => {
    const live = await owner('live', []);
    const ghost = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'ghost', uid: '00000000-0000-0000-0000-000000000000' };
    await pod('two-owners', [ref(live, false), ghost]);
    await pod('only-ghost', [ghost]);
    await until(async () => !(await exists(getPod('only-ghost'))), 'the orphan deleted');
    await until(async () => (await getPod('two-owners')).metadata.ownerReferences?.length === 1, 'the dangling reference removed');
    assert.equal((await getPod('two-owners')).metadata.ownerReferences[0].uid, live.metadata.uid);
  });

  it('keeps an object whose owner exists.', async () => {
    const o = await owner('fresh', []);
    await pod('fresh-dep', [ref(o, true)]);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(await exists(getPod('fresh-dep')));
  });
});
