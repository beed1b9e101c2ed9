// The shared informer against a real k8ts API server: events, a watch drop across a restart,
// and 410 Gone after compaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer } from '../../src/app/server.js';
import { SqliteBackend } from '../../src/storage/sqlite/sqlite-backend.js';
import { RestClient, type KObject, type RestClient as Client } from '../../src/client/rest-client.js';
import { DeletedFinalStateUnknown, SharedInformer, SharedInformerFactory, fieldIndexFunc } from '../../src/client/informer.js';
import { resources } from '../../src/client/resources.js';
import { startCluster, until } from './cluster.js';

const cm = (name: string, labels?: Record<string, string>, data?: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data });

async function namespace(client: Client, name: string): Promise<void> {
  await client.create(resources.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

function record(inf: SharedInformer) {
  const calls: string[] = [];
  inf.addEventHandler({
    onAdd: (o, initial) => calls.push(`add ${o.metadata.name}${initial ? ' (initial)' : ''}`),
    onUpdate: (a, b) => {
      if (a.metadata.resourceVersion !== b.metadata.resourceVersion) calls.push(`update ${b.metadata.name}`);
    },
    onDelete: (o) => calls.push(o instanceof DeletedFinalStateUnknown ? `tombstone ${o.key}` : `delete ${o.metadata.name}`),
  });
  return calls;
}

test('Informers from a factory are shared per scope, see adds, updates and deletes, and keep their indexes current.', async () => {
  const cluster = await startCluster({ storagePath: ':memory:' });
  const client = cluster.client();
  const factory = new SharedInformerFactory(client, { informerDefaults: { backoffInitialMs: 100 } });
  try {
    await namespace(client, 'inf-a');
    await client.create(resources.configmaps, 'inf-a', cm('pre', { app: 'db' }));
    await client.create(resources.configmaps, 'default', cm('elsewhere'));

    const inf = factory.forResource(resources.configmaps, { namespace: 'inf-a', indexers: { app: fieldIndexFunc('metadata.labels.app') } });
    assert.equal(factory.forResource(resources.configmaps, { namespace: 'inf-a' }), inf, 'same scope, same informer');
    const web = factory.forResource(resources.configmaps, { namespace: 'inf-a', labelSelector: 'app=web' });
    assert.notEqual(web, inf);
    const calls = record(inf);
    const webCalls = record(web);
    factory.start();
    assert.equal(await factory.waitForCacheSync({ timeoutMs: 5000 }), true);
    assert.deepEqual(calls, ['add pre (initial)']);
    assert.equal(inf.lister.get('inf-a', 'pre')?.kind, 'ConfigMap');
    assert.equal(inf.lister.get('default', 'elsewhere'), undefined, 'the informer is namespace-scoped');

    await client.create(resources.configmaps, 'inf-a', cm('web-1', { app: 'web' }));
    await client.patch(resources.configmaps, 'inf-a', 'web-1', { data: { k: 'v' } });
    await until(() => inf.lister.get('inf-a', 'web-1')?.data?.k === 'v', 'the update');
    assert.deepEqual(inf.lister.byIndex('app', 'web').map((o) => o.metadata.name), ['web-1']);
    assert.deepEqual(inf.lister.list('inf-a', 'app=db').map((o) => o.metadata.name), ['pre']);
    await client.delete(resources.configmaps, 'inf-a', 'web-1');
    await until(() => calls.length === 4, 'the delete');
    assert.deepEqual(calls, ['add pre (initial)', 'add web-1', 'update web-1', 'delete web-1']);
    assert.deepEqual(webCalls, ['add web-1', 'update web-1', 'delete web-1'], 'the selector-scoped informer saw only matching objects');
    assert.deepEqual(inf.lister.byIndex('app', 'web'), []);
    assert.equal(inf.stats.lists, 1);
    assert.ok(Number(inf.lastSyncResourceVersion()) > 0);
  } finally {
    await factory.shutdown();
    await cluster.stop();
  }
});

test('After the server restarts on the same data dir and port, the informer resumes its watch from the last resourceVersion.', async () => {
  const cluster = await startCluster();
  const client = cluster.client();
  const inf = new SharedInformer({ client, ref: resources.configmaps }, { namespace: 'inf-b', backoffInitialMs: 100, backoffMaxMs: 400 });
  try {
    await namespace(client, 'inf-b');
    await client.create(resources.configmaps, 'inf-b', cm('before'));
    const calls = record(inf);
    inf.start();
    await inf.waitForSync({ timeoutMs: 5000 });
    await until(() => inf.stats.watches === 1, 'the first watch');

    await cluster.restart();
    await client.create(resources.configmaps, 'inf-b', cm('after'));
    await client.delete(resources.configmaps, 'inf-b', 'before');
    await until(() => calls.includes('delete before') && calls.includes('add after'), `the changes after the restart (saw ${calls.join(', ')})`);
    assert.ok(inf.stats.watches >= 2, 'the watch was re-established');
    assert.equal(inf.stats.lists, 1, 'resumed from the resourceVersion: no relist was needed');
    assert.deepEqual(inf.lister.list().map((o) => o.metadata.name), ['after']);
  } finally {
    await inf.stop();
    await cluster.stop();
  }
});

test('An informer that was away while its history was compacted gets 410 Gone, relists, and reports missed deletions as tombstones.', async () => {
  const cluster = await startCluster();
  const client = cluster.client();
  const inf = new SharedInformer({ client, ref: resources.configmaps }, { namespace: 'inf-c', backoffInitialMs: 100, backoffMaxMs: 400 });
  let other: RestClient | undefined;
  try {
    await namespace(client, 'inf-c');
    for (const n of ['keep', 'doomed']) await client.create(resources.configmaps, 'inf-c', cm(n));
    const calls = record(inf);
    inf.start();
    await inf.waitForSync({ timeoutMs: 5000 });
    const rvBefore = Number(inf.lastSyncResourceVersion());

    // The cluster moves on where the informer cannot see it: same data, another port.
    const { port } = cluster.server;
    await cluster.server.stop();
    const elsewhere = await startServer({ dataDir: cluster.dataDir, port: 0, controllers: false, removeDataDirOnStop: false });
    other = new RestClient({ server: elsewhere.url, ca: elsewhere.ca, cert: elsewhere.adminCert.cert, key: elsewhere.adminCert.key });
    await other.delete(resources.configmaps, 'inf-c', 'doomed');
    await other.patch(resources.configmaps, 'inf-c', 'keep', { data: { v: '2' } });
    await other.create(resources.configmaps, 'inf-c', cm('new'));
    other.close();
    await elsewhere.stop();
    // ...and its history is compacted past what the informer saw.
    const db = SqliteBackend.open({ path: join(cluster.dataDir, 'db', 'state.db') });
    const head = await db.currentRevision();
    await db.compact(head);
    await db.close();
    assert.ok(head > rvBefore);

    assert.equal(port, cluster.server.port);
    await cluster.restart();
    await until(() => inf.stats.expired >= 1 && inf.stats.lists >= 2 && calls.includes('add new'), `a relist after 410 (saw ${calls.join(', ')}; stats ${JSON.stringify(inf.stats)})`);
    assert.ok(calls.includes('tombstone inf-c/doomed'), calls.join(', '));
    assert.ok(calls.includes('update keep'), calls.join(', '));
    assert.deepEqual(inf.lister.list().map((o: KObject) => o.metadata.name).sort(), ['keep', 'new']);
    assert.equal(inf.lister.get('inf-c', 'keep')?.data?.v, '2');
  } finally {
    other?.close();
    await inf.stop();
    await cluster.stop();
  }
});
