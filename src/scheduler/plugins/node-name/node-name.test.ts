import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterAll } from '../../testing/harness.js';
import { makeNode, makePod } from '../../testing/builders.js';
import { New } from './node-name.js';

const nodes = [makeNode('a'), makeNode('b')];
const cases = [
  { name: 'A pod without spec.nodeName fits every node.', pod: makePod('p'), want: { a: 'Success', b: 'Success' } },
  {
    name: 'A pod naming node a fits only node a.',
    pod: makePod('p', { nodeName: 'a' }),
    want: { a: 'Success', b: "UnschedulableAndUnresolvable: node(s) didn't match the requested node name" },
  },
  {
    name: 'A pod naming a node that does not exist fits none.',
    pod: makePod('p', { nodeName: 'zz' }),
    want: { a: "UnschedulableAndUnresolvable: node(s) didn't match the requested node name", b: "UnschedulableAndUnresolvable: node(s) didn't match the requested node name" },
  },
];
for (const tc of cases) {
  test(tc.name, () => assert.deepEqual(filterAll(['NodeName'], tc.pod, nodes).nodes, tc.want));
}

test('The NodeName queueing hint requeues only for the node the pod names.', () => {
  const [reg] = New().eventsToRegister();
  const pod = makePod('p', { nodeName: 'a' });
  assert.equal(reg.hint!(pod, undefined, makeNode('a')), 'Queue');
  assert.equal(reg.hint!(pod, undefined, makeNode('b')), 'QueueSkip');
});
