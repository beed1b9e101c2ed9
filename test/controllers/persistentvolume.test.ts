import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { ResourceQuotaController } from '../../src/controllers/resourcequota/resourcequota-controller.js';
import { EphemeralVolumeController } from '../../src/controllers/volume/ephemeral/ephemeral-controller.js';
import { GarbageCollector } from '../../src/controllers/garbagecollector/garbage-collector.js';
import { PersistentVolumeController } from '../../src/controllers/volume/persistentvolume/pv-controller.js';
import { PVCProtectionController, PVProtectionController } from '../../src/controllers/volume/persistentvolume/protection-controller.js';
import { startHarness, until, type Harness } from './harness.js';

const ns = 'default';

function volume(name: string, storage: string, extra: KObject = {}): KObject {
  return { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name }, spec: { capacity: { storage }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/data/${name}` }, ...extra } };
}
function claim(name: string, storage: string, extra: KObject = {}): KObject {
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage } }, storageClassName: '', ...extra } };
}

describe('PersistentVolume binder and protection controllers', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await h.run(new PersistentVolumeController({ resyncMs: 0 }), new PVCProtectionController(), new PVProtectionController());
  });
  after(async () => {
    await h.stop();
  });

  const getPV = (n: string) => h.client.get(resources.persistentvolumes, '', n);
  const getPVC = (n: string) => h.client.get(resources.persistentvolumeclaims, ns, n);
  const gone = async (get: () => Promise<KObject>) => get().then(() => false, (e) => e?.code === 404);

  it('makes a new volume Available and gives it and a new claim the protection finalizers', async () => {
    await h.client.create(resources.persistentvolumes, undefined, volume('pv-lone', '1Gi', { storageClassName: 'nothing-asks-for-this' }));
    await until(async () => (await getPV('pv-lone')).status?.phase === 'Available', 'pv-lone Available');
    assert.deepEqual((await getPV('pv-lone')).metadata.finalizers, ['kubernetes.io/pv-protection']);
  });

  it('binds a claim to the smallest matching Available volume, both sides annotated and Bound', async () => {
    await h.client.create(resources.persistentvolumes, undefined, volume('pv-5g', '5Gi'));
    await h.client.create(resources.persistentvolumes, undefined, volume('pv-2g', '2Gi'));
    await until(async () => (await getPV('pv-2g')).status?.phase === 'Available' && (await getPV('pv-5g')).status?.phase === 'Available', 'volumes Available');
    const c = await h.client.create(resources.persistentvolumeclaims, ns, claim('small', '1Gi'));
    assert.deepEqual(c.metadata.finalizers, ['kubernetes.io/pvc-protection']);
    assert.equal(c.status.phase, 'Pending');
    await until(async () => (await getPVC('small')).status?.phase === 'Bound', 'claim small Bound');
    const pvc = await getPVC('small');
    assert.equal(pvc.spec.volumeName, 'pv-2g');
    assert.equal(pvc.metadata.annotations['pv.kubernetes.io/bind-completed'], 'yes');
    assert.equal(pvc.metadata.annotations['pv.kubernetes.io/bound-by-controller'], 'yes');
    assert.deepEqual(pvc.status.capacity, { storage: '2Gi' });
    assert.deepEqual(pvc.status.accessModes, ['ReadWriteOnce']);
    await until(async () => (await getPV('pv-2g')).status?.phase === 'Bound', 'pv-2g Bound');
    const pv = await getPV('pv-2g');
    assert.equal(pv.spec.claimRef.name, 'small');
    assert.equal(pv.spec.claimRef.uid, pvc.metadata.uid);
    assert.equal(pv.metadata.annotations['pv.kubernetes.io/bound-by-controller'], 'yes');
    assert.equal((await getPV('pv-5g')).status.phase, 'Available');
  });

  it('keeps a claim Pending until a volume that fits appears, then binds it', async () => {
    await h.client.create(resources.persistentvolumeclaims, ns, claim('waiting', '3Gi', { accessModes: ['ReadWriteMany'] }));
    await until(async () => (await h.client.list(resources.events, ns)).items.some((e: KObject) => e.involvedObject?.name === 'waiting' && e.reason === 'FailedBinding'), 'FailedBinding event');
    assert.equal((await getPVC('waiting')).status.phase, 'Pending');
    await h.client.create(resources.persistentvolumes, undefined, volume('pv-rwx', '3Gi', { accessModes: ['ReadWriteMany'] }));
    await until(async () => (await getPVC('waiting')).spec.volumeName === 'pv-rwx' && (await getPVC('waiting')).status.phase === 'Bound', 'waiting bound to pv-rwx');
  });

  it('honours a claim pre-bound to a volume by name and a volume pre-bound to a claim by name', async () => {
    await h.client.create(resources.persistentvolumes, undefined, volume('pv-named', '1Gi'));
    await h.client.create(resources.persistentvolumeclaims, ns, claim('wants-named', '1Gi', { volumeName: 'pv-named' }));
    await h.client.create(resources.persistentvolumes, undefined, volume('pv-for-reserved', '10Gi', { claimRef: { namespace: ns, name: 'reserved' } }));
    await h.client.create(resources.persistentvolumeclaims, ns, claim('reserved', '1Gi'));
    await until(async () => (await getPVC('wants-named')).status?.phase === 'Bound' && (await getPVC('reserved')).status?.phase === 'Bound', 'pre-bound claims Bound');
    const named = await getPVC('wants-named');
    assert.equal(named.metadata.annotations['pv.kubernetes.io/bound-by-controller'], undefined, 'the user bound it');
    assert.equal((await getPVC('reserved')).spec.volumeName, 'pv-for-reserved');
    assert.equal((await getPV('pv-for-reserved')).metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], undefined);
  });

  it('releases a Retain volume and deletes a Delete volume once their claims are deleted', async () => {
    await h.client.create(resources.persistentvolumes, undefined, volume('pv-keep', '1Gi', { storageClassName: 'keep' }));
    await h.client.create(resources.persistentvolumes, undefined, volume('pv-drop', '1Gi', { storageClassName: 'drop', persistentVolumeReclaimPolicy: 'Delete' }));
    await h.client.create(resources.persistentvolumeclaims, ns, claim('keep', '1Gi', { storageClassName: 'keep' }));
    await h.client.create(resources.persistentvolumeclaims, ns, claim('drop', '1Gi', { storageClassName: 'drop' }));
    await until(async () => (await getPV('pv-keep')).status?.phase === 'Bound' && (await getPV('pv-drop')).status?.phase === 'Bound', 'both volumes Bound');
    await h.client.delete(resources.persistentvolumeclaims, ns, 'keep');
    await h.client.delete(resources.persistentvolumeclaims, ns, 'drop');
    await until(async () => (await getPV('pv-keep')).status?.phase === 'Released', 'pv-keep Released');
    await until(() => gone(() => getPV('pv-drop')), 'pv-drop deleted');
    assert.ok(await gone(() => getPVC('keep')));
    // A released volume is not handed to a new claim.
    await h.client.create(resources.persistentvolumeclaims, ns, claim('keep2', '1Gi', { storageClassName: 'keep' }));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await getPVC('keep2')).status.phase, 'Pending');
  });

  it('keeps a claim a running pod uses until the pod is gone', async () => {
    await h.client.create(resources.persistentvolumes, undefined, volume('pv-used', '1Gi', { storageClassName: 'used' }));
    await h.client.create(resources.persistentvolumeclaims, ns, claim('used', '1Gi', { storageClassName: 'used' }));
    await until(async () => (await getPVC('used')).status?.phase === 'Bound', 'used Bound');
    await h.client.create(resources.pods, ns, {
      metadata: { name: 'user' },
      spec: { nodeName: 'nowhere', containers: [{ name: 'c', image: 'nginx' }], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'used' } }] },
    });
    await h.client.delete(resources.persistentvolumeclaims, ns, 'used');
    await new Promise((r) => setTimeout(r, 500));
    const terminating = await getPVC('used');
    assert.ok(terminating.metadata.deletionTimestamp, 'the claim is being deleted');
    assert.deepEqual(terminating.metadata.finalizers, ['kubernetes.io/pvc-protection']);
    await h.client.delete(resources.pods, ns, 'user', { gracePeriodSeconds: 0 });
    await until(() => gone(() => getPVC('used')), 'claim used gone');
    await until(async () => (await getPV('pv-used')).status?.phase === 'Released', 'pv-used Released');
  });

  it('hands a claim of a class with an external provisioner to that provisioner by annotation', async () => {
    await h.client.create(resources.storageclasses, undefined, { metadata: { name: 'ext' }, provisioner: 'example.com/nfs' });
    await h.client.create(resources.persistentvolumeclaims, ns, claim('ext', '1Gi', { storageClassName: 'ext' }));
    await until(async () => (await getPVC('ext')).metadata.annotations?.['volume.kubernetes.io/storage-provisioner'] === 'example.com/nfs', 'storage-provisioner annotation');
    const pvc = await getPVC('ext');
    assert.equal(pvc.metadata.annotations['volume.beta.kubernetes.io/storage-provisioner'], 'example.com/nfs');
    assert.equal(pvc.status.phase, 'Pending');
  });

  it('charges claims to a ResourceQuota and refuses a claim beyond it', async () => {
    await h.client.create(resources.namespaces, undefined, { metadata: { name: 'quota-ns' } });
    await h.client.create(resources.resourcequotas, 'quota-ns', { metadata: { name: 'q' }, spec: { hard: { persistentvolumeclaims: '1', 'requests.storage': '5Gi' } } });
    await h.run(new ResourceQuotaController());
    await until(async () => !!(await h.client.get(resources.resourcequotas, 'quota-ns', 'q')).status?.hard, 'quota status');
    await h.client.create(resources.persistentvolumeclaims, 'quota-ns', claim('one', '1Gi'));
    await until(async () => (await h.client.get(resources.resourcequotas, 'quota-ns', 'q')).status?.used?.persistentvolumeclaims === '1', 'claim charged');
    assert.equal((await h.client.get(resources.resourcequotas, 'quota-ns', 'q')).status.used['requests.storage'], '1Gi');
    await assert.rejects(h.client.create(resources.persistentvolumeclaims, 'quota-ns', claim('two', '1Gi')), /exceeded quota: q, requested: persistentvolumeclaims=1, used: persistentvolumeclaims=1, limited: persistentvolumeclaims=1/);
  });

  it('creates the claim <pod>-<volume> of a generic ephemeral volume, owned by the pod and gone with it', async () => {
    await h.run(new EphemeralVolumeController(), new GarbageCollector());
    const pod = await h.client.create(resources.pods, ns, {
      metadata: { name: 'scratch' },
      spec: {
        containers: [{ name: 'c', image: 'nginx' }],
        volumes: [{ name: 'tmp', ephemeral: { volumeClaimTemplate: { metadata: { labels: { kind: 'scratch' } }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', resources: { requests: { storage: '1Gi' } } } } } }],
      },
    });
    await until(() => getPVC('scratch-tmp').then(() => true, () => false), 'claim scratch-tmp');
    const pvc = await getPVC('scratch-tmp');
    assert.deepEqual(pvc.metadata.labels, { kind: 'scratch' });
    assert.deepEqual(pvc.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Pod', name: 'scratch', uid: pod.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    await h.client.delete(resources.pods, ns, 'scratch', { gracePeriodSeconds: 0 });
    await until(() => gone(() => getPVC('scratch-tmp')), 'claim scratch-tmp deleted with its pod', 20_000);
  });
});
