import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActionType, type ClusterEventWithHint } from '../framework/events.js';
import { Code, Status } from '../framework/status.js';
import type { Node, Pod } from '../framework/types.js';
import { makeNode, makePod } from '../testing/builders.js';
import { Heap } from './heap.js';
import { SchedulingQueue, type QueuedPodInfo } from './scheduling-queue.js';

/** A queue on a fake clock; `Fit` reacts to node adds with a hint, `Ports` to pod deletes. */
function setup(opts: { gate?: boolean } = {}) {
  let now = 1_000_000;
  const regs = new Map<string, ClusterEventWithHint[]>([
    ['Fit', [{ event: { resource: 'Node', actionType: ActionType.Add }, hint: (_p, _o, n) => ((n as Node).metadata?.labels?.big ? 'Queue' : 'QueueSkip') }]],
    ['Ports', [{ event: { resource: 'Pod', actionType: ActionType.Delete } }]],
  ]);
  const q = new SchedulingQueue({
    now: () => now,
    eventRegistrations: regs,
    preEnqueue: opts.gate ? (pi) => (pi.pod.spec?.schedulingGates?.length ? new Status(Code.UnschedulableAndUnresolvable, ['gated'], 'SchedulingGates') : null) : undefined,
  });
  return { q, advance: (ms: number) => (now += ms) };
}

/** Pop the pod and fail it, rejected by `plugins`. */
function fail(q: SchedulingQueue, plugins: string[]): QueuedPodInfo {
  const qp = q.tryPop()!;
  qp.unschedulablePlugins = new Set(plugins);
  q.addUnschedulableIfNotPresent(qp, q.schedulingCycle);
  return qp;
}

test('The active queue serves higher priority first, then first come.', () => {
  const { q, advance } = setup();
  q.add(makePod('low', { priority: 1 }));
  advance(1);
  q.add(makePod('first', { priority: 5 }));
  advance(1);
  q.add(makePod('second', { priority: 5 }));
  const order = [q.tryPop(), q.tryPop(), q.tryPop()].map((x) => x?.podInfo.name);
  assert.deepEqual(order, ['first', 'second', 'low']);
});

const backoffCases = [
  { name: 'The first retry waits 1 s.', attempts: 1, want: 1000 },
  { name: 'Each further attempt doubles the wait.', attempts: 3, want: 4000 },
  { name: 'The wait is capped at 10 s.', attempts: 6, want: 10_000 },
];
for (const tc of backoffCases) {
  test(tc.name, () => {
    const { q } = setup();
    q.add(makePod('p'));
    const qp = q.tryPop()!;
    qp.attempts = tc.attempts;
    assert.equal(q.backoffDuration(qp), tc.want);
  });
}

test('A rejected pod waits in unschedulablePods until an event its rejecting plugin cares about.', () => {
  const { q, advance } = setup();
  q.add(makePod('p', { cpu: '8' }));
  fail(q, ['Fit']);
  assert.equal(q.where(makePod('p')), 'unschedulable');
  // A pod deletion does not concern Fit.
  assert.equal(q.moveAllToActiveOrBackoffQueue({ resource: 'Pod', actionType: ActionType.Delete }, makePod('x'), undefined), 0);
  // A node the hint says cannot help is skipped.
  q.moveAllToActiveOrBackoffQueue({ resource: 'Node', actionType: ActionType.Add }, undefined, makeNode('small'));
  assert.equal(q.where(makePod('p')), 'unschedulable');
  // A helpful node during backoff sends it to backoffQ; after backoff, to activeQ.
  q.moveAllToActiveOrBackoffQueue({ resource: 'Node', actionType: ActionType.Add }, undefined, makeNode('big', { labels: { big: 'yes' } }));
  assert.equal(q.where(makePod('p')), 'backoff');
  advance(999);
  assert.equal(q.flushBackoffQCompleted(), 0);
  advance(1);
  assert.equal(q.flushBackoffQCompleted(), 1);
  assert.equal(q.where(makePod('p')), 'active');
});

