import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPlugins } from '../plugins/registry.js';
import { makeNode, makePod } from '../testing/builders.js';
import { frameworkFor } from '../testing/harness.js';
import { CycleState } from './cycle-state.js';
import { FitError } from './fit-error.js';
import { podInfoFor } from './pod-info.js';
import { Evaluator, pickOneNodeForPreemption, type PodDisruptionBudget } from './preemption.js';
import { SchedulingAlgorithm } from './scheduling-cycle.js';
import { Snapshot } from './snapshot.js';
import type { Node, Pod } from './types.js';

/** Run a cycle that must fail, then preemption; report victims, nominated node and message. */
function preempt(nodes: Node[], existing: Pod[], preemptor: Pod, pdbs: PodDisruptionBudget[] = []) {
  const snapshot = Snapshot.fromObjects(nodes, existing);
  const fwk = frameworkFor(
    defaultPlugins().filter((p) => p.name !== 'DefaultPreemption'),
    snapshot,
  );
  const state = new CycleState();
  const pi = podInfoFor(preemptor);
  const fe = new SchedulingAlgorithm().schedulePod(fwk, state, pi, snapshot);
  assert.ok(fe instanceof FitError, 'the preemptor must not fit without preemption');
  const r = new Evaluator(fwk, { pdbs: () => pdbs, random: () => 0 }).preempt(state, pi, fe.diagnosis.nodeToStatus);
  return { node: r.nominatedNodeName, victims: (r.victims ?? []).map((v) => v.name), message: r.status?.message() ?? '' };
}

const cpu2 = (name: string, more = {}) => makeNode(name, { cpu: '2', ...more });
const on = (name: string, node: string, priority: number, cpu = '1', more = {}) => makePod(name, { nodeName: node, priority, cpu, startTime: '2024-01-01T00:00:00Z', ...more });

const cases = [
  {
    name: 'Only as many lower-priority pods as needed are evicted, the least important first.',
    nodes: [cpu2('n1')],
    existing: [on('v1', 'n1', 1), on('v2', 'n1', 2)],
    pod: makePod('hi', { priority: 10, cpu: '1' }),
    want: { node: 'n1', victims: ['v1'], message: '' },
  },
  {
    name: 'The node whose most important victim has the lowest priority is chosen.',
    nodes: [cpu2('n1'), cpu2('n2')],
    existing: [on('a', 'n1', 5, '2'), on('b', 'n2', 1, '2')],
    pod: makePod('hi', { priority: 10, cpu: '1' }),
    want: { node: 'n2', victims: ['b'], message: '' },
  },
  {
    name: 'With equal priorities the node needing fewer victims is chosen.',
    nodes: [cpu2('n1'), cpu2('n2')],
    existing: [on('a1', 'n1', 1), on('a2', 'n1', 1), on('b', 'n2', 1, '2')],
    pod: makePod('hi', { priority: 10, cpu: '2' }),
    want: { node: 'n2', victims: ['b'], message: '' },
  },
  {
    name: 'Pods of equal or higher priority are never victims.',
    nodes: [cpu2('n1')],
    existing: [on('peer', 'n1', 10, '2')],
    pod: makePod('hi', { priority: 10, cpu: '1' }),
    want: { node: '', victims: [], message: '0/1 nodes are available: 1 No preemption victims found for incoming pod.' },
  },
  {
    name: 'Nodes rejected for reasons eviction cannot fix are not considered.',
    nodes: [cpu2('tainted', { taints: [{ key: 'k', effect: 'NoSchedule' }] }), cpu2('n1')],
    existing: [on('peer', 'n1', 20, '2'), on('low', 'tainted', 0, '2')],
    pod: makePod('hi', { priority: 10, cpu: '1' }),
    want: { node: '', victims: [], message: '0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.' },
  },
  {
    name: 'A pod with preemptionPolicy Never does not preempt.',
    nodes: [cpu2('n1')],
    existing: [on('v1', 'n1', 1, '2')],
    pod: makePod('hi', { priority: 10, cpu: '1', preemptionPolicy: 'Never' }),
    want: { node: undefined, victims: [], message: 'not eligible due to preemptionPolicy=Never.' },
  },
  {
    name: 'When evicting every lower-priority pod still is not enough, the filter reason is reported.',
    nodes: [cpu2('n1')],
    existing: [on('v1', 'n1', 1), on('peer', 'n1', 50)],
    pod: makePod('hi', { priority: 10, cpu: '2' }),
    want: { node: '', victims: [], message: '0/1 nodes are available: 1 Insufficient cpu.' },
  },
];
for (const tc of cases) test(tc.name, () => assert.deepEqual(preempt(tc.nodes, tc.existing, tc.pod), tc.want));

test('A node whose victims a PodDisruptionBudget protects is avoided when another will do.', () => {
  const pdb: PodDisruptionBudget = { metadata: { namespace: 'default', name: 'guard' }, spec: { selector: { matchLabels: { app: 'db' } } }, status: { disruptionsAllowed: 0 } };
  const got = preempt(
    [cpu2('n1'), cpu2('n2')],
    [on('db', 'n1', 1, '2', { labels: { app: 'db' } }), on('web', 'n2', 1, '2', { labels: { app: 'web' } })],
    makePod('hi', { priority: 10, cpu: '1' }),
    [pdb],
  );
  assert.deepEqual(got, { node: 'n2', victims: ['web'], message: '' });
});

test('Among otherwise equal candidates, the one whose victims started last is chosen.', () => {
  const a = podInfoFor(makePod('a', { priority: 1, startTime: '2024-01-01T00:00:00Z' }));
  const b = podInfoFor(makePod('b', { priority: 1, startTime: '2024-06-01T00:00:00Z' }));
  const c = pickOneNodeForPreemption([
    { nodeName: 'old', victims: [a], numPDBViolations: 0 },
    { nodeName: 'new', victims: [b], numPDBViolations: 0 },
  ]);
  assert.equal(c?.nodeName, 'new');
});
