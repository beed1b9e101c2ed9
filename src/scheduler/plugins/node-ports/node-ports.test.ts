import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContainerPort } from '../../framework/types.js';
import { makeNode, makePod } from '../../testing/builders.js';
import { filterAll } from '../../testing/harness.js';

const nodes = [makeNode('a'), makeNode('b')];
const busy = "Unschedulable: node(s) didn't have free ports for the requested pod ports";
const on = (node: string, ports: ContainerPort[]) => makePod(`holder-${node}-${ports[0].hostPort}-${ports[0].hostIP ?? ''}-${ports[0].protocol ?? ''}`, { nodeName: node, ports });

const cases = [
  { name: 'A pod without host ports fits anywhere.', pod: makePod('p', { ports: [{ containerPort: 80 }] }), existing: [on('a', [{ containerPort: 80, hostPort: 80 }])], want: { a: 'Success', b: 'Success' } },
  {
    name: 'A host port already taken on a node rules that node out.',
    pod: makePod('p', { ports: [{ containerPort: 80, hostPort: 8080 }] }),
    existing: [on('a', [{ containerPort: 80, hostPort: 8080 }])],
    want: { a: busy, b: 'Success' },
  },
  {
    name: 'The same port over another protocol does not clash.',
    pod: makePod('p', { ports: [{ containerPort: 53, hostPort: 53, protocol: 'UDP' }] }),
    existing: [on('a', [{ containerPort: 53, hostPort: 53, protocol: 'TCP' }])],
    want: { a: 'Success', b: 'Success' },
  },
  {
    name: 'Specific host IPs that differ do not clash.',
    pod: makePod('p', { ports: [{ containerPort: 80, hostPort: 80, hostIP: '10.0.0.2' }] }),
    existing: [on('a', [{ containerPort: 80, hostPort: 80, hostIP: '10.0.0.1' }])],
    want: { a: 'Success', b: 'Success' },
  },
  {
    name: 'The wildcard address clashes with a specific address on the same port.',
    pod: makePod('p', { ports: [{ containerPort: 80, hostPort: 80 }] }),
    existing: [on('a', [{ containerPort: 80, hostPort: 80, hostIP: '10.0.0.1' }])],
    want: { a: busy, b: 'Success' },
  },
  {
    name: 'A specific address clashes with the wildcard address on the same port.',
    pod: makePod('p', { ports: [{ containerPort: 80, hostPort: 80, hostIP: '10.0.0.9' }] }),
    existing: [on('b', [{ containerPort: 80, hostPort: 80, hostIP: '0.0.0.0' }])],
    want: { a: 'Success', b: busy },
  },
];
for (const tc of cases) test(tc.name, () => assert.deepEqual(filterAll(['NodePorts'], tc.pod, nodes, tc.existing).nodes, tc.want));