test('A helpful event after the backoff window moves the pod straight to activeQ.', () => {
  const { q, advance } = setup();
  q.add(makePod('p'));
  fail(q, ['Ports']);
  advance(5000);
  q.moveAllToActiveOrBackoffQueue({ resource: 'Pod', actionType: ActionType.Delete }, makePod('x'), undefined);
  assert.equal(q.where(makePod('p')), 'active');
});

test('A pod whose cycle overlapped a move request retries through backoffQ instead of waiting.', () => {
  const { q } = setup();
  q.add(makePod('p'));
  const qp = q.tryPop()!;
  const cycle = q.schedulingCycle;
  q.moveAllToActiveOrBackoffQueue({ resource: 'Node', actionType: ActionType.Add }, undefined, makeNode('n'));
  qp.unschedulablePlugins = new Set(['Fit']);
  q.addUnschedulableIfNotPresent(qp, cycle);
  assert.equal(q.where(makePod('p')), 'backoff');
});

test('A pod that failed with an error (no rejecting plugin) retries through backoffQ.', () => {
  const { q } = setup();
  q.add(makePod('p'));
  fail(q, []);
  assert.equal(q.where(makePod('p')), 'backoff');
});

test('Pods left unschedulable for over 5 minutes are flushed back.', () => {
  const { q, advance } = setup();
  q.add(makePod('p'));
  fail(q, ['Fit']);
  advance(5 * 60_000);
  assert.equal(q.flushUnschedulablePodsLeftover(), 0);
  advance(1);
  assert.equal(q.flushUnschedulablePodsLeftover(), 1);
  assert.equal(q.where(makePod('p')), 'active');
});

test('A gated pod waits outside activeQ until its gates are removed.', () => {
  const { q } = setup({ gate: true });
  const gated = makePod('p', { schedulingGates: ['wait'] });
  q.add(gated);
  assert.equal(q.where(gated), 'gated');
  assert.equal(q.tryPop(), undefined);
  q.moveAllToActiveOrBackoffQueue({ resource: '*', actionType: ActionType.All });
  assert.equal(q.where(gated), 'gated');
  q.update(gated, makePod('p'));
  assert.equal(q.where(gated), 'active');
});

test('Changing an unschedulable pod\'s spec gives it another try.', () => {
  const { q, advance } = setup();
  const old = makePod('p', { cpu: '8' });
  q.add(old);
  fail(q, ['Fit']);
  advance(2000);
  const smaller: Pod = makePod('p', { cpu: '1' });
  q.update(old, smaller);
  assert.equal(q.where(smaller), 'active');
  assert.equal(q.tryPop()?.podInfo.requests.milliCPU, 1000);
});

test('A status-only change leaves an unschedulable pod where it is.', () => {
  const { q } = setup();
  const old = makePod('p');
  q.add(old);
  fail(q, ['Fit']);
  q.update(old, { ...old, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False' }] } });
  assert.equal(q.where(old), 'unschedulable');
});

test('Deleting a pod removes it from every part of the queue.', () => {
  const { q } = setup();
  q.add(makePod('a'));
  q.add(makePod('b'));
  fail(q, ['Fit']);
  q.delete(makePod('a'));
  q.delete(makePod('b'));
  assert.deepEqual(q.stats(), { active: 0, backoff: 0, unschedulable: 0, gated: 0, inFlight: 0 });
});

test('pop() waits for a pod and returns undefined once the queue is closed.', async () => {
  const { q } = setup();
  const waiting = q.pop();
  q.add(makePod('late'));
  assert.equal((await waiting)?.podInfo.name, 'late');
  const blocked = q.pop();
  q.close();
  assert.equal(await blocked, undefined);
});

test('The heap keeps its order through updates and deletions.', () => {
  const h = new Heap<{ k: string; v: number }>((x) => x.k, (a, b) => a.v < b.v);
  for (const [k, v] of [['a', 5], ['b', 3], ['c', 9], ['d', 1]] as const) h.addOrUpdate({ k, v });
  h.addOrUpdate({ k: 'c', v: 0 });
  h.delete('d');
  const out: string[] = [];
  for (let x = h.pop(); x; x = h.pop()) out.push(x.k);
  assert.deepEqual(out, ['c', 'b', 'a']);
});
