import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONTROLLER_UID_INDEX,
  DeletedFinalStateUnknown,
  Indexer,
  Lister,
  NAMESPACE_INDEX,
  NODE_NAME_INDEX,
  controllerUIDIndexFunc,
  deletionHandlingMetaNamespaceKeyFunc,
  fieldIndexFunc,
  metaNamespaceKeyFunc,
  namespaceIndexFunc,
  nodeNameIndexFunc,
  objectFromTombstone,
  splitMetaNamespaceKey,
} from './cache.js';

const pod = (ns: string, name: string, extra: { node?: string; labels?: Record<string, string>; owner?: string } = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    namespace: ns,
    name,
    labels: extra.labels,
    ownerReferences: extra.owner ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: extra.owner, controller: true }] : undefined,
  },
  spec: extra.node ? { nodeName: extra.node } : {},
});

test('Keys are namespace/name for namespaced objects and name for cluster-scoped ones, and split back.', () => {
  const table: { obj: object; key: string; ns: string; name: string }[] = [
    { obj: { metadata: { namespace: 'default', name: 'a' } }, key: 'default/a', ns: 'default', name: 'a' },
    { obj: { metadata: { name: 'node-1' } }, key: 'node-1', ns: '', name: 'node-1' },
    { obj: { metadata: { namespace: '', name: 'x' } }, key: 'x', ns: '', name: 'x' },
  ];
  for (const c of table) {
    assert.equal(metaNamespaceKeyFunc(c.obj), c.key);
    assert.deepEqual(splitMetaNamespaceKey(c.key), { namespace: c.ns, name: c.name });
  }
  assert.throws(() => splitMetaNamespaceKey('a/b/c'), /unexpected key format/);
  assert.throws(() => metaNamespaceKeyFunc({ metadata: {} }), /no metadata.name/);
});

test('Tombstones carry their key and last known object.', () => {
  const p = pod('ns', 'gone');
  const t = new DeletedFinalStateUnknown('ns/gone', p);
  assert.equal(deletionHandlingMetaNamespaceKeyFunc(t), 'ns/gone');
  assert.equal(deletionHandlingMetaNamespaceKeyFunc(p), 'ns/gone');
  assert.equal(objectFromTombstone(t), p);
  assert.equal(objectFromTombstone(p), p);
});

test('The built-in index functions extract namespace, node name, controller uid and dotted fields.', () => {
  const table: { name: string; fn: (o: any) => string[]; obj: object; want: string[] }[] = [
    { name: 'namespace', fn: namespaceIndexFunc, obj: pod('a', 'p'), want: ['a'] },
    { name: 'cluster-scoped namespace', fn: namespaceIndexFunc, obj: { metadata: { name: 'n' } }, want: [''] },
    { name: 'scheduled pod', fn: nodeNameIndexFunc, obj: pod('a', 'p', { node: 'n1' }), want: ['n1'] },
    { name: 'unscheduled pod', fn: nodeNameIndexFunc, obj: pod('a', 'p'), want: [] },
    { name: 'controlled pod', fn: controllerUIDIndexFunc, obj: pod('a', 'p', { owner: 'u1' }), want: ['u1'] },
    {
      name: 'owner without controller flag',
      fn: controllerUIDIndexFunc,
      obj: { metadata: { name: 'p', ownerReferences: [{ uid: 'u2', kind: 'X', name: 'x', apiVersion: 'v1' }] } },
      want: [],
    },
    { name: 'dotted field', fn: fieldIndexFunc('spec.nodeName'), obj: pod('a', 'p', { node: 'n2' }), want: ['n2'] },
    { name: 'array field', fn: fieldIndexFunc('spec.tags'), obj: { spec: { tags: ['x', 'y'] } }, want: ['x', 'y'] },
    { name: 'missing field', fn: fieldIndexFunc('status.podIP'), obj: pod('a', 'p'), want: [] },
  ];
  for (const c of table) assert.deepEqual(c.fn(c.obj), c.want, c.name);
});

