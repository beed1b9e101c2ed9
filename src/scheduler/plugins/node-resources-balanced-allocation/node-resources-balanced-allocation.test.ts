import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeNode, makePod } from '../../testing/builders.js';
import { scoreAll } from '../../testing/harness.js';
import { balancedResourceScorer } from './node-resources-balanced-allocation.js';

const nodes = [makeNode('a', { cpu: '4', memory: '8Gi' }), makeNode('b', { cpu: '2', memory: '8Gi' })];
const cases = [
  { name: 'Equal cpu and memory fractions score 100; unequal ones lose half their difference.', pod: makePod('p', { cpu: '1', memory: '2Gi' }), existing: [], want: { a: 100, b: 87 } },
  {
    name: 'Existing pods count by their real requests, not the scoring defaults.',
    pod: makePod('p', { cpu: '1', memory: '2Gi' }),
    existing: [makePod('e', { nodeName: 'a' })],
    want: { a: 100, b: 87 },
  },
  { name: 'A best-effort pod (no requests) is not scored.', pod: makePod('p'), existing: [], want: { a: 0, b: 0 } },
];
for (const tc of cases) test(tc.name, () => assert.deepEqual(scoreAll(['NodeResourcesBalancedAllocation'], tc.pod, nodes, tc.existing), tc.want));

const formula = [
  { name: 'Fractions above 1 are capped.', req: [8, 1], alloc: [4, 4], want: 62 },
  { name: 'Resources with zero allocatable are ignored.', req: [1, 5], alloc: [2, 0], want: 100 },
  { name: 'Three resources use the population standard deviation.', req: [1, 2, 3], alloc: [4, 4, 4], want: 79 },
];
for (const tc of formula) test(tc.name, () => assert.equal(balancedResourceScorer(tc.req, tc.alloc), tc.want));
