import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeNode, makePod } from '../../testing/builders.js';
import { scoreAll } from '../../testing/harness.js';
import { calculatePriority, MaxContainerThreshold, MinThreshold } from './image-locality.js';

const mb = 1024 * 1024;
const cases = [
  {
    name: 'A node with the image scores by size times the share of nodes having it.',
    pod: makePod('p', { image: 'nginx' }),
    nodes: [makeNode('has', { images: [{ names: ['nginx:latest'], sizeBytes: 500 * mb }] }), makeNode('lacks')],
    // 500 MB × 1/2 = 250 MB → (250 − 23) / (1000 − 23) × 100 = 23
    want: { has: 23, lacks: 0 },
  },
  {
    name: 'Images under the 23 MB threshold earn nothing.',
    pod: makePod('p', { image: 'busybox:1.36' }),
    nodes: [makeNode('has', { images: [{ names: ['busybox:1.36'], sizeBytes: 5 * mb }] })],
    want: { has: 0 },
  },
];
for (const tc of cases) test(tc.name, () => assert.deepEqual(scoreAll(['ImageLocality'], tc.pod, tc.nodes), tc.want));

test('calculatePriority is 100 at the per-container maximum.', () => {
  assert.equal(calculatePriority(MaxContainerThreshold * 2, 2), 100);
  assert.equal(calculatePriority(MinThreshold, 1), 0);
});
