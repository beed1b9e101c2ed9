import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod } from '../framework/types.js';
import { makeNode, makePod } from '../testing/builders.js';
import { Cache, CacheError } from './cache.js';

const bound = (name: string, node: string, more = {}): Pod => makePod(name, { nodeName: node, cpu: '1', ...more });

test('An assumed pod counts on its node at once, and its confirmation does not count it twice.', () => {
  const c = new Cache();
  c.addNode(makeNode('n', { cpu: '4' }));
  c.assumePod(bound('p', 'n'));
  assert.equal(c.nodeInfo('n')!.requested.milliCPU, 1000);
  c.addPod(bound('p', 'n'));
  assert.equal(c.nodeInfo('n')!.requested.milliCPU, 1000);
  assert.equal(c.assumedCount, 0);
  assert.equal(c.podCount, 1);
});

test('Forgetting an assumed pod gives its resources back.', () => {
  const c = new Cache();
  c.addNode(makeNode('n'));
  c.assumePod(bound('p', 'n'));
  c.forgetPod(bound('p', 'n'));
  assert.equal(c.nodeInfo('n')!.requested.milliCPU, 0);
  assert.equal(c.nodeInfo('n')!.pods.length, 0);
});

const misuse = [
  { name: 'Assuming a pod twice is refused.', run: (c: Cache) => (c.assumePod(bound('p', 'n')), c.assumePod(bound('p', 'n'))), want: /is in the cache, so can't be assumed/ },
  { name: 'Assuming a pod without a node name is refused.', run: (c: Cache) => c.assumePod(makePod('p')), want: /no node name/ },
  { name: 'Forgetting a confirmed (not assumed) pod is refused.', run: (c: Cache) => (c.addPod(bound('p', 'n')), c.forgetPod(bound('p', 'n'))), want: /wasn't assumed/ },
];
for (const tc of misuse) {
  test(tc.name, () => {
    const c = new Cache();
    c.addNode(makeNode('n'));
    assert.throws(() => tc.run(c), (e: unknown) => e instanceof CacheError && tc.want.test(e.message));
  });
}

test('With a TTL, an assumed pod whose binding finished but was never confirmed expires.', () => {
  let now = 0;
  const c = new Cache({ assumedPodTTLMs: 30_000, now: () => now });
  c.addNode(makeNode('n'));
  c.assumePod(bound('done', 'n'));
  c.assumePod(bound('binding', 'n'));
  c.finishBinding(bound('done', 'n'));
  now = 29_999;
  assert.deepEqual(c.cleanupAssumedPods(), []);
  now = 30_000;
  assert.deepEqual(c.cleanupAssumedPods().map((p) => p.metadata?.name), ['done']);
  assert.equal(c.nodeInfo('n')!.pods.length, 1);
});

test('A deleted node keeps a placeholder while pods still point at it, outside the snapshot.', () => {
  const c = new Cache();
  c.addNode(makeNode('n'));
  c.addNode(makeNode('m'));
  c.addPod(bound('p', 'n'));
  c.removeNode(makeNode('n'));
  assert.deepEqual(c.updateSnapshot().nodeInfoList.map((n) => n.name), ['m']);
  assert.ok(c.nodeInfo('n'));
  c.removePod(bound('p', 'n'));
  assert.equal(c.nodeInfo('n'), undefined);
});

test('A pod that moves nodes is accounted on the new node only.', () => {
  const c = new Cache();
  c.addNode(makeNode('a'));
  c.addNode(makeNode('b'));
  c.addPod(bound('p', 'a'));
  c.updatePod(bound('p', 'a'), bound('p', 'b'));
  assert.equal(c.nodeInfo('a')!.pods.length, 0);
  assert.equal(c.nodeInfo('b')!.pods.length, 1);
});

test('The snapshot lists nodes hosting pods with affinity, and forgets them when those pods leave.', () => {
  const c = new Cache();
  c.addNode(makeNode('a'));
  c.addNode(makeNode('b'));
  const anti = bound('anti', 'b', { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { x: 'y' } }, topologyKey: 'kubernetes.io/hostname' }] } } });
  c.addPod(anti);
  let s = c.updateSnapshot();
  assert.deepEqual(s.havePodsWithAffinityList.map((n) => n.name), ['b']);
  assert.deepEqual(s.havePodsWithRequiredAntiAffinityList.map((n) => n.name), ['b']);
  c.removePod(anti);
  s = c.updateSnapshot();
  assert.deepEqual(s.havePodsWithAffinityList, []);
});

test('Image counts follow the nodes that have each image.', () => {
  const c = new Cache();
  c.addNode(makeNode('a', { images: [{ names: ['nginx:1'], sizeBytes: 1 }] }));
  c.addNode(makeNode('b', { images: [{ names: ['nginx:1', 'nginx:latest'], sizeBytes: 1 }] }));
  assert.equal(c.updateSnapshot().imageNumNodes('nginx:1'), 2);
  c.removeNode(makeNode('a'));
  assert.equal(c.updateSnapshot().imageNumNodes('nginx:1'), 1);
});
