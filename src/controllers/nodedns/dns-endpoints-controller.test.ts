import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_DNS_ANNOTATION, desiredDNSEndpoints } from './dns-endpoints-controller.js';

const node = (name: string, dns: string | undefined, ready: string) => ({
  metadata: { name, annotations: dns ? { [CLUSTER_DNS_ANNOTATION]: dns } : {} },
  status: { conditions: [{ type: 'Ready', status: ready }] },
});

test('every node that offers DNS is an endpoint, ready only while the node is Ready', () => {
  const cases: { name: string; nodes: any[]; want: [string, string, boolean][]; port: number }[] = [
    { name: 'no nodes', nodes: [], want: [], port: 53 },
    { name: 'a node without DNS is left out', nodes: [node('a', undefined, 'True')], want: [], port: 53 },
    {
      name: 'ready and lost nodes',
      nodes: [node('b', '10.41.0.3:53', 'Unknown'), node('a', '10.42.0.1:53', 'True')],
      want: [
        ['a', '10.42.0.1', true],
        ['b', '10.41.0.3', false],
      ],
      port: 53,
    },
    { name: 'a non-default port', nodes: [node('a', '10.42.0.1:5353', 'True')], want: [['a', '10.42.0.1', true]], port: 5353 },
  ];
  for (const c of cases) {
    const got = desiredDNSEndpoints(c.nodes);
    assert.deepEqual(
      got.endpoints.map((e) => [e.nodeName, e.addresses[0], e.conditions.ready]),
      c.want,
      c.name,
    );
    assert.equal(got.port, c.port, c.name);
  }
});
