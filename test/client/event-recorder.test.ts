// The event recorder against a real API server: events are stored as core/v1 Events, and a
// repeated event bumps count and lastTimestamp on the stored event instead of creating another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventRecorder } from '../../src/client/event-recorder.js';
import { resources } from '../../src/client/resources.js';
import { startCluster } from './cluster.js';

test('A repeated event is aggregated on the server: one Event whose count and lastTimestamp grow.', async () => {
  const cluster = await startCluster({ storagePath: ':memory:' });
  const client = cluster.client('test-controller');
  let now = Date.now();
  const rec = new EventRecorder(client, { component: 'replicaset-controller', now: () => now });
  try {
    const owner = await client.create(resources.configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner' } });
    owner.apiVersion = 'v1';
    owner.kind = 'ConfigMap';
    for (let i = 0; i < 3; i++) {
      rec.event(owner, 'Warning', 'FailedCreate', 'Error creating: pods "web-" is forbidden: exceeded quota');
      now += 2000;
    }
    rec.event(owner, 'Normal', 'SuccessfulCreate', 'Created pod: web-abcde');
    const ns = await client.get(resources.namespaces, '', 'kube-system');
    rec.event({ ...ns, apiVersion: 'v1', kind: 'Namespace' }, 'Normal', 'Testing', 'about a cluster-scoped object');
    await rec.flush();

    const list = await client.list(resources.events, 'default');
    const mine = list.items.filter((e: any) => e.involvedObject?.name === 'owner');
    assert.equal(mine.length, 2, JSON.stringify(mine.map((e: any) => [e.reason, e.count])));
    const failed = mine.find((e: any) => e.reason === 'FailedCreate');
    assert.equal(failed.count, 3);
    assert.equal(failed.type, 'Warning');
    assert.match(failed.metadata.name, /^owner\.[0-9a-f]+$/);
    assert.equal(Date.parse(failed.lastTimestamp) - Date.parse(failed.firstTimestamp), 4000);
    assert.deepEqual(failed.involvedObject, { kind: 'ConfigMap', namespace: 'default', name: 'owner', uid: owner.metadata.uid, apiVersion: 'v1', resourceVersion: owner.metadata.resourceVersion });
    assert.deepEqual(failed.source, { component: 'replicaset-controller' });
    assert.equal(failed.reportingComponent, 'replicaset-controller');
    assert.equal(failed.reportingInstance, 'replicaset-controller');
    assert.equal(mine.find((e: any) => e.reason === 'SuccessfulCreate').count, 1);
    assert.equal(rec.stats.created, 3);
    assert.equal(rec.stats.patched, 2);
    assert.ok(
      list.items.some((e: any) => e.involvedObject?.kind === 'Namespace' && e.involvedObject?.name === 'kube-system'),
      'events about cluster-scoped objects are stored in the default namespace',
    );

    // The stored event went away (events expire): the next repeat recreates it, keeping the count.
    await client.delete(resources.events, 'default', failed.metadata.name);
    rec.event(owner, 'Warning', 'FailedCreate', 'Error creating: pods "web-" is forbidden: exceeded quota');
    await rec.flush();
    const again = await client.get(resources.events, 'default', failed.metadata.name);
    assert.equal(again.count, 4);
  } finally {
    await rec.stop();
    await cluster.stop();
  }
});
