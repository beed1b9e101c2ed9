import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResolvConf, podResolvConf, renderResolvConf, type PodDNSConfig } from './dns-config.js';

const HOST = 'nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example. lab.example\noptions edns0 timeout:2\n';
const CLUSTER_SEARCH = ['team.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];

const cases: {
  what: string;
  policy?: string;
  hostNetwork?: boolean;
  clusterDNS?: string | string[];
  domain?: string;
  dnsConfig?: PodDNSConfig;
  host?: string;
  nodeIPs?: string[];
  want: { servers: string[]; searches: string[]; options: string[] };
  warnings?: string[];
}[] = [
  {
    what: 'ClusterFirst uses the cluster DNS, the cluster searches before the host ones, and ndots:5',
    want: { servers: ['10.96.0.10'], searches: [...CLUSTER_SEARCH, 'corp.example', 'lab.example'], options: ['ndots:5'] },
  },
  { what: 'an unset policy means ClusterFirst', policy: '', want: { servers: ['10.96.0.10'], searches: [...CLUSTER_SEARCH, 'corp.example', 'lab.example'], options: ['ndots:5'] } },
  {
    what: 'ClusterFirst on the host network falls back to the host resolv.conf',
    hostNetwork: true,
    want: { servers: ['192.0.2.53', '192.0.2.54'], searches: ['corp.example', 'lab.example'], options: ['edns0', 'timeout:2'] },
  },
  {
    what: 'ClusterFirstWithHostNet uses the cluster DNS even on the host network',
    policy: 'ClusterFirstWithHostNet',
    hostNetwork: true,
    want: { servers: ['10.96.0.10'], searches: [...CLUSTER_SEARCH, 'corp.example', 'lab.example'], options: ['ndots:5'] },
  },
  { what: 'Default copies the host resolv.conf', policy: 'Default', want: { servers: ['192.0.2.53', '192.0.2.54'], searches: ['corp.example', 'lab.example'], options: ['edns0', 'timeout:2'] } },
  {
    what: 'Default without a host resolv.conf resolves through the local machine with no search',
    policy: 'Default',
    host: undefined,
    nodeIPs: ['192.0.2.10', 'fd00::10'],
    want: { servers: ['127.0.0.1', '::1'], searches: ['.'], options: [] },
  },
  {
    what: 'None takes only the pod dnsConfig',
    policy: 'None',
    dnsConfig: { nameservers: ['1.1.1.1'], searches: ['x.example'], options: [{ name: 'ndots', value: '2' }] },
    want: { servers: ['1.1.1.1'], searches: ['x.example'], options: ['ndots:2'] },
  },
  {
    what: 'dnsConfig is appended without duplicates and its options override by name',
    dnsConfig: { nameservers: ['10.96.0.10', '1.1.1.1'], searches: ['svc.cluster.local', 'extra.example'], options: [{ name: 'ndots', value: '1' }, { name: 'edns0' }] },
    want: { servers: ['10.96.0.10', '1.1.1.1'], searches: [...CLUSTER_SEARCH, 'corp.example', 'lab.example', 'extra.example'], options: ['ndots:1', 'edns0'] },
  },
  {
    what: 'ClusterFirst without a cluster DNS falls back to Default and warns',
    clusterDNS: [],
    want: { servers: ['192.0.2.53', '192.0.2.54'], searches: ['corp.example', 'lab.example'], options: ['edns0', 'timeout:2'] },
    warnings: ['MissingClusterDNS'],
  },
  {
    what: 'an empty cluster domain leaves out the cluster searches',
    domain: '',
    want: { servers: ['10.96.0.10'], searches: ['corp.example', 'lab.example'], options: ['ndots:5'] },
  },
  {
    what: 'more than three nameservers are cut to three with a warning',
    dnsConfig: { nameservers: ['1.1.1.1', '8.8.8.8', '9.9.9.9'] },
    want: { servers: ['10.96.0.10', '1.1.1.1', '8.8.8.8'], searches: [...CLUSTER_SEARCH, 'corp.example', 'lab.example'], options: ['ndots:5'] },
    warnings: ['DNSConfigForming'],
  },
  {
    what: 'more than 32 search domains are cut to 32 with a warning',
    policy: 'None',
    dnsConfig: { nameservers: ['1.1.1.1'], searches: Array.from({ length: 40 }, (_, i) => `d${i}.example`) },
    want: { servers: ['1.1.1.1'], searches: Array.from({ length: 32 }, (_, i) => `d${i}.example`), options: [] },
    warnings: ['DNSConfigForming'],
  },
  {
    what: 'a search line over 2048 characters loses domains from the end',
    policy: 'None',
    dnsConfig: { nameservers: ['1.1.1.1'], searches: Array.from({ length: 11 }, (_, i) => `${String(i).padStart(2, '0')}${'a'.repeat(61)}.${'b'.repeat(63)}.${'c'.repeat(63)}.example`) },
    want: { servers: ['1.1.1.1'], searches: Array.from({ length: 10 }, (_, i) => `${String(i).padStart(2, '0')}${'a'.repeat(61)}.${'b'.repeat(63)}.${'c'.repeat(63)}.example`), options: [] },
    warnings: ['DNSConfigForming'],
  },
];

for (const c of cases) {
  test(`podResolvConf: ${c.what}`, () => {
    const host = 'host' in c ? c.host : HOST;
    const got = podResolvConf(c.clusterDNS ?? '10.96.0.10', 'team', c.domain ?? 'cluster.local', c.policy, c.dnsConfig, host, c.hostNetwork ?? false, c.nodeIPs);
    assert.deepEqual({ servers: got.servers, searches: got.searches, options: got.options }, c.want);
    assert.deepEqual(got.warnings.map((w) => w.reason), c.warnings ?? []);
    assert.ok(got.searches.join(' ').length <= 2048);
  });
}

test('parseResolvConf keeps every nameserver, the last search line and the last options line', () => {
  const text = '# comment\nnameserver 10.0.0.1\nsearch a.example\nnameserver 10.0.0.2\nsearch b.example. c.example\noptions ndots:1\noptions rotate\n';
  assert.deepEqual(parseResolvConf(text), { servers: ['10.0.0.1', '10.0.0.2'], searches: ['b.example', 'c.example'], options: ['rotate'] });
});

test('renderResolvConf writes search, nameserver and options lines', () => {
  assert.equal(renderResolvConf({ servers: ['10.96.0.10'], searches: ['a.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] }), 'search a.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n');
  assert.equal(renderResolvConf({ servers: [], searches: [], options: [] }), '');
});
