import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { StatefulSetController } from '../../src/controllers/statefulset/statefulset-controller.js';
import { startHollowNodes, type HollowNodes } from '../../src/kubelet/hollow.js';
import { list, startHarness, until, type Harness } from './harness.js';

const ns = 'default';

/** A StatefulSet whose pods land on `nodeName` (a hollow node runs them), or stay unbound. */
function statefulSet(name: string, replicas: number, extra: KObject = {}, nodeName?: string, image = 'nginx:1.25'): KObject {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { ...(nodeName ? { nodeName } : {}), terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image }] } },
      ...extra,
    },
  };
}

const ready = (p: KObject) => p.status?.phase === 'Running' && !!p.status?.conditions?.some((c: KObject) => c.type === 'Ready' && c.status === 'True');

/** Every pod watch event of one set, in order. */
function recordPods(h: Harness, app: string) {
  const events: { type: string; name: string; ready: boolean; deleting: boolean; rev: string }[] = [];
  const w = h.client.watch(resources.pods, ns, { labelSelector: `app=${app}` }, (ev) => {
    const p = ev.object;
    if (!p?.metadata?.name) return;
    events.push({ type: ev.type, name: p.metadata.name, ready: ready(p), deleting: !!p.metadata.deletionTimestamp, rev: p.metadata.labels?.['controller-revision-hash'] });
  });
  return { events, stop: () => w.abort() };
}

/** Names in the order they first started to go away (deletionTimestamp set or DELETED). */
function deletionOrder(events: { type: string; name: string; deleting: boolean }[], from = 0): string[] {
  const out: string[] = [];
  for (const e of events.slice(from)) if ((e.type === 'DELETED' || e.deleting) && !out.includes(e.name)) out.push(e.name);
  return out;
}

