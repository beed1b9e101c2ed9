import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setLogSink } from '../base/log.js';
import type { Node, Pod } from './framework/types.js';
import { Scheduler, type ClusterEventHandlers, type ClusterSource, type SchedulingFailure } from './scheduler.js';
import { makeNode, makePod } from './testing/builders.js';

setLogSink(() => {});

/** A source that records what the scheduler asks of it. */
class FakeSource implements ClusterSource {
  binds: string[] = [];
  failures: Array<{ pod: string } & SchedulingFailure> = [];
  evicted: string[] = [];
  handlers?: ClusterEventHandlers;
  failBind = new Set<string>();
  constructor(private readonly nodes: Node[] = []) {}
  subscribe(h: ClusterEventHandlers): () => void {
    this.handlers = h;
    for (const n of this.nodes) h.addNode(n);
    return () => (this.handlers = undefined);
  }
  async bind(pod: Pod, nodeName: string): Promise<void> {
    if (this.failBind.has(pod.metadata!.name!)) throw new Error('conflict');
    this.binds.push(`${pod.metadata!.name}->${nodeName}`);
  }
  recordFailure(pod: Pod, f: SchedulingFailure): void {
    this.failures.push({ pod: pod.metadata!.name!, ...f });
  }
  async preemptVictim(victim: Pod): Promise<void> {
    this.evicted.push(victim.metadata!.name!);
  }
}

function setup(nodes: Node[]) {
  let now = 1_000_000;
  const src = new FakeSource();
  const s = new Scheduler(src, { now: () => now, random: () => 0 });
  for (const n of nodes) s.addNode(n);
  return { s, src, advance: (ms: number) => (now += ms) };
}

test('A burst of pods never overcommits a node: each placement counts before its binding returns.', async () => {
  const { s, src } = setup([makeNode('a', { cpu: '1' }), makeNode('b', { cpu: '1' }), makeNode('c', { cpu: '1' })]);
  for (let i = 0; i < 7; i++) s.addPod(makePod(`p${i}`, { cpu: '500m' }));
  await s.scheduleAllQueued();
  const perNode = new Map<string, number>();
  for (const b of src.binds) perNode.set(b.split('->')[1], (perNode.get(b.split('->')[1]) ?? 0) + 1);
  assert.deepEqual([...perNode.values()], [2, 2, 2]);
  assert.equal(src.failures.length, 1);
  assert.deepEqual(src.failures[0], {
    pod: src.failures[0].pod,
    reason: 'Unschedulable',
    message: '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.',
    nominatedNodeName: '',
  });
});

test('An unschedulable pod is scheduled once a node that fits it appears.', async () => {
  const { s, src, advance } = setup([makeNode('small', { cpu: '1' })]);
  s.addPod(makePod('big', { cpu: '2' }));
  await s.scheduleAllQueued();
  assert.equal(s.queue.where(makePod('big')), 'unschedulable');
  s.addNode(makeNode('large', { cpu: '4' }));
  assert.equal(s.queue.where(makePod('big')), 'backoff');
  advance(1000);
  s.queue.flushBackoffQCompleted();
  await s.scheduleAllQueued();
  assert.deepEqual(src.binds, ['big->large']);
});

test('A node that cannot help leaves the pod waiting.', async () => {
  const { s } = setup([makeNode('small', { cpu: '1' })]);
  s.addPod(makePod('big', { cpu: '2' }));
  await s.scheduleAllQueued();
  s.addNode(makeNode('tiny', { cpu: '1' }));
  assert.equal(s.queue.where(makePod('big')), 'unschedulable');
});

test('A failed binding releases the node and retries the pod after backoff.', async () => {
  const { s, src, advance } = setup([makeNode('a', { cpu: '1' })]);
  src.failBind.add('p');
  s.addPod(makePod('p', { cpu: '1' }));
  await s.scheduleAllQueued();
  assert.equal(s.cache.nodeInfo('a')!.requested.milliCPU, 0);
  assert.equal(src.failures[0].reason, 'SchedulerError');
  assert.equal(src.failures[0].message, 'binding rejected: conflict');
  assert.equal(s.queue.where(makePod('p')), 'backoff');
  src.failBind.clear();
  advance(1000);
  s.queue.flushBackoffQCompleted();
  await s.scheduleAllQueued();
  assert.deepEqual(src.binds, ['p->a']);
});

