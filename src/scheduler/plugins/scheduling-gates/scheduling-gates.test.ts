import assert from 'node:assert/strict';
import { test } from 'node:test';
import { podInfoFor } from '../../framework/pod-info.js';
import { makePod } from '../../testing/builders.js';
import { New } from './scheduling-gates.js';

const cases = [
  { name: 'A pod without scheduling gates may enter the active queue.', pod: makePod('p'), want: null },
  { name: 'A gated pod is held back with the gate names.', pod: makePod('p', { schedulingGates: ['a', 'b'] }), want: 'waiting for scheduling gates: [a b]' },
];
for (const tc of cases) {
  test(tc.name, () => {
    const s = New().preEnqueue(podInfoFor(tc.pod));
    assert.equal(s === null ? null : s.message(), tc.want);
  });
}
