import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeNode, makePod } from '../../testing/builders.js';
import { filterAll, scoreAll } from '../../testing/harness.js';
import { leastRequestedScore, mostRequestedScore, New } from './node-resources-fit.js';

const node = makeNode('n', { cpu: '2', memory: '4Gi', pods: 3, ephemeralStorage: '10Gi', extra: { 'example.com/gpu': '1' } });
const filterCases = [
  { name: 'A pod that fits the free resources passes.', pod: makePod('p', { cpu: '1', memory: '1Gi' }), existing: [], want: 'Success' },
  { name: 'A pod asking for more cpu than is free fails with Insufficient cpu.', pod: makePod('p', { cpu: '1500m' }), existing: [makePod('e', { nodeName: 'n', cpu: '1' })], want: 'Unschedulable: Insufficient cpu' },
  {
    name: 'Every missing resource is reported, in upstream order.',
    pod: makePod('p', { requests: { cpu: '3', memory: '5Gi', 'ephemeral-storage': '11Gi', 'example.com/gpu': '2' } }),
    existing: [],
    want: 'Unschedulable: Insufficient cpu, Insufficient memory, Insufficient ephemeral-storage, Insufficient example.com/gpu',
  },
  {
    name: 'A node at its pod limit rejects even a pod that requests nothing.',
    pod: makePod('p'),
    existing: [makePod('e1', { nodeName: 'n' }), makePod('e2', { nodeName: 'n' }), makePod('e3', { nodeName: 'n' })],
    want: 'Unschedulable: Too many pods',
  },
  {
    name: 'Init containers count by their largest step, not their sum.',
    pod: makePod('p', {
      containers: [{ name: 'app', resources: { requests: { cpu: '500m' } } }],
      initContainers: [
        { name: 'i1', resources: { requests: { cpu: '2' } } },
        { name: 'i2', resources: { requests: { cpu: '1' } } },
      ],
    }),
    existing: [],
    want: 'Success',
  },
  {
    name: 'Pod overhead is added to the requests.',
    pod: makePod('p', { cpu: '1900m', overhead: { cpu: '200m' } }),
    existing: [],
    want: 'Unschedulable: Insufficient cpu',
  },
  {
    name: 'A restartable init container (sidecar) adds to the app containers.',
    pod: makePod('p', {
      containers: [{ name: 'app', resources: { requests: { cpu: '1500m' } } }],
      initContainers: [{ name: 'proxy', restartPolicy: 'Always', resources: { requests: { cpu: '600m' } } }],
    }),
    existing: [],
    want: 'Unschedulable: Insufficient cpu',
  },
  { name: 'An extended resource the node lacks is reported by name.', pod: makePod('p', { requests: { 'example.com/fpga': '1' } }), existing: [], want: 'Unschedulable: Insufficient example.com/fpga' },
];
for (const tc of filterCases) test(tc.name, () => assert.equal(filterAll(['NodeResourcesFit'], tc.pod, [node], tc.existing).nodes.n, tc.want));

test('Ignored extended resources and resource groups are not checked.', () => {
  const pod = makePod('p', { requests: { 'example.com/fpga': '1', 'vendor.io/nic': '1' } });
  const cfg = { name: 'NodeResourcesFit', args: { ignoredResources: ['example.com/fpga'], ignoredResourceGroups: ['vendor.io'] } };
  assert.equal(filterAll([cfg], pod, [node]).nodes.n, 'Success');
});

const scoreNodes = [makeNode('a', { cpu: '4', memory: '8Gi' }), makeNode('b', { cpu: '2', memory: '8Gi' })];
const scoreCases = [
  { name: 'LeastAllocated averages the free share of cpu and memory.', pod: makePod('p', { cpu: '1', memory: '2Gi' }), existing: [], want: { a: 75, b: 62 } },
  {
    name: 'LeastAllocated counts pods without requests as 100m cpu and 200Mi memory.',
    pod: makePod('p', { cpu: '1', memory: '2Gi' }),
    existing: [makePod('e', { nodeName: 'a' })],
    want: { a: 72, b: 62 },
  },
  { name: 'A pod without requests is scored with the non-zero defaults.', pod: makePod('p'), existing: [], want: { a: 97, b: 96 } },
];
for (const tc of scoreCases) test(tc.name, () => assert.deepEqual(scoreAll(['NodeResourcesFit'], tc.pod, scoreNodes, tc.existing), tc.want));

test('MostAllocated prefers the fuller node.', () => {
  const cfg = { name: 'NodeResourcesFit', args: { scoringStrategy: { type: 'MostAllocated' } } };
  assert.deepEqual(scoreAll([cfg], makePod('p', { cpu: '1', memory: '2Gi' }), scoreNodes), { a: 25, b: 37 });
});

test('Resource weights change the average.', () => {
  const cfg = { name: 'NodeResourcesFit', args: { scoringStrategy: { resources: [{ name: 'cpu', weight: 3 }, { name: 'memory', weight: 1 }] } } };
  // b: cpu 50 × 3 + memory 75 × 1 = 225 / 4 = 56
  assert.deepEqual(scoreAll([cfg], makePod('p', { cpu: '1', memory: '2Gi' }), scoreNodes), { a: 75, b: 56 });
});

const formulaCases = [
  { name: 'leastRequestedScore is 0 when requests exceed capacity.', got: leastRequestedScore(5, 4), want: 0 },
  { name: 'leastRequestedScore is 0 for zero capacity.', got: leastRequestedScore(0, 0), want: 0 },
  { name: 'leastRequestedScore truncates.', got: leastRequestedScore(1, 3), want: 66 },
  { name: 'mostRequestedScore caps requests at capacity.', got: mostRequestedScore(5, 4), want: 100 },
];
for (const tc of formulaCases) test(tc.name, () => assert.equal(tc.got, tc.want));

test('Deleting a scheduled pod requeues pods NodeResourcesFit rejected; deleting an unscheduled one does not.', () => {
  const [podReg] = New().eventsToRegister();
  const pod = makePod('p', { cpu: '1' });
  assert.equal(podReg.hint!(pod, makePod('x', { nodeName: 'a' }), undefined), 'Queue');
  assert.equal(podReg.hint!(pod, makePod('x'), undefined), 'QueueSkip');
});

test('A node growing enough cpu requeues the pod; one still too small does not.', () => {
  const [, nodeReg] = New().eventsToRegister();
  const pod = makePod('p', { cpu: '3' });
  assert.equal(nodeReg.hint!(pod, makeNode('a', { cpu: '2' }), makeNode('a', { cpu: '4' })), 'Queue');
  assert.equal(nodeReg.hint!(pod, makeNode('a', { cpu: '1' }), makeNode('a', { cpu: '2' })), 'QueueSkip');
  assert.equal(nodeReg.hint!(pod, undefined, makeNode('new', { cpu: '8' })), 'Queue');
});