test('The indexer keeps its indexes right through add, update, delete and replace.', () => {
  const ix = new Indexer({ [NAMESPACE_INDEX]: namespaceIndexFunc, [NODE_NAME_INDEX]: nodeNameIndexFunc });
  ix.add(pod('a', 'p1', { node: 'n1' }));
  ix.add(pod('a', 'p2'));
  ix.add(pod('b', 'p3', { node: 'n1' }));
  assert.deepEqual(ix.indexKeys(NODE_NAME_INDEX, 'n1').sort(), ['a/p1', 'b/p3']);
  assert.deepEqual(ix.byIndex(NAMESPACE_INDEX, 'a').map((p: any) => p.metadata.name).sort(), ['p1', 'p2']);

  // p2 gets scheduled, p1 moves
  ix.update(pod('a', 'p2', { node: 'n2' }));
  ix.update(pod('a', 'p1', { node: 'n2' }));
  assert.deepEqual(ix.indexKeys(NODE_NAME_INDEX, 'n1'), ['b/p3']);
  assert.deepEqual(ix.indexKeys(NODE_NAME_INDEX, 'n2').sort(), ['a/p1', 'a/p2']);
  assert.deepEqual(ix.listIndexFuncValues(NODE_NAME_INDEX).sort(), ['n1', 'n2']);

  ix.delete(pod('b', 'p3'));
  assert.deepEqual(ix.indexKeys(NODE_NAME_INDEX, 'n1'), []);
  assert.deepEqual(ix.listIndexFuncValues(NODE_NAME_INDEX), ['n2'], 'empty index values are dropped');
  assert.equal(ix.delete(new DeletedFinalStateUnknown('a/p2', {} as any))?.metadata.name, 'p2');
  assert.deepEqual(ix.index(NODE_NAME_INDEX, pod('z', 'probe', { node: 'n2' })).map((p: any) => p.metadata.name), ['p1']);

  ix.replace([pod('c', 'q', { node: 'n3' })]);
  assert.deepEqual(ix.listKeys(), ['c/q']);
  assert.deepEqual(ix.listIndexFuncValues(NODE_NAME_INDEX), ['n3']);
  assert.deepEqual(ix.byIndex(NAMESPACE_INDEX, 'a'), []);
  assert.throws(() => ix.byIndex('nope', 'x'), /index with name nope does not exist/);
});

test('Indexes added later cover the objects already stored; a conflicting indexer is refused.', () => {
  const ix = new Indexer();
  ix.add(pod('a', 'p1', { owner: 'rs-1' }));
  ix.add(pod('a', 'p2', { owner: 'rs-2' }));
  ix.addIndexers({ [CONTROLLER_UID_INDEX]: controllerUIDIndexFunc });
  assert.deepEqual(ix.indexKeys(CONTROLLER_UID_INDEX, 'rs-1'), ['a/p1']);
  ix.addIndexers({ [CONTROLLER_UID_INDEX]: controllerUIDIndexFunc });
  assert.throws(() => ix.addIndexers({ [CONTROLLER_UID_INDEX]: () => [] }), /indexer conflict/);
});

test('The lister filters by namespace and label selector and gets by namespace and name.', () => {
  const ix = new Indexer({ [NAMESPACE_INDEX]: namespaceIndexFunc });
  ix.add(pod('a', 'web-1', { labels: { app: 'web', tier: 'fe' } }));
  ix.add(pod('a', 'db-1', { labels: { app: 'db' } }));
  ix.add(pod('b', 'web-2', { labels: { app: 'web' } }));
  ix.add({ metadata: { name: 'node-1', labels: { role: 'worker' } } } as any);
  const l = new Lister(ix);
  const names = (xs: any[]) => xs.map((x) => x.metadata.name).sort();
  const table: { ns?: string; sel?: string; want: string[] }[] = [
    { want: ['db-1', 'node-1', 'web-1', 'web-2'] },
    { ns: 'a', want: ['db-1', 'web-1'] },
    { ns: 'a', sel: 'app=web', want: ['web-1'] },
    { sel: 'app=web', want: ['web-1', 'web-2'] },
    { sel: 'app in (web,db),tier!=fe', want: ['db-1', 'web-2'] },
    { sel: '!app', want: ['node-1'] },
    { ns: 'zzz', want: [] },
  ];
  for (const c of table) assert.deepEqual(names(l.list(c.ns, c.sel)), c.want, `${c.ns ?? '*'} ${c.sel ?? ''}`);
  assert.equal(l.get('a', 'web-1')?.metadata.name, 'web-1');
  assert.equal(l.get('b', 'web-1'), undefined);
  assert.equal(l.get('', 'node-1')?.metadata.name, 'node-1');
  assert.deepEqual(names(l.byIndex(NAMESPACE_INDEX, 'b')), ['web-2']);
  assert.throws(() => l.list(undefined, 'app in ('));
});

test('The lister filters by namespace even without a namespace index.', () => {
  const ix = new Indexer();
  ix.add(pod('a', 'x'));
  ix.add(pod('b', 'y'));
  assert.deepEqual(
    new Lister(ix).list('b').map((p: any) => p.metadata.name),
    ['y'],
  );
});