test('Preemption evicts the victims, nominates the node, and the pod lands there once they are gone.', async () => {
  const { s, src, advance } = setup([makeNode('n1', { cpu: '2' })]);
  const victim = makePod('low', { nodeName: 'n1', cpu: '2', priority: 0, startTime: '2024-01-01T00:00:00Z' });
  s.addPod(victim);
  s.addPod(makePod('high', { cpu: '1', priority: 100 }));
  await s.scheduleAllQueued();
  assert.deepEqual(src.evicted, ['low']);
  assert.deepEqual(src.failures.map((f) => [f.reason, f.message, f.nominatedNodeName]), [['Unschedulable', '0/1 nodes are available: 1 Insufficient cpu.', 'n1']]);
  s.deletePod(victim);
  advance(1000);
  s.queue.flushBackoffQCompleted();
  await s.scheduleAllQueued();
  assert.deepEqual(src.binds, ['high->n1']);
});

test('A nominated pod keeps its room from lower-priority pods while victims terminate.', async () => {
  const { s, src } = setup([makeNode('n1', { cpu: '2' })]);
  s.addPod(makePod('low', { nodeName: 'n1', cpu: '2', priority: 0 }));
  s.addPod(makePod('high', { cpu: '2', priority: 100 }));
  await s.scheduleAllQueued();
  s.deletePod(makePod('low', { nodeName: 'n1', cpu: '2', priority: 0 }));
  // Before "high" retries, a low-priority newcomer must not take the freed cpu.
  s.addPod(makePod('sneaky', { cpu: '1', priority: 1 }));
  await s.scheduleAllQueued();
  assert.deepEqual(src.binds, []);
  assert.match(src.failures.at(-1)!.message, /^0\/1 nodes are available: 1 Insufficient cpu\./);
});

test('Pods for another scheduler, and already-bound pods, are not scheduled.', async () => {
  const { s, src } = setup([makeNode('a')]);
  s.addPod(makePod('mine'));
  s.addPod(makePod('theirs', { schedulerName: 'other-scheduler' }));
  s.addPod(makePod('bound', { nodeName: 'a' }));
  await s.scheduleAllQueued();
  assert.deepEqual(src.binds, ['mine->a']);
});

test('A pod deleted during its attempt is not requeued.', async () => {
  const { s, src } = setup([makeNode('a', { cpu: '1' })]);
  s.addPod(makePod('p', { cpu: '2' }));
  const q = s.queue.tryPop()!;
  s.deletePod(makePod('p'));
  s.scheduleOne(q);
  assert.equal(s.queue.where(makePod('p')), undefined);
  assert.equal(src.failures.length, 0);
});

test('The watch confirming a binding turns the assumed pod into a bound one.', async () => {
  const { s } = setup([makeNode('a')]);
  const pod = makePod('p', { cpu: '1' });
  s.addPod(pod);
  await s.scheduleAllQueued();
  assert.equal(s.cache.assumedCount, 1);
  s.updatePod(pod, { ...pod, spec: { ...pod.spec, nodeName: 'a' } });
  assert.equal(s.cache.assumedCount, 0);
  assert.equal(s.cache.nodeInfo('a')!.requested.milliCPU, 1000);
});

test('start() schedules pods delivered by the source, and stop() ends cleanly.', async () => {
  const src = new FakeSource([makeNode('a'), makeNode('b')]);
  const s = new Scheduler(src);
  s.start();
  src.handlers!.addPod(makePod('x'));
  src.handlers!.addPod(makePod('y'));
  for (let i = 0; i < 50 && src.binds.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  await s.stop();
  assert.equal(src.binds.length, 2);
  assert.equal(src.handlers, undefined);
});
