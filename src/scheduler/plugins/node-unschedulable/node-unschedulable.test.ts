import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeNode, makePod } from '../../testing/builders.js';
import { filterAll } from '../../testing/harness.js';
import { New } from './node-unschedulable.js';

const cordoned = makeNode('cordoned', { unschedulable: true });
const open = makeNode('open');
const rejected = 'UnschedulableAndUnresolvable: node(s) were unschedulable';

const cases = [
  { name: 'A pod without tolerations avoids a cordoned node.', pod: makePod('p'), want: { cordoned: rejected, open: 'Success' } },
  {
    name: 'A pod tolerating node.kubernetes.io/unschedulable:NoSchedule may use a cordoned node.',
    pod: makePod('p', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] }),
    want: { cordoned: 'Success', open: 'Success' },
  },
  {
    name: 'A pod tolerating every taint (empty key, Exists) may use a cordoned node.',
    pod: makePod('p', { tolerations: [{ operator: 'Exists' }] }),
    want: { cordoned: 'Success', open: 'Success' },
  },
  {
    name: 'A toleration for a different effect does not help.',
    pod: makePod('p', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoExecute' }] }),
    want: { cordoned: rejected, open: 'Success' },
  },
];
for (const tc of cases) test(tc.name, () => assert.deepEqual(filterAll(['NodeUnschedulable'], tc.pod, [cordoned, open]).nodes, tc.want));

test('Uncordoning a node requeues pods NodeUnschedulable rejected; cordoning does not.', () => {
  const [reg] = New().eventsToRegister();
  const pod = makePod('p');
  assert.equal(reg.hint!(pod, cordoned, open), 'Queue');
  assert.equal(reg.hint!(pod, open, cordoned), 'QueueSkip');
  assert.equal(reg.hint!(pod, undefined, open), 'Queue');
});
