import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { GarbageCollector } from '../../src/controllers/garbagecollector/garbage-collector.js';
import { StatefulSetController } from '../../src/controllers/statefulset/statefulset-controller.js';
import { PersistentVolumeController } from '../../src/controllers/volume/persistentvolume/pv-controller.js';
import { PVCProtectionController, PVProtectionController } from '../../src/controllers/volume/persistentvolume/protection-controller.js';
import { startHollowNodes, type HollowNodes } from '../../src/kubelet/hollow.js';
import { list, startHarness, until, type Harness } from './harness.js';

const ns = 'default';

function statefulSet(name: string, replicas: number, nodeName: string, extra: KObject = {}): KObject {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { nodeName, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'nginx:1.25', volumeMounts: [{ name: 'data', mountPath: '/data' }] }] } },
      volumeClaimTemplates: [{ metadata: { name: 'data', labels: { tier: 'db' } }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: name, resources: { requests: { storage: '1Gi' } } } }],
      ...extra,
    },
  };
}
const volume = (name: string, cls: string): KObject => ({
  metadata: { name },
  spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: cls, hostPath: { path: `/tmp/${name}` } },
});

describe('StatefulSet volumeClaimTemplates', () => {
  let h: Harness;
  let nodes: HollowNodes;
  before(async () => {
    h = await startHarness();
    nodes = await startHollowNodes({ client: h.client, count: 1, runDurationMs: 300 });
    await h.run(new StatefulSetController(), new PersistentVolumeController({ resyncMs: 0 }), new PVCProtectionController(), new PVProtectionController(), new GarbageCollector({ resources: undefined }));
  });
  after(async () => {
    await nodes.stop();
    await h.stop();
  });

  const claims = (app: string) => list(h.client, resources.persistentvolumeclaims, ns, `app=${app}`);
  const claimNames = async (app: string) => (await claims(app)).map((c) => c.metadata.name).sort();
  const getPVC = (n: string) => h.client.get(resources.persistentvolumeclaims, ns, n);
  const ready = (p: KObject) => p.status?.phase === 'Running' && !!p.status?.conditions?.some((c: KObject) => c.type === 'Ready' && c.status === 'True');

  it('creates data-web-0 and data-web-1 before their pods, bound to pre-created volumes and mounted by name', async () => {
    await h.client.create(resources.persistentvolumes, undefined, volume('web-a', 'web'));
    await h.client.create(resources.persistentvolumes, undefined, volume('web-b', 'web'));
    await h.client.create(resources.statefulsets, ns, statefulSet('web', 2, nodes.nodeNames[0]!));
    await until(async () => (await list(h.client, resources.pods, ns, 'app=web')).filter(ready).length === 2, 'two ready pods', 20_000);
    assert.deepEqual(await claimNames('web'), ['data-web-0', 'data-web-1']);
    for (const ord of [0, 1]) {
      const pod = await h.client.get(resources.pods, ns, `web-${ord}`);
      const pvc = await getPVC(`data-web-${ord}`);
      assert.deepEqual(pod.spec.volumes.find((v: KObject) => v.name === 'data'), { name: 'data', persistentVolumeClaim: { claimName: `data-web-${ord}` } });
      assert.ok(Date.parse(pvc.metadata.creationTimestamp) <= Date.parse(pod.metadata.creationTimestamp), 'the claim is no younger than its pod');
      assert.deepEqual(pvc.metadata.labels, { tier: 'db', app: 'web' });
      assert.equal(pvc.metadata.ownerReferences, undefined, 'Retain/Retain sets no owners');
    }
    await until(async () => (await claims('web')).every((c) => c.status?.phase === 'Bound'), 'claims Bound');
    assert.deepEqual((await claims('web')).map((c) => c.spec.volumeName).sort(), ['web-a', 'web-b']);
  });

  it('reuses an existing claim and keeps claims of scaled-away pods under the default Retain policy', async () => {
    const pre = await h.client.create(resources.persistentvolumeclaims, ns, {
      metadata: { name: 'data-keep-0', labels: { app: 'keep', mine: 'yes' } },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'keep', resources: { requests: { storage: '1Gi' } } },
    });
    await h.client.create(resources.statefulsets, ns, statefulSet('keep', 2, nodes.nodeNames[0]!, { podManagementPolicy: 'Parallel' }));
    await until(async () => (await claimNames('keep')).length === 2, 'two claims');
    assert.equal((await getPVC('data-keep-0')).metadata.uid, pre.metadata.uid, 'the claim was reused');
    await until(async () => (await list(h.client, resources.pods, ns, 'app=keep')).filter(ready).length === 2, 'two ready pods', 20_000);
    await h.client.patch(resources.statefulsets, ns, 'keep', { spec: { replicas: 1 } }, 'merge');
    await until(async () => (await list(h.client, resources.pods, ns, 'app=keep')).length === 1, 'one pod left', 20_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await claimNames('keep'), ['data-keep-0', 'data-keep-1']);
  });

  it('deletes the claims of scaled-away pods with whenScaled Delete and all claims with the set under whenDeleted Delete', async () => {
    await h.client.create(
      resources.statefulsets,
      ns,
      statefulSet('drop', 2, nodes.nodeNames[0]!, { podManagementPolicy: 'Parallel', persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Delete' } }),
    );
    await until(async () => (await list(h.client, resources.pods, ns, 'app=drop')).filter(ready).length === 2, 'two ready pods', 20_000);
    const sts = await h.client.get(resources.statefulsets, ns, 'drop');
    for (const c of await claims('drop')) assert.deepEqual(c.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'drop', uid: sts.metadata.uid }]);
    await h.client.patch(resources.statefulsets, ns, 'drop', { spec: { replicas: 1 } }, 'merge');
    await until(async () => (await claimNames('drop')).join() === 'data-drop-0', () => 'data-drop-1 deleted with its pod', 20_000);
    await h.client.delete(resources.statefulsets, ns, 'drop', { propagationPolicy: 'Background' });
    await until(async () => (await claimNames('drop')).length === 0, 'claims deleted with the set', 20_000);
  });
});
