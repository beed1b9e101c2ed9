import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryBackedVolumeSize, podMemoryLimitBytes } from './memory-size.js';

const Mi = 1024 * 1024;
const Gi = 1024 * Mi;
const c = (memLimit?: string, extra: Record<string, unknown> = {}) => ({ name: 'c', image: 'i', ...(memLimit ? { resources: { limits: { memory: memLimit } } } : {}), ...extra });
const pod = (containers: object[], initContainers: object[] = [], overhead?: object) => ({ spec: { containers, initContainers, ...(overhead ? { overhead } : {}) } });

test('podMemoryLimitBytes: a limit only when every long-lived container declares one', () => {
  const cases: [string, object, number][] = [
    ['one container with a limit', pod([c('128Mi')]), 128 * Mi],
    ['two containers add up', pod([c('128Mi'), c('64Mi')]), 192 * Mi],
    ['one container without a limit: unlimited', pod([c('128Mi'), c()]), 0],
    ['no limits at all', pod([c()]), 0],
    ['an init container raises the maximum only', pod([c('128Mi')], [c('512Mi')]), 512 * Mi],
    ['an init container without a limit does not make the pod unlimited', pod([c('128Mi')], [c()]), 128 * Mi],
    ['a sidecar without a limit makes it unlimited', pod([c('128Mi')], [c(undefined, { restartPolicy: 'Always' })]), 0],
    ['a sidecar with a limit adds up', pod([c('128Mi')], [c('64Mi', { restartPolicy: 'Always' })]), 192 * Mi],
    ['the overhead is added', pod([c('128Mi')], [], { memory: '16Mi' }), 144 * Mi],
    ['no containers', pod([]), 0],
  ];
  for (const [name, p, want] of cases) assert.equal(podMemoryLimitBytes(p), want, name);
});

test('memoryBackedVolumeSize: allocatable, lowered by the pod limit, lowered by sizeLimit', () => {
  const cases: [string, object, unknown, unknown, number][] = [
    ['node allocatable when nothing else is set', pod([c()]), undefined, '4Gi', 4 * Gi],
    ['the pod limit when below allocatable', pod([c('256Mi')]), undefined, '4Gi', 256 * Mi],
    ['sizeLimit when below the pod limit', pod([c('256Mi')]), '64Mi', '4Gi', 64 * Mi],
    ['a sizeLimit above the pod limit is ignored', pod([c('256Mi')]), '1Gi', '4Gi', 256 * Mi],
    ['a sizeLimit above allocatable is ignored', pod([c()]), '8Gi', '4Gi', 4 * Gi],
    ['a pod limit above allocatable is ignored', pod([c('8Gi')]), undefined, '4Gi', 4 * Gi],
    ['sizeLimit 0 is ignored', pod([c()]), '0', '4Gi', 4 * Gi],
    ['no allocatable known: the pod limit', pod([c('256Mi')]), undefined, undefined, 256 * Mi],
    ['no allocatable known: sizeLimit', pod([c()]), '32Mi', undefined, 32 * Mi],
    ['nothing known: 0, the kernel default', pod([c()]), undefined, undefined, 0],
    ['a malformed sizeLimit is ignored', pod([c()]), 'lots', '4Gi', 4 * Gi],
  ];
  for (const [name, p, sizeLimit, alloc, want] of cases) assert.equal(memoryBackedVolumeSize(p, sizeLimit, alloc), want, name);
});