describe('StatefulSet controller', () => {
  let h: Harness;
  let nodes: HollowNodes;
  before(async () => {
    h = await startHarness();
    nodes = await startHollowNodes({ client: h.client, count: 1, runDurationMs: 300 });
    await h.run(new StatefulSetController());
  });
  after(async () => {
    await nodes.stop();
    await h.stop();
  });

  const pods = (app: string) => list(h.client, resources.pods, ns, `app=${app}`);
  const names = async (app: string) => (await pods(app)).map((p) => p.metadata.name).sort();
  const getSTS = (name: string) => h.client.get(resources.statefulsets, ns, name);
  const allReady = async (app: string, n: number) => {
    const ps = await pods(app);
    return ps.length === n && ps.every((p) => ready(p) && !p.metadata.deletionTimestamp);
  };

  let rec: ReturnType<typeof recordPods>;

  it('creates web-0, web-1 and web-2 in order, each only after the one before is Running and Ready, with stable identities.', async () => {
    rec = recordPods(h, 'web');
    const sts = await h.client.create(resources.statefulsets, ns, statefulSet('web', 3, {}, nodes.nodeNames[0]));
    await until(() => allReady('web', 3), 'three ready pods', 20_000);
    const added = rec.events.filter((e) => e.type === 'ADDED').map((e) => e.name);
    assert.deepEqual(added, ['web-0', 'web-1', 'web-2']);
    for (const [prev, next] of [['web-0', 'web-1'], ['web-1', 'web-2']] as const) {
      const at = rec.events.findIndex((e) => e.type === 'ADDED' && e.name === next);
      assert.ok(rec.events.slice(0, at).some((e) => e.name === prev && e.ready), `${next} was created only after ${prev} was seen Ready`);
    }
    await until(async () => (await getSTS('web')).status?.readyReplicas === 3, 'status.readyReplicas 3');
    const st = (await getSTS('web')).status;
    const revs = await list(h.client, resources.controllerrevisions, ns, 'app=web');
    assert.equal(revs.length, 1);
    assert.equal(revs[0]!.revision, 1);
    assert.equal(st.updateRevision, revs[0]!.metadata.name);
    assert.match(st.updateRevision, /^web-[a-z0-9]+$/);
    assert.deepEqual(
      { replicas: st.replicas, readyReplicas: st.readyReplicas, currentReplicas: st.currentReplicas, updatedReplicas: st.updatedReplicas, availableReplicas: st.availableReplicas, currentRevision: st.currentRevision, observedGeneration: st.observedGeneration, collisionCount: st.collisionCount },
      { replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 3, availableReplicas: 3, currentRevision: st.updateRevision, observedGeneration: 1, collisionCount: 0 },
    );
    for (const p of await pods('web')) {
      const ord = p.metadata.name.slice('web-'.length);
      assert.equal(p.metadata.labels['statefulset.kubernetes.io/pod-name'], p.metadata.name);
      assert.equal(p.metadata.labels['apps.kubernetes.io/pod-index'], ord);
      assert.equal(p.metadata.labels['controller-revision-hash'], st.updateRevision);
      assert.equal(p.spec.hostname, p.metadata.name);
      assert.equal(p.spec.subdomain, 'web');
      assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: sts.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    }
  });

  it('recreates a deleted pod under the same name.', async () => {
    const old = await h.client.get(resources.pods, ns, 'web-1');
    await h.client.delete(resources.pods, ns, 'web-1');
    await until(async () => {
      const p = await h.client.get(resources.pods, ns, 'web-1').catch(() => undefined);
      return !!p && p.metadata.uid !== old.metadata.uid && ready(p);
    }, 'a new, ready web-1', 20_000);
    assert.deepEqual(await names('web'), ['web-0', 'web-1', 'web-2']);
  });

  it('scales down from the highest ordinal, one pod at a time, and back up again.', async () => {
    await until(() => allReady('web', 3), 'three ready pods', 20_000);
    const from = rec.events.length;
    await h.client.patch(resources.statefulsets, ns, 'web', { spec: { replicas: 1 } });
    await until(async () => (await names('web')).join() === 'web-0', 'only web-0 left', 20_000);
    assert.deepEqual(deletionOrder(rec.events, from), ['web-2', 'web-1']);
    const gone2 = rec.events.findIndex((e, i) => i >= from && e.type === 'DELETED' && e.name === 'web-2');
    const start1 = rec.events.findIndex((e, i) => i >= from && e.name === 'web-1' && (e.deleting || e.type === 'DELETED'));
    assert.ok(gone2 >= 0 && gone2 < start1, 'web-1 was deleted only after web-2 was gone');
    await h.client.patch(resources.statefulsets, ns, 'web', { spec: { replicas: 3 } });
    await until(() => allReady('web', 3), 'three ready pods again', 20_000);
  });

  it('rolls a template change through the pods from the highest ordinal down, recording a second revision.', async () => {
    const before = (await getSTS('web')).status.updateRevision;
    const from = rec.events.length;
    await h.client.patch(resources.statefulsets, ns, 'web', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:1.26' }] } } } });
    await until(async () => {
      const st = (await getSTS('web')).status;
      return st?.updateRevision !== before && st?.currentRevision === st?.updateRevision && st?.updatedReplicas === 3 && st?.readyReplicas === 3;
    }, 'the rollout to finish', 25_000);
    assert.deepEqual(deletionOrder(rec.events, from), ['web-2', 'web-1', 'web-0']);
    const st = (await getSTS('web')).status;
    for (const p of await pods('web')) {
      assert.equal(p.spec.containers[0].image, 'nginx:1.26');
      assert.equal(p.metadata.labels['controller-revision-hash'], st.updateRevision);
    }
    const revs = (await list(h.client, resources.controllerrevisions, ns, 'app=web')).sort((a, b) => a.revision - b.revision);
    assert.deepEqual(revs.map((r) => [r.metadata.name, r.revision]), [[before, 1], [st.updateRevision, 2]]);
    assert.equal(st.observedGeneration, (await getSTS('web')).metadata.generation);
  });

  it('reuses an earlier revision, with a higher number, when the template is changed back.', async () => {
    const revs0 = (await list(h.client, resources.controllerrevisions, ns, 'app=web')).sort((a, b) => a.revision - b.revision);
    await h.client.patch(resources.statefulsets, ns, 'web', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:1.25' }] } } } });
    await until(async () => (await getSTS('web')).status?.updateRevision === revs0[0]!.metadata.name, 'the first revision back in use', 20_000);
    await until(async () => (await h.client.get(resources.controllerrevisions, ns, revs0[0]!.metadata.name)).revision === 3, 'the reused revision renumbered 3');
    await until(async () => (await getSTS('web')).status?.updatedReplicas === 3 && (await getSTS('web')).status?.readyReplicas === 3, 'rolled back', 25_000);
    assert.deepEqual((await pods('web')).map((p) => p.spec.containers[0].image), ['nginx:1.25', 'nginx:1.25', 'nginx:1.25']);
    rec.stop();
  });

  it('with OrderedReady creates only the first pod while it is not ready, and with Parallel creates them all at once.', async () => {
    // No node name: nothing runs these pods, so none becomes ready.
    await h.client.create(resources.statefulsets, ns, statefulSet('ord', 3));
    await h.client.create(resources.statefulsets, ns, statefulSet('par', 3, { podManagementPolicy: 'Parallel' }));
    await until(async () => (await names('par')).join() === 'par-0,par-1,par-2', 'three parallel pods');
    await until(async () => (await names('ord')).length === 1, 'one ordered pod');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await names('ord'), ['ord-0']);
    await h.client.patch(resources.statefulsets, ns, 'par', { spec: { replicas: 1 } });
    await until(async () => (await names('par')).join() === 'par-0', 'parallel scale-down to one');
  });

  it('honours the partition: only ordinals at or above it are updated.', async () => {
    await h.client.create(resources.statefulsets, ns, statefulSet('part', 3, { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }, nodes.nodeNames[0]));
    await until(() => allReady('part', 3), 'three ready pods', 20_000);
    await h.client.patch(resources.statefulsets, ns, 'part', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:1.26' }] } } } });
    await until(async () => (await getSTS('part')).status?.updatedReplicas === 1 && (await allReady('part', 3)), 'one updated pod', 20_000);
    await new Promise((r) => setTimeout(r, 300));
    const images = Object.fromEntries((await pods('part')).map((p) => [p.metadata.name, p.spec.containers[0].image]));
    assert.deepEqual(images, { 'part-0': 'nginx:1.25', 'part-1': 'nginx:1.25', 'part-2': 'nginx:1.26' });
    const st = (await getSTS('part')).status;
    assert.notEqual(st.currentRevision, st.updateRevision);
    assert.equal(st.currentReplicas, 2);
  });

  it('with OnDelete leaves pods alone on a template change and makes a deleted pod from the new template.', async () => {
    await h.client.create(resources.statefulsets, ns, statefulSet('ondel', 2, { updateStrategy: { type: 'OnDelete' } }, nodes.nodeNames[0]));
    await until(() => allReady('ondel', 2), 'two ready pods', 20_000);
    await h.client.patch(resources.statefulsets, ns, 'ondel', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:1.26' }] } } } });
    await until(async () => (await getSTS('ondel')).status?.observedGeneration === 2, 'generation 2 observed');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual((await pods('ondel')).map((p) => p.spec.containers[0].image), ['nginx:1.25', 'nginx:1.25']);
    await h.client.delete(resources.pods, ns, 'ondel-0');
    await until(async () => {
      const p = await h.client.get(resources.pods, ns, 'ondel-0').catch(() => undefined);
      return p?.spec.containers[0].image === 'nginx:1.26';
    }, 'ondel-0 from the new template', 20_000);
    assert.equal((await h.client.get(resources.pods, ns, 'ondel-1')).spec.containers[0].image, 'nginx:1.25');
  });
});
