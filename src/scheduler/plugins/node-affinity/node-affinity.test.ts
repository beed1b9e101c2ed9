import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeAffinity } from '../../framework/types.js';
import { makeNode, makePod } from '../../testing/builders.js';
import { filterAll, scoreAll } from '../../testing/harness.js';
import { New } from './node-affinity.js';

const nodes = [
  makeNode('ssd-a', { labels: { disk: 'ssd', zone: 'a', cores: '8' } }),
  makeNode('hdd-b', { labels: { disk: 'hdd', zone: 'b', cores: '4' } }),
  makeNode('bare', {}),
];
const miss = "UnschedulableAndUnresolvable: node(s) didn't match Pod's node affinity/selector";
const required = (terms: NodeAffinity['requiredDuringSchedulingIgnoredDuringExecution']) => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: terms } });

const filterCases = [
  { name: 'A pod with neither nodeSelector nor node affinity fits every node.', pod: makePod('p'), want: { 'ssd-a': 'Success', 'hdd-b': 'Success', bare: 'Success' } },
  { name: 'A nodeSelector requires every listed label to be equal.', pod: makePod('p', { nodeSelector: { disk: 'ssd', zone: 'a' } }), want: { 'ssd-a': 'Success', 'hdd-b': miss, bare: miss } },
  {
    name: 'Required node selector terms are ORed, expressions within a term ANDed.',
    pod: makePod('p', {
      affinity: required({
        nodeSelectorTerms: [
          { matchExpressions: [{ key: 'disk', operator: 'In', values: ['hdd'] }, { key: 'zone', operator: 'In', values: ['b'] }] },
          { matchExpressions: [{ key: 'disk', operator: 'DoesNotExist' }] },
        ],
      }),
    }),
    want: { 'ssd-a': miss, 'hdd-b': 'Success', bare: 'Success' },
  },
  {
    name: 'Gt compares label values as integers.',
    pod: makePod('p', { affinity: required({ nodeSelectorTerms: [{ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['6'] }] }] }) }),
    want: { 'ssd-a': 'Success', 'hdd-b': miss, bare: miss },
  },
  {
    name: 'NotIn matches nodes without the label.',
    pod: makePod('p', { affinity: required({ nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: 'NotIn', values: ['ssd'] }] }] }) }),
    want: { 'ssd-a': miss, 'hdd-b': 'Success', bare: 'Success' },
  },
  {
    name: 'An empty node selector term matches nothing.',
    pod: makePod('p', { affinity: required({ nodeSelectorTerms: [{}] }) }),
    want: { 'ssd-a': miss, 'hdd-b': miss, bare: miss },
  },
  {
    name: 'nodeSelector and required affinity must both hold.',
    pod: makePod('p', { nodeSelector: { disk: 'ssd' }, affinity: required({ nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] }] }) }),
    want: { 'ssd-a': miss, 'hdd-b': miss, bare: miss },
  },
];
for (const tc of filterCases) test(tc.name, () => assert.deepEqual(filterAll(['NodeAffinity'], tc.pod, nodes).nodes, tc.want));

test('A term pinning metadata.name narrows Filter to that node in PreFilter.', () => {
  const pod = makePod('p', { affinity: required({ nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['hdd-b'] }] }] }) });
  const got = filterAll(['NodeAffinity'], pod, nodes);
  assert.deepEqual(got.preFilterNodes, ['hdd-b']);
  assert.equal(got.nodes['hdd-b'], 'Success');
  assert.equal(got.nodes['ssd-a'], miss);
});

test('Terms pinning conflicting node names reject the pod in PreFilter.', () => {
  const pod = makePod('p', {
    affinity: required({
      nodeSelectorTerms: [
        {
          matchFields: [
            { key: 'metadata.name', operator: 'In', values: ['ssd-a'] },
            { key: 'metadata.name', operator: 'In', values: ['hdd-b'] },
          ],
        },
      ],
    }),
  });
  assert.deepEqual(filterAll(['NodeAffinity'], pod, nodes), { preFilter: 'UnschedulableAndUnresolvable: pod affinity terms conflict', nodes: {} });
});

test('Scheduler-enforced added affinity rejects non-matching nodes with its own reason.', () => {
  const pod = makePod('p');
  const cfg = { name: 'NodeAffinity', args: { addedAffinity: required({ nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }] }).nodeAffinity } };
  assert.deepEqual(filterAll([cfg], pod, nodes).nodes, {
    'ssd-a': 'Success',
    'hdd-b': 'Success',
    bare: "UnschedulableAndUnresolvable: node(s) didn't match scheduler-enforced node affinity",
  });
});

const scoreCases = [
  {
    name: 'Preferred terms add their weights and scores are scaled so the best node gets 100.',
    pod: makePod('p', {
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 2, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } },
            { weight: 8, preference: { matchExpressions: [{ key: 'zone', operator: 'Exists' }] } },
          ],
        },
      },
    }),
    want: { 'ssd-a': 100, 'hdd-b': 80, bare: 0 },
  },
  { name: 'Without preferred terms NodeAffinity scoring is skipped.', pod: makePod('p'), want: { 'ssd-a': 0, 'hdd-b': 0, bare: 0 } },
];
for (const tc of scoreCases) test(tc.name, () => assert.deepEqual(scoreAll(['NodeAffinity'], tc.pod, nodes), tc.want));

test('A node gaining a matching label requeues the pod; an unrelated change does not.', () => {
  const [reg] = New().eventsToRegister();
  const pod = makePod('p', { nodeSelector: { disk: 'ssd' } });
  assert.equal(reg.hint!(pod, nodes[2], makeNode('bare', { labels: { disk: 'ssd' } })), 'Queue');
  assert.equal(reg.hint!(pod, nodes[0], makeNode('ssd-a', { labels: { disk: 'ssd', zone: 'c' } })), 'QueueSkip');
  assert.equal(reg.hint!(pod, undefined, nodes[1]), 'QueueSkip');
});
