import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { DeploymentController } from '../../src/controllers/deployment/deployment-controller.js';
import { DisruptionController } from '../../src/controllers/disruption/disruption-controller.js';
import { ReplicaSetController } from '../../src/controllers/replicaset/replicaset-controller.js';
import { eventsFor, list, setPodReady, startHarness, template, until, type Harness } from './harness.js';

const ns = 'default';
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function pdb(name: string, labels: Record<string, string>, spec: KObject): KObject {
  return { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name }, spec: { selector: { matchLabels: labels }, ...spec } };
}

describe('Disruption controller', () => {
  let h: Harness;
  let offsetMs = 0;
  before(async () => {
    h = await startHarness();
    await h.run(new ReplicaSetController(), new DeploymentController(), new DisruptionController({ now: () => Date.now() + offsetMs }));
  });
  after(async () => h.stop());

  const pods = (sel: string) => list(h.client, resources.pods, ns, sel);
  const getPdb = (name: string) => h.client.get(resources.poddisruptionbudgets, ns, name);
  const condition = (p: KObject) => (p.status?.conditions ?? []).find((c: KObject) => c.type === 'DisruptionAllowed');
  /** Wait until the PDB's status has these fields. */
  const statusIs = (name: string, want: KObject) =>
    until(
      async () => {
        const st = (await getPdb(name)).status ?? {};
        return Object.entries(want).every(([k, v]) => isDeepStrictEqual(st[k], v));
      },
      `${name} status ${JSON.stringify(want)}`,
    ).catch(async (e) => {
      throw new Error(`${e.message}; have ${JSON.stringify((await getPdb(name)).status)}`);
    });

  it('fills in the status of a minAvailable PDB over a ReplicaSet with ready pods, with a True condition.', async () => {
    await h.client.create(resources.replicasets, ns, { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web' }, spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: template({ app: 'web' }) } });
    await until(async () => (await pods('app=web')).length === 3, 'three pods');
    for (const p of await pods('app=web')) await setPodReady(h.client, p);
    await h.client.create(resources.poddisruptionbudgets, ns, pdb('web', { app: 'web' }, { minAvailable: 2 }));
    await statusIs('web', { observedGeneration: 1, expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1 });
    const st = (await getPdb('web')).status;
    assert.equal(st.disruptedPods, undefined);
    const c = condition(await getPdb('web'));
    assert.equal(c.status, 'True');
    assert.equal(c.reason, 'SufficientPods');
    assert.equal(c.observedGeneration, 1);
    assert.ok(Date.parse(c.lastTransitionTime) > 0);
    // Nothing changed: the status is not written again.
    const rv = (await getPdb('web')).metadata.resourceVersion;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await getPdb('web')).metadata.resourceVersion, rv);
  });

  it('drops disruptionsAllowed to 0 with an InsufficientPods condition when a pod turns not ready, and recovers.', async () => {
    const [victim] = await pods('app=web');
    await setPodReady(h.client, victim!, false);
    await statusIs('web', { currentHealthy: 2, disruptionsAllowed: 0 });
    const c = condition(await getPdb('web'));
    assert.deepEqual([c.status, c.reason], ['False', 'InsufficientPods']);
    await setPodReady(h.client, victim!, true);
    await statusIs('web', { currentHealthy: 3, disruptionsAllowed: 1 });
    assert.equal(condition(await getPdb('web')).reason, 'SufficientPods');
  });

  it('follows a spec change: the new generation is observed and minAvailable 3 allows nothing.', async () => {
    await h.client.patch(resources.poddisruptionbudgets, ns, 'web', { spec: { minAvailable: 3 } });
    await statusIs('web', { observedGeneration: 2, desiredHealthy: 3, disruptionsAllowed: 0 });
    assert.equal(condition(await getPdb('web')).observedGeneration, 2);
  });

  it('counts a pod recorded in disruptedPods as unhealthy, and drops the entry when the pod goes or after two minutes.', async () => {
    await h.client.patch(resources.poddisruptionbudgets, ns, 'web', { spec: { minAvailable: 1 } });
    await statusIs('web', { observedGeneration: 3, currentHealthy: 3, disruptionsAllowed: 2 });
    const [a, b] = await pods('app=web');
    // Play the eviction API: record two evictions and spend two disruptions.
    const now = rfc3339(Date.now());
    const cur = await getPdb('web');
    await h.client.update(resources.poddisruptionbudgets, { ...cur, status: { ...cur.status, disruptionsAllowed: 0, disruptedPods: { [a!.metadata.name]: now, [b!.metadata.name]: now } } }, 'status');
    await statusIs('web', { currentHealthy: 1, disruptionsAllowed: 0, disruptedPods: { [a!.metadata.name]: now, [b!.metadata.name]: now } });
    // The evicted pod is deleted: its entry goes (the ReplicaSet replaces it with a pod not yet ready).
    await h.client.delete(resources.pods, ns, a!.metadata.name);
    await statusIs('web', { currentHealthy: 1, disruptedPods: { [b!.metadata.name]: now } });
    // The other was never deleted: once two minutes have passed the record expires and it counts again.
    offsetMs = 3 * 60_000;
    try {
      await h.client.patch(resources.poddisruptionbudgets, ns, 'web', { metadata: { labels: { touched: 'yes' } } });
      await statusIs('web', { currentHealthy: 2, disruptionsAllowed: 1 });
      assert.equal((await getPdb('web')).status.disruptedPods, undefined);
      await until(async () => (await eventsFor(h.client, ns, b!.metadata.name)).some((e) => e.reason === 'NotDeleted'), 'a NotDeleted event on the pod');
    } finally {
      offsetMs = 0;
    }
  });

  it('takes expectedPods of a maxUnavailable PDB from the Deployment’s replicas, following a scale.', async () => {
    await h.client.create(resources.deployments, ns, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api' }, spec: { replicas: 2, selector: { matchLabels: { app: 'api' } }, template: template({ app: 'api' }) } });
    await until(async () => (await pods('app=api')).length === 2, 'two pods');
    for (const p of await pods('app=api')) await setPodReady(h.client, p);
    await h.client.create(resources.poddisruptionbudgets, ns, pdb('api', { app: 'api' }, { maxUnavailable: 1 }));
    await statusIs('api', { expectedPods: 2, desiredHealthy: 1, currentHealthy: 2, disruptionsAllowed: 1 });
    await h.client.patch(resources.deployments, ns, 'api', { spec: { replicas: 4 } });
    // The new pods are not ready yet: expected follows the Deployment at once.
    await statusIs('api', { expectedPods: 4, desiredHealthy: 3, currentHealthy: 2, disruptionsAllowed: 0 });
    await until(async () => (await pods('app=api')).length === 4, 'four pods');
    for (const p of await pods('app=api')) await setPodReady(h.client, p);
    await statusIs('api', { expectedPods: 4, desiredHealthy: 3, currentHealthy: 4, disruptionsAllowed: 1 });
  });

  it('rounds a percentage minAvailable up against the controller scale.', async () => {
    await h.client.create(resources.poddisruptionbudgets, ns, pdb('api-pct', { app: 'api' }, { minAvailable: '30%' }));
    await statusIs('api-pct', { expectedPods: 4, desiredHealthy: 2, currentHealthy: 4, disruptionsAllowed: 2 });
  });

  it('fails safe when a pod’s controller cannot be found: no disruptions, SyncFailed, and a warning event.', async () => {
    await h.client.create(resources.pods, ns, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'orphan', labels: { app: 'orphan' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'missing', uid: '00000000-0000-0000-0000-000000000001', controller: true }] },
      spec: { containers: [{ name: 'c', image: 'nginx:1.25' }] },
    });
    await setPodReady(h.client, await h.client.get(resources.pods, ns, 'orphan'));
    await h.client.create(resources.poddisruptionbudgets, ns, pdb('orphan', { app: 'orphan' }, { maxUnavailable: '50%' }));
    await until(async () => condition(await getPdb('orphan'))?.reason === 'SyncFailed', 'a SyncFailed condition');
    const p = await getPdb('orphan');
    assert.equal(p.status.disruptionsAllowed, 0);
    assert.equal(condition(p).status, 'False');
    assert.equal(condition(p).message, 'found no controllers for pod "orphan"');
    // The same failure again is not written again.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await getPdb('orphan')).metadata.resourceVersion, p.metadata.resourceVersion);
    await until(async () => (await eventsFor(h.client, ns, 'orphan')).some((e) => e.reason === 'CalculateExpectedPodCountFailed' && e.type === 'Warning'), 'a CalculateExpectedPodCountFailed event');
    const ev = (await eventsFor(h.client, ns, 'orphan')).find((e) => e.reason === 'CalculateExpectedPodCountFailed')!;
    assert.equal(ev.involvedObject.kind, 'PodDisruptionBudget');
    assert.equal(ev.message, 'Failed to calculate the number of expected pods: found no controllers for pod "orphan"');
  });

  it('asks the /scale subresource for other owners, and fails safe for a kind without one.', async () => {
    const bare = (name: string, app: string, owner: KObject) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { app }, ownerReferences: [{ ...owner, controller: true }] },
      spec: { containers: [{ name: 'c', image: 'nginx:1.25' }] },
    });
    const deploy = await h.client.get(resources.deployments, ns, 'api');
    await h.client.create(resources.pods, ns, bare('direct', 'direct', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api', uid: deploy.metadata.uid }));
    await h.client.create(resources.poddisruptionbudgets, ns, pdb('direct', { app: 'direct' }, { maxUnavailable: 0 }));
    await statusIs('direct', { expectedPods: 4, desiredHealthy: 4, currentHealthy: 0, disruptionsAllowed: 0 });
    assert.equal(condition(await getPdb('direct')).reason, 'InsufficientPods');

    await h.client.create(resources.pods, ns, bare('daemon', 'daemon', { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds', uid: '00000000-0000-0000-0000-000000000002' }));
    await h.client.create(resources.poddisruptionbudgets, ns, pdb('daemon', { app: 'daemon' }, { minAvailable: '50%' }));
    await until(async () => condition(await getPdb('daemon'))?.reason === 'SyncFailed', 'a SyncFailed condition');
    assert.equal(condition(await getPdb('daemon')).message, 'daemonsets.apps does not implement the scale subresource');
  });

  it('resets a DisruptionTarget condition left on a pod that was not deleted within two minutes.', async () => {
    const [p] = await pods('app=api');
    const conditions = [...(p!.status?.conditions ?? []), { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting', lastTransitionTime: rfc3339(Date.now()) }];
    const disruption = async () => ((await h.client.get(resources.pods, ns, p!.metadata.name)).status?.conditions ?? []).find((c: KObject) => c.type === 'DisruptionTarget');
    await h.client.patch(resources.pods, ns, p!.metadata.name, { status: { conditions } }, 'merge', { subresource: 'status' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await disruption())?.status, 'True', 'a fresh condition stays');
    offsetMs = 3 * 60_000;
    try {
      await h.client.patch(resources.pods, ns, p!.metadata.name, { metadata: { labels: { touched: 'yes' } } });
      await until(async () => (await disruption())?.status === 'False', 'the DisruptionTarget condition to be False');
      assert.equal((await disruption())?.reason, undefined);
      assert.ok(((await h.client.get(resources.pods, ns, p!.metadata.name)).status.conditions as KObject[]).some((c) => c.type === 'Ready' && c.status === 'True'), 'other conditions are kept');
    } finally {
      offsetMs = 0;
    }
  });

  it('matches every pod of the namespace with an empty selector, and counts pods without a controller for an integer minAvailable.', async () => {
    await h.client.create(resources.poddisruptionbudgets, ns, { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'all' }, spec: { selector: {}, minAvailable: 1 } });
    const total = (await list(h.client, resources.pods, ns)).filter((p) => !p.metadata.deletionTimestamp).length;
    await until(async () => (await getPdb('all')).status?.expectedPods === total, `expectedPods ${total}`);
    assert.equal(condition(await getPdb('all')).reason, 'SufficientPods');
  });
});
