import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPlugins } from '../plugins/registry.js';
import { makeNode, makePod } from '../testing/builders.js';
import { frameworkFor } from '../testing/harness.js';
import { CycleState } from './cycle-state.js';
import { FitError } from './fit-error.js';
import { podInfoFor } from './pod-info.js';
import { numFeasibleNodesToFind, SchedulingAlgorithm, selectHostIndex, type ScheduleResult } from './scheduling-cycle.js';
import { Snapshot } from './snapshot.js';

const feasibleCases = [
  { name: 'Under 100 nodes every node is searched.', pct: 0, nodes: 50, want: 50 },
  { name: '1,000 nodes search the adaptive 42%.', pct: 0, nodes: 1000, want: 420 },
  { name: '5,000 nodes search the adaptive 10%.', pct: 0, nodes: 5000, want: 500 },
  { name: 'The adaptive percentage never drops below 5%.', pct: 0, nodes: 10000, want: 500 },
  { name: 'An explicit percentage is used as given.', pct: 30, nodes: 1000, want: 300 },
  { name: 'At least 100 nodes are searched when there are that many.', pct: 1, nodes: 200, want: 100 },
];
for (const tc of feasibleCases) test(tc.name, () => assert.equal(numFeasibleNodesToFind(tc.pct, tc.nodes), tc.want));

test('The highest total wins.', () => assert.equal(selectHostIndex([3, 9, 4], () => 0.99), 1));

test('Ties are broken by the random source (reservoir sampling).', () => {
  // With random always 0 each later tie replaces the pick; with 0.99 the first tie is kept.
  assert.equal(selectHostIndex([5, 5, 5], () => 0), 2);
  assert.equal(selectHostIndex([5, 5, 5], () => 0.99), 0);
});

const plugins = defaultPlugins().filter((p) => p.name !== 'DefaultPreemption');

test('The node search resumes where the previous cycle stopped.', () => {
  const snapshot = Snapshot.fromObjects(Array.from({ length: 300 }, (_, i) => makeNode(`n${i}`)));
  const fwk = frameworkFor(plugins, snapshot);
  const alg = new SchedulingAlgorithm({ random: () => 0 });
  const r = alg.schedulePod(fwk, new CycleState(), podInfoFor(makePod('p')), snapshot) as ScheduleResult;
  // 300 nodes: adaptive 48% = 144 feasible nodes looked for.
  assert.equal(r.feasibleNodes, 144);
  assert.equal(alg.nextStartNodeIndex, 144);
  alg.schedulePod(fwk, new CycleState(), podInfoFor(makePod('q')), snapshot);
  assert.equal(alg.nextStartNodeIndex, 288);
});

test('A pod that fits one node only is placed there without scoring.', () => {
  const snapshot = Snapshot.fromObjects([makeNode('small', { cpu: '1' }), makeNode('big', { cpu: '8' })]);
  const r = new SchedulingAlgorithm().schedulePod(frameworkFor(plugins, snapshot), new CycleState(), podInfoFor(makePod('p', { cpu: '4' })), snapshot);
  assert.deepEqual(r, { suggestedHost: 'big', evaluatedNodes: 2, feasibleNodes: 1 });
});

test('When no node fits, the FitError message lists each reason with its node count.', () => {
  const snapshot = Snapshot.fromObjects([
    makeNode('cp', { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }),
    makeNode('w1', { cpu: '1' }),
    makeNode('w2', { cpu: '1', labels: { disk: 'hdd' } }),
  ]);
  const r = new SchedulingAlgorithm().schedulePod(frameworkFor(plugins, snapshot), new CycleState(), podInfoFor(makePod('p', { cpu: '2' })), snapshot);
  assert.ok(r instanceof FitError);
  assert.equal(r.message, '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.');
  assert.deepEqual([...r.diagnosis.unschedulablePlugins].sort(), ['NodeResourcesFit', 'TaintToleration']);
});

test('Nodes PreFilter excluded count under "didn\'t satisfy plugin(s)".', () => {
  const snapshot = Snapshot.fromObjects([makeNode('a', { cpu: '1' }), makeNode('b'), makeNode('c')]);
  const pod = makePod('p', {
    cpu: '2',
    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['a'] }] }] } } },
  });
  const r = new SchedulingAlgorithm().schedulePod(frameworkFor(plugins, snapshot), new CycleState(), podInfoFor(pod), snapshot);
  assert.ok(r instanceof FitError);
  assert.equal(r.message, "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity].");
});

test('A nominated node that fits is chosen without looking at the others.', () => {
  const snapshot = Snapshot.fromObjects([makeNode('a'), makeNode('b'), makeNode('c')]);
  const r = new SchedulingAlgorithm({ random: () => 0 }).schedulePod(frameworkFor(plugins, snapshot), new CycleState(), podInfoFor(makePod('p', { nominatedNodeName: 'b' })), snapshot);
  assert.deepEqual(r, { suggestedHost: 'b', evaluatedNodes: 1, feasibleNodes: 1 });
});

test('Scoring picks the least loaded node.', () => {
  const snapshot = Snapshot.fromObjects([makeNode('busy'), makeNode('idle')], [makePod('x', { nodeName: 'busy', cpu: '3', memory: '6Gi' })]);
  const r = new SchedulingAlgorithm({ random: () => 0 }).schedulePod(frameworkFor(plugins, snapshot), new CycleState(), podInfoFor(makePod('p', { cpu: '500m', memory: '1Gi' })), snapshot) as ScheduleResult;
  assert.equal(r.suggestedHost, 'idle');
});

test('Zones are interleaved in the node list so the first nodes span zones.', () => {
  const z = (name: string, zone: string) => makeNode(name, { labels: { 'topology.kubernetes.io/zone': zone } });
  const snapshot = Snapshot.fromObjects([z('a1', 'a'), z('a2', 'a'), z('a3', 'a'), z('b1', 'b'), z('c1', 'c'), z('c2', 'c')]);
  assert.deepEqual(snapshot.nodeInfoList.map((n) => n.name), ['a1', 'b1', 'c1', 'a2', 'c2', 'a3']);
});
