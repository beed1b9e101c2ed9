import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makePod } from '../testing/builders.js';
import { FitError, newDiagnosis, NodeToStatus } from './fit-error.js';
import { podInfoFor } from './pod-info.js';
import { Code, Status } from './status.js';

const pod = podInfoFor(makePod('p'));
const st = (code: Code, ...reasons: string[]) => new Status(code, reasons);

const cases = [
  {
    name: 'Reasons are counted per node and sorted as strings, then the preemption message follows.',
    statuses: {
      cp: st(Code.UnschedulableAndUnresolvable, 'node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }'),
      w1: st(Code.Unschedulable, 'Insufficient cpu'),
      w2: st(Code.Unschedulable, 'Insufficient cpu'),
    },
    numAll: 3,
    post: 'preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.',
    want: '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.',
  },
  {
    name: 'A node with several reasons counts toward each of them.',
    statuses: { a: st(Code.Unschedulable, 'Insufficient cpu', 'Insufficient memory'), b: st(Code.Unschedulable, 'Insufficient memory') },
    numAll: 2,
    post: '',
    want: '0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory.',
  },
  {
    name: 'Counts sort as text, so 10 comes before 2.',
    statuses: Object.fromEntries<Status>([
      ...Array.from({ length: 10 }, (_, i) => [`t${i}`, st(Code.Unschedulable, 'Too many pods')] as const),
      ['x', st(Code.Unschedulable, 'Insufficient cpu')],
      ['y', st(Code.Unschedulable, 'Insufficient cpu')],
    ]),
    numAll: 12,
    post: '',
    want: '0/12 nodes are available: 10 Too many pods, 2 Insufficient cpu.',
  },
];
for (const tc of cases) {
  test(tc.name, () => {
    const d = newDiagnosis();
    for (const [n, s] of Object.entries(tc.statuses)) d.nodeToStatus.set(n, s);
    d.postFilterMsg = tc.post;
    assert.equal(new FitError(pod, tc.numAll, d).message, tc.want);
  });
}

test('Nodes without an explicit status count toward the absent-nodes status.', () => {
  const d = newDiagnosis();
  d.nodeToStatus = new NodeToStatus(st(Code.UnschedulableAndUnresolvable, "node(s) didn't satisfy plugin(s) [NodeAffinity]"));
  d.nodeToStatus.set('a', st(Code.Unschedulable, 'Insufficient cpu'));
  assert.equal(new FitError(pod, 3, d).message, "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity].");
});

test('A PreFilter rejection replaces the per-node reasons.', () => {
  const d = newDiagnosis();
  d.preFilterMsg = 'pod affinity terms conflict';
  d.nodeToStatus.absentNodesStatus = st(Code.UnschedulableAndUnresolvable, 'pod affinity terms conflict');
  assert.equal(new FitError(pod, 4, d).message, '0/4 nodes are available: pod affinity terms conflict.');
});
