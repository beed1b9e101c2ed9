import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PodAffinityTerm } from '../../framework/types.js';
import { makeNode, makePod } from '../../testing/builders.js';
import { filterAll, scoreAll } from '../../testing/harness.js';

const zone = 'topology.kubernetes.io/zone';
const host = 'kubernetes.io/hostname';
const nodes = [makeNode('n1', { labels: { [zone]: 'a' } }), makeNode('n2', { labels: { [zone]: 'a' } }), makeNode('n3', { labels: { [zone]: 'b' } }), makeNode('n4')];
const term = (app: string, key: string, more: Partial<PodAffinityTerm> = {}): PodAffinityTerm => ({ labelSelector: { matchLabels: { app } }, topologyKey: key, ...more });
const db = makePod('db', { nodeName: 'n1', labels: { app: 'db' } });
const affNo = "UnschedulableAndUnresolvable: node(s) didn't match pod affinity rules";
const antiNo = "Unschedulable: node(s) didn't match pod anti-affinity rules";
const existingNo = "Unschedulable: node(s) didn't satisfy existing pods anti-affinity rules";

const filterCases = [
  {
    name: 'Required affinity admits only nodes in a zone that has a matching pod.',
    pod: makePod('p', { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('db', zone)] } } }),
    existing: [db],
    want: { n1: 'Success', n2: 'Success', n3: affNo, n4: affNo },
  },
  {
    name: 'Required anti-affinity keeps the pod off the node hosting a matching pod.',
    pod: makePod('p', { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('db', host)] } } }),
    existing: [db],
    want: { n1: antiNo, n2: 'Success', n3: 'Success', n4: 'Success' },
  },
  {
    name: "An existing pod's required anti-affinity repels matching pods from its whole zone.",
    pod: makePod('p', { labels: { app: 'web' } }),
    existing: [makePod('guard', { nodeName: 'n2', affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('web', zone)] } } })],
    want: { n1: existingNo, n2: existingNo, n3: 'Success', n4: 'Success' },
  },
  {
    name: 'The first pod of a self-affine group may go to any node that has the topology key.',
    pod: makePod('p', { labels: { app: 'web' }, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('web', zone)] } } }),
    existing: [db],
    want: { n1: 'Success', n2: 'Success', n3: 'Success', n4: affNo },
  },
  {
    name: 'A term looks only in its own namespaces.',
    pod: makePod('p', { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('db', zone, { namespaces: ['other'] })] } } }),
    existing: [db],
    want: { n1: affNo, n2: affNo, n3: affNo, n4: affNo },
  },
  {
    name: 'An empty namespaceSelector matches pods in every namespace.',
    pod: makePod('p', { namespace: 'other', affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('db', zone, { namespaceSelector: {} })] } } }),
    existing: [db],
    want: { n1: 'Success', n2: 'Success', n3: affNo, n4: affNo },
  },
  {
    name: 'A namespaceSelector is matched against the namespace labels.',
    pod: makePod('p', {
      namespace: 'other',
      affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('db', zone, { namespaceSelector: { matchLabels: { team: 'data' } } })] } },
    }),
    existing: [db],
    nsLabels: { default: { team: 'data' } },
    want: { n1: 'Success', n2: 'Success', n3: affNo, n4: affNo },
  },
];
for (const tc of filterCases) {
  test(tc.name, () => {
    const ns = tc.nsLabels as Record<string, Record<string, string>> | undefined;
    assert.deepEqual(filterAll(['InterPodAffinity'], tc.pod, nodes, tc.existing, { namespaceLabels: (n) => ns?.[n] }).nodes, tc.want);
  });
}

const scoreCases = [
  {
    name: 'Preferred affinity favours the zone with a matching pod.',
    pod: makePod('p', { affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 5, podAffinityTerm: term('db', zone) }] } } }),
    existing: [db],
    want: { n1: 100, n2: 100, n3: 0, n4: 0 },
  },
  {
    name: 'Preferred anti-affinity penalises the node with a matching pod.',
    pod: makePod('p', { affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 5, podAffinityTerm: term('db', host) }] } } }),
    existing: [db],
    want: { n1: 0, n2: 100, n3: 100, n4: 100 },
  },
  {
    name: "An existing pod's required affinity to the incoming pod pulls it into that pod's zone.",
    pod: makePod('p', { labels: { app: 'web' } }),
    existing: [makePod('fan', { nodeName: 'n3', affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('web', zone)] } } })],
    want: { n1: 0, n2: 0, n3: 100, n4: 0 },
  },
  {
    name: 'Without any affinity terms around, scoring is skipped.',
    pod: makePod('p'),
    existing: [db],
    want: { n1: 0, n2: 0, n3: 0, n4: 0 },
  },
];
for (const tc of scoreCases) test(tc.name, () => assert.deepEqual(scoreAll(['InterPodAffinity'], tc.pod, nodes, tc.existing), tc.want));
