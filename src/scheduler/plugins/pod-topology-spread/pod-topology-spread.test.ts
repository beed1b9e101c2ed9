import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TopologySpreadConstraint } from '../../framework/types.js';
import { makeNode, makePod } from '../../testing/builders.js';
import { filterAll, scoreAll } from '../../testing/harness.js';

const zone = 'topology.kubernetes.io/zone';
const nodes = [
  makeNode('a1', { labels: { [zone]: 'a' } }),
  makeNode('a2', { labels: { [zone]: 'a' } }),
  makeNode('b1', { labels: { [zone]: 'b', disk: 'ssd' } }),
  makeNode('nolabel'),
];
const web = (name: string, node: string, extra: Parameters<typeof makePod>[1] = {}) => makePod(name, { nodeName: node, labels: { app: 'web' }, ...extra });
const spread = (key: string, maxSkew: number, more: Partial<TopologySpreadConstraint> = {}): TopologySpreadConstraint => ({
  maxSkew,
  topologyKey: key,
  whenUnsatisfiable: 'DoNotSchedule',
  labelSelector: { matchLabels: { app: 'web' } },
  ...more,
});
const skew = "Unschedulable: node(s) didn't match pod topology spread constraints";
const missing = "UnschedulableAndUnresolvable: node(s) didn't match pod topology spread constraints (missing required label)";

const filterCases = [
  {
    name: 'A zone with two more matching pods than the emptiest is over maxSkew 1; the node without the zone label is ruled out.',
    pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [spread(zone, 1)] }),
    existing: [web('w1', 'a1'), web('w2', 'a1')],
    want: { a1: skew, a2: skew, b1: 'Success', nolabel: missing },
  },
  {
    name: 'A pod its own selector does not match adds no skew.',
    pod: makePod('p', { labels: { app: 'other' }, topologySpreadConstraints: [spread(zone, 1)] }),
    existing: [web('w1', 'a1')],
    want: { a1: 'Success', a2: 'Success', b1: 'Success', nolabel: missing },
  },
  {
    name: 'With fewer domains than minDomains the global minimum counts as zero.',
    pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [spread(zone, 1, { minDomains: 3 })] }),
    existing: [web('w1', 'a1'), web('w2', 'b1')],
    want: { a1: skew, a2: skew, b1: skew, nolabel: missing },
  },
  {
    name: 'Without minDomains the same placement is within maxSkew.',
    pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [spread(zone, 1)] }),
    existing: [web('w1', 'a1'), web('w2', 'b1')],
    want: { a1: 'Success', a2: 'Success', b1: 'Success', nolabel: missing },
  },
  {
    name: 'Terminating pods and pods in other namespaces are not counted.',
    pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [spread(zone, 1)] }),
    existing: [web('w1', 'a1', { deletionTimestamp: '2024-01-01T00:00:00Z' }), web('w2', 'a1', { namespace: 'other' })],
    want: { a1: 'Success', a2: 'Success', b1: 'Success', nolabel: missing },
  },
  {
    name: 'Spreading by hostname counts each node as its own domain.',
    pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [spread('kubernetes.io/hostname', 1)] }),
    existing: [web('w1', 'a1'), web('w2', 'a1')],
    want: { a1: skew, a2: 'Success', b1: 'Success', nolabel: 'Success' },
  },
  {
    name: 'With nodeAffinityPolicy Honor, domains the pod cannot reach do not set the minimum (NodeAffinity rules those nodes out).',
    pod: makePod('p', { labels: { app: 'web' }, nodeSelector: { disk: 'ssd' }, topologySpreadConstraints: [spread(zone, 1)] }),
    existing: [web('w1', 'b1')],
    want: { a1: 'Success', a2: 'Success', b1: 'Success', nolabel: missing },
  },
  {
    name: 'With nodeAffinityPolicy Ignore, an empty unreachable zone keeps the minimum at zero.',
    pod: makePod('p', { labels: { app: 'web' }, nodeSelector: { disk: 'ssd' }, topologySpreadConstraints: [spread(zone, 1, { nodeAffinityPolicy: 'Ignore' })] }),
    existing: [web('w1', 'b1')],
    want: { a1: 'Success', a2: 'Success', b1: skew, nolabel: missing },
  },
  {
    name: 'matchLabelKeys narrows the selector to pods sharing the listed label values.',
    pod: makePod('p', { labels: { app: 'web', rev: '2' }, topologySpreadConstraints: [spread(zone, 1, { matchLabelKeys: ['rev'] })] }),
    existing: [web('w1', 'a1', { labels: { app: 'web', rev: '1' } }), web('w2', 'a1', { labels: { app: 'web', rev: '1' } })],
    want: { a1: 'Success', a2: 'Success', b1: 'Success', nolabel: missing },
  },
];
for (const tc of filterCases) test(tc.name, () => assert.deepEqual(filterAll(['PodTopologySpread'], tc.pod, nodes, tc.existing).nodes, tc.want));

test('A pod without spread constraints skips PodTopologySpread entirely.', () => {
  assert.deepEqual(filterAll(['PodTopologySpread'], makePod('p'), nodes).nodes, { a1: 'Success', a2: 'Success', b1: 'Success', nolabel: 'Success' });
});

const soft = (key: string): TopologySpreadConstraint => ({ ...spread(key, 1), whenUnsatisfiable: 'ScheduleAnyway' });
const scoreCases = [
  {
    name: 'Zones with fewer matching pods score higher; nodes missing the key score 0.',
    pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [soft(zone)] }),
    existing: [web('w1', 'a1'), web('w2', 'a1'), web('w3', 'b1')],
    // counts a=2, b=1, weight ln(2+2): a → round(2.77)=3, b → round(1.39)=1; normalised 100×(3+1−s)/3.
    want: { a1: 33, a2: 33, b1: 100, nolabel: 0 },
  },
  {
    name: 'Spreading by hostname prefers nodes with fewer matching pods.',
    pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [soft('kubernetes.io/hostname')] }),
    existing: [web('w1', 'a1'), web('w2', 'a1')],
    // weight ln(4+2)=1.79: a1 → round(3.58)=4, others 0; min 0, max 4 → 100×(4−s)/4.
    want: { a1: 0, a2: 100, b1: 100, nolabel: 100 },
  },
  {
    name: 'With no matching pods anywhere every scored node gets 100.',
    pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [soft(zone)] }),
    existing: [],
    want: { a1: 100, a2: 100, b1: 100, nolabel: 0 },
  },
];
for (const tc of scoreCases) test(tc.name, () => assert.deepEqual(scoreAll(['PodTopologySpread'], tc.pod, nodes, tc.existing), tc.want));
