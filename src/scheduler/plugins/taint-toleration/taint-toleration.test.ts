import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeNode, makePod } from '../../testing/builders.js';
import { filterAll, scoreAll } from '../../testing/harness.js';
import { New } from './taint-toleration.js';

const cp = makeNode('cp', { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] });
const gpu = makeNode('gpu', { taints: [{ key: 'gpu', value: 'true', effect: 'NoExecute' }] });
const soft = makeNode('soft', { taints: [{ key: 'spot', value: 'yes', effect: 'PreferNoSchedule' }] });
const plain = makeNode('plain');
const nodes = [cp, gpu, soft, plain];

const filterCases = [
  {
    name: 'A pod without tolerations is kept off NoSchedule and NoExecute taints but not PreferNoSchedule ones.',
    pod: makePod('p'),
    want: {
      cp: 'UnschedulableAndUnresolvable: node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }',
      gpu: 'UnschedulableAndUnresolvable: node(s) had untolerated taint {gpu: true}',
      soft: 'Success',
      plain: 'Success',
    },
  },
  {
    name: 'An Equal toleration with the matching value tolerates the taint.',
    pod: makePod('p', { tolerations: [{ key: 'gpu', operator: 'Equal', value: 'true', effect: 'NoExecute' }] }),
    want: { cp: 'UnschedulableAndUnresolvable: node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }', gpu: 'Success', soft: 'Success', plain: 'Success' },
  },
  {
    name: 'An Equal toleration with another value does not tolerate the taint.',
    pod: makePod('p', { tolerations: [{ key: 'gpu', value: 'false' }] }),
    want: {
      cp: 'UnschedulableAndUnresolvable: node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }',
      gpu: 'UnschedulableAndUnresolvable: node(s) had untolerated taint {gpu: true}',
      soft: 'Success',
      plain: 'Success',
    },
  },
  {
    name: 'An Exists toleration without effect tolerates the key with any value and effect.',
    pod: makePod('p', { tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' }] }),
    want: { cp: 'Success', gpu: 'UnschedulableAndUnresolvable: node(s) had untolerated taint {gpu: true}', soft: 'Success', plain: 'Success' },
  },
];
for (const tc of filterCases) test(tc.name, () => assert.deepEqual(filterAll(['TaintToleration'], tc.pod, nodes).nodes, tc.want));

const scoreCases = [
  {
    name: 'Nodes with untolerated PreferNoSchedule taints score lower (reverse-normalised count).',
    pod: makePod('p'),
    nodes: [soft, plain, makeNode('two', { taints: [{ key: 'a', effect: 'PreferNoSchedule' }, { key: 'b', effect: 'PreferNoSchedule' }] })],
    want: { soft: 50, plain: 100, two: 0 },
  },
  {
    name: 'A toleration with an empty effect also covers PreferNoSchedule taints.',
    pod: makePod('p', { tolerations: [{ key: 'spot', operator: 'Exists' }] }),
    nodes: [soft, plain],
    want: { soft: 100, plain: 100 },
  },
  {
    name: 'Taints with other effects do not count when scoring.',
    pod: makePod('p'),
    nodes: [cp, plain],
    want: { cp: 100, plain: 100 },
  },
];
for (const tc of scoreCases) test(tc.name, () => assert.deepEqual(scoreAll(['TaintToleration'], tc.pod, tc.nodes), tc.want));

test('Removing an untolerated taint requeues the pod; adding one does not.', () => {
  const [reg] = New().eventsToRegister();
  const pod = makePod('p');
  assert.equal(reg.hint!(pod, cp, plain), 'Queue');
  assert.equal(reg.hint!(pod, plain, cp), 'QueueSkip');
});
