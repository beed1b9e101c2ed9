import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { DeploymentController } from '../../src/controllers/deployment/deployment-controller.js';
import { ReplicaSetController } from '../../src/controllers/replicaset/replicaset-controller.js';
import { eventsFor, fakeKubelet, list, startHarness, template, until, type Harness } from './harness.js';

function deployment(name: string, replicas: number, extra: KObject = {}): KObject {
  const labels = { app: name };
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name }, spec: { replicas, selector: { matchLabels: labels }, template: template(labels), ...extra } };
}

const cond = (o: KObject, type: string) => o.status?.conditions?.find((c: KObject) => c.type === type);

describe('Deployment controller', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await h.run(new ReplicaSetController(), new DeploymentController());
  });
  after(async () => h.stop());

  const getD = (ns: string, name: string) => h.client.get(resources.deployments, ns, name);
  const rsOf = async (ns: string, name: string) => (await list(h.client, resources.replicasets, ns, `app=${name}`)).sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp) || 0);
  const ns = async (name: string) => {
    await h.client.create(resources.namespaces, undefined, { metadata: { name } });
    return name;
  };
  /** kubectl rollout status's success test. */
  const rolledOut = async (n: string, name: string) => {
    const d = await getD(n, name);
    const s = d.status ?? {};
    return d.metadata.generation <= (s.observedGeneration ?? 0) && s.updatedReplicas === d.spec.replicas && s.replicas === s.updatedReplicas && s.availableReplicas === s.updatedReplicas;
  };

  it('creates a hashed ReplicaSet with pods, and the status converges once the pods are ready.', async () => {
    const n = await ns('create');
    const kubelet = fakeKubelet(h.client, n);
    try {
      await h.client.create(resources.deployments, n, deployment('web', 3));
      await until(() => rolledOut(n, 'web'), 'the rollout to finish');
      const [rs, ...more] = await rsOf(n, 'web');
      assert.equal(more.length, 0);
      const hash = rs!.metadata.labels['pod-template-hash'];
      assert.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
      assert.equal(rs!.metadata.name, `web-${hash}`);
      assert.equal(rs!.spec.selector.matchLabels['pod-template-hash'], hash);
      assert.equal(rs!.spec.template.metadata.labels['pod-template-hash'], hash);
      assert.equal(rs!.metadata.annotations['deployment.kubernetes.io/revision'], '1');
      assert.equal(rs!.metadata.annotations['deployment.kubernetes.io/desired-replicas'], '3');
      assert.equal(rs!.metadata.annotations['deployment.kubernetes.io/max-replicas'], '4', '25% surge of 3 rounds up to 1');
      assert.equal(rs!.metadata.ownerReferences[0].kind, 'Deployment');
      assert.equal((await list(h.client, resources.pods, n, `pod-template-hash=${hash}`)).length, 3);
      await until(async () => cond(await getD(n, 'web'), 'Progressing')?.reason === 'NewReplicaSetAvailable', 'Progressing NewReplicaSetAvailable');
      const d = await getD(n, 'web');
      assert.deepEqual(
        { replicas: d.status.replicas, updated: d.status.updatedReplicas, ready: d.status.readyReplicas, available: d.status.availableReplicas, unavailable: d.status.unavailableReplicas ?? 0 },
        { replicas: 3, updated: 3, ready: 3, available: 3, unavailable: 0 },
      );
      assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '1');
      assert.equal(cond(d, 'Available').status, 'True');
      assert.equal(cond(d, 'Available').reason, 'MinimumReplicasAvailable');
      assert.equal(cond(d, 'Available').message, 'Deployment has minimum availability.');
      assert.equal(cond(d, 'Progressing').message, `ReplicaSet "${rs!.metadata.name}" has successfully progressed.`);
      await until(async () => (await eventsFor(h.client, n, 'web')).some((e) => e.reason === 'ScalingReplicaSet' && e.message === `Scaled up replica set ${rs!.metadata.name} from 0 to 3`), 'a ScalingReplicaSet event');
    } finally {
      kubelet.stop();
    }
  });

  it('rolls a template change to a new ReplicaSet without dropping below replicas minus maxUnavailable, and rolls back by reusing the old one.', async () => {
    const n = await ns('rolling');
    const kubelet = fakeKubelet(h.client, n, 30);
    try {
      await h.client.create(resources.deployments, n, deployment('web', 4, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: '25%' } } }));
      await until(() => rolledOut(n, 'web'), 'the first rollout');
      await until(() => kubelet.readyCount() === 4, 'four ready pods');
      const [v1] = await rsOf(n, 'web');

      kubelet.resetMin();
      await h.client.patch(resources.deployments, n, 'web', { spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1.26' }] } } } }, 'strategic');
      await until(async () => (await rsOf(n, 'web')).length === 2 && (await rolledOut(n, 'web')), 'the second rollout');
      assert.ok(kubelet.minReady() >= 3, `at least 3 of 4 pods stayed ready (lowest was ${kubelet.minReady()})`);
      let [old, v2] = await rsOf(n, 'web');
      assert.equal(old!.metadata.name, v1!.metadata.name);
      assert.equal(old!.spec.replicas, 0);
      assert.equal(v2!.spec.replicas, 4);
      assert.equal(v2!.metadata.annotations['deployment.kubernetes.io/revision'], '2');
      await until(async () => (await getD(n, 'web')).metadata.annotations?.['deployment.kubernetes.io/revision'] === '2', 'deployment revision 2');
      const pods = await list(h.client, resources.pods, n, 'app=web');
      assert.equal(pods.length, 4);
      assert.ok(pods.every((p) => p.spec.containers[0].image === 'nginx:1.26'));

      // kubectl rollout undo: put the old template back.
      kubelet.resetMin();
      await h.client.patch(resources.deployments, n, 'web', { spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1.25' }] } } } }, 'strategic');
      await until(async () => (await rolledOut(n, 'web')) && (await getD(n, 'web')).status.updatedReplicas === 4 && (await rsOf(n, 'web'))[0]!.spec.replicas === 4, 'the rollback');
      assert.ok(kubelet.minReady() >= 3, `rollback kept availability (lowest was ${kubelet.minReady()})`);
      const rss = await rsOf(n, 'web');
      assert.equal(rss.length, 2, 'no third ReplicaSet');
      [old, v2] = rss;
      assert.equal(old!.metadata.name, v1!.metadata.name);
      assert.equal(old!.metadata.annotations['deployment.kubernetes.io/revision'], '3');
      assert.equal(old!.metadata.annotations['deployment.kubernetes.io/revision-history'], '1');
      assert.equal(v2!.spec.replicas, 0);
      const events = await eventsFor(h.client, n, 'web');
      assert.ok(events.some((e) => e.message === `Scaled down replica set ${v2!.metadata.name} from 4 to 0` || /^Scaled down replica set /.test(e.message)));
    } finally {
      kubelet.stop();
    }
  });

  it('starts a new ReplicaSet on rollout restart, holds rollouts while paused, and prunes history beyond revisionHistoryLimit.', async () => {
    const n = await ns('restart');
    const kubelet = fakeKubelet(h.client, n);
    try {
      await h.client.create(resources.deployments, n, deployment('web', 2, { revisionHistoryLimit: 1 }));
      await until(() => rolledOut(n, 'web'), 'the first rollout');
      const restart = (at: string) =>
        h.client.patch(resources.deployments, n, 'web', { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at } } } } }, 'strategic');
      await restart('2024-01-01T00:00:00Z');
      await until(async () => (await rsOf(n, 'web')).length === 2 && (await rolledOut(n, 'web')), 'a restarted rollout');

      await h.client.patch(resources.deployments, n, 'web', { spec: { paused: true } });
      await until(async () => cond(await getD(n, 'web'), 'Progressing')?.reason === 'DeploymentPaused', 'the paused condition');
      assert.equal(cond(await getD(n, 'web'), 'Progressing').status, 'Unknown');
      await restart('2024-01-02T00:00:00Z');
      await h.client.patch(resources.deployments, n, 'web', { spec: { replicas: 3 } });
      await until(async () => (await getD(n, 'web')).status?.replicas === 3 && (await getD(n, 'web')).status?.observedGeneration === (await getD(n, 'web')).metadata.generation, 'scaled while paused');
      assert.equal((await rsOf(n, 'web')).filter((rs) => rs.spec.replicas > 0).length, 1, 'no rollout while paused');

      await h.client.patch(resources.deployments, n, 'web', { spec: { paused: false } });
      await until(async () => (await rolledOut(n, 'web')) && cond(await getD(n, 'web'), 'Progressing')?.reason === 'NewReplicaSetAvailable', 'the resumed rollout');
      // Three templates so far; with a limit of 1, only one old ReplicaSet is kept.
      await until(async () => (await rsOf(n, 'web')).length === 2, 'history pruned to one old ReplicaSet');
      const revisions = (await rsOf(n, 'web')).map((rs) => rs.metadata.annotations['deployment.kubernetes.io/revision']).sort();
      assert.deepEqual(revisions, ['2', '3']);
    } finally {
      kubelet.stop();
    }
  });

  it('with Recreate, scales the old ReplicaSet to zero before the new one gets pods.', async () => {
    const n = await ns('recreate');
    const kubelet = fakeKubelet(h.client, n);
    try {
      await h.client.create(resources.deployments, n, deployment('web', 2, { strategy: { type: 'Recreate' } }));
      await until(() => rolledOut(n, 'web'), 'the first rollout');
      let overlap = false;
      const watch = h.client.watch(resources.pods, n, {}, () => {
        void list(h.client, resources.pods, n, 'app=web').then((ps) => {
          const live = ps.filter((p) => !p.metadata.deletionTimestamp);
          if (new Set(live.map((p) => p.metadata.labels['pod-template-hash'])).size > 1) overlap = true;
        });
      });
      await h.client.patch(resources.deployments, n, 'web', { spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1.26' }] } } } }, 'strategic');
      await until(async () => (await rsOf(n, 'web')).length === 2 && (await rolledOut(n, 'web')), 'the recreate rollout');
      watch.abort();
      assert.equal(overlap, false, 'old and new pods never ran together');
    } finally {
      kubelet.stop();
    }
  });

  it('reports ProgressDeadlineExceeded when pods do not become available in time.', async () => {
    const n = await ns('stuck');
    await h.client.create(resources.deployments, n, deployment('web', 1, { progressDeadlineSeconds: 1 }));
    await until(async () => cond(await getD(n, 'web'), 'Progressing')?.reason === 'ProgressDeadlineExceeded', 'the deadline condition', 10_000);
    const d = await getD(n, 'web');
    const [rs] = await rsOf(n, 'web');
    assert.equal(cond(d, 'Progressing').status, 'False');
    assert.equal(cond(d, 'Progressing').message, `ReplicaSet "${rs!.metadata.name}" has timed out progressing.`);
    assert.equal(cond(d, 'Available').status, 'False');
    assert.equal(cond(d, 'Available').reason, 'MinimumReplicasUnavailable');
  });
});
