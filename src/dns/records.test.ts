import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, RecordType } from 'dns-packet';
import { lookup, soaRecord, srvWeight } from './records.js';
import { ServiceIndex } from './service-index.js';

const svc = (ns: string, name: string, spec: Record<string, unknown>) => ({ metadata: { namespace: ns, name }, spec });
const slice = (ns: string, name: string, service: string, endpoints: unknown[], ports: unknown[] = []) => ({
  metadata: { namespace: ns, name, labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  endpoints,
  ports,
});

function fixture(): ServiceIndex {
  const ix = new ServiceIndex();
  for (const ns of ['default', 'kube-system', 'empty-ns']) ix.setNamespace({ metadata: { name: ns } });
  ix.setService(svc('default', 'web', { clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }] }));
  ix.setService(svc('default', 'dual', { clusterIP: '10.96.0.30', clusterIPs: ['10.96.0.30', 'fd00::30'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
  ix.setService(svc('default', 'noports', { clusterIP: '10.96.0.40' }));
  ix.setService(svc('default', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }));
  ix.setEndpointSlice(
    slice('default', 'db-abc', 'db', [
      { addresses: ['10.0.0.1'], hostname: 'db-0', conditions: { ready: true } },
      { addresses: ['10.0.0.2'] },
      { addresses: ['10.0.0.3'], conditions: { ready: false } },
    ], [{ name: 'pg', port: 5432, protocol: 'TCP' }]),
  );
  ix.setService(svc('default', 'lonely', { clusterIP: 'None' }));
  ix.setService(svc('default', 'ext', { type: 'ExternalName', externalName: 'example.com' }));
  ix.setService(svc('default', 'alias', { type: 'ExternalName', externalName: 'web.default.svc.cluster.local' }));
  // Endpoints of a ClusterIP service: reachable by endpoint name, PTR only with a hostname.
  ix.setEndpointSlice(slice('default', 'web-1', 'web', [{ addresses: ['10.0.1.1'] }, { addresses: ['10.0.1.2'], hostname: 'named' }], [{ name: 'http', port: 8080, protocol: 'TCP' }]));
  return ix;
}

const show = (rs: Answer[]) =>
  rs.map((r) => {
    const d = (r as { data: unknown }).data;
    if (r.type === 'SRV') {
      const s = d as { priority: number; weight: number; port: number; target: string };
      return `${r.name} SRV ${s.priority} ${s.weight} ${s.port} ${s.target}`;
    }
    if (r.type === 'SOA') return `${r.name} SOA`;
    return `${r.name} ${r.type} ${Array.isArray(d) ? d.join(',') : String(d)}`;
  });

const Z = 'cluster.local';
const cases: { what: string; name: string; type: RecordType; rcode?: string; answers?: string[]; additionals?: string[]; soa?: boolean; forward?: boolean; chase?: unknown }[] = [
  { what: 'a ClusterIP Service has its cluster IP', name: 'web.default.svc.cluster.local', type: 'A', answers: ['web.default.svc.cluster.local A 10.96.0.20'] },
  { what: 'the owner name keeps the case of the question', name: 'WEB.default.svc.Cluster.Local.', type: 'A', answers: ['WEB.default.svc.Cluster.Local A 10.96.0.20'] },
  { what: 'an IPv4-only Service has no AAAA record (NODATA with SOA)', name: 'web.default.svc.cluster.local', type: 'AAAA', soa: true },
  { what: 'a dual-stack Service answers AAAA with its IPv6 cluster IP', name: 'dual.default.svc.cluster.local', type: 'AAAA', answers: ['dual.default.svc.cluster.local AAAA fd00::30'] },
  { what: 'a Service without ports still has an address', name: 'noports.default.svc.cluster.local', type: 'A', answers: ['noports.default.svc.cluster.local A 10.96.0.40'] },
  { what: 'a Service without ports has no SRV records', name: 'noports.default.svc.cluster.local', type: 'SRV', soa: true },
  { what: 'an unknown Service is NXDOMAIN with the SOA', name: 'nope.default.svc.cluster.local', type: 'A', rcode: 'NXDOMAIN', soa: true },
  { what: 'a Service in a missing namespace is NXDOMAIN', name: 'web.nope.svc.cluster.local', type: 'A', rcode: 'NXDOMAIN', soa: true },
  { what: 'an existing namespace is NODATA', name: 'empty-ns.svc.cluster.local', type: 'A', soa: true },
  { what: 'a missing namespace is NXDOMAIN', name: 'nope.svc.cluster.local', type: 'A', rcode: 'NXDOMAIN', soa: true },
  { what: 'a TXT query on a Service is NODATA', name: 'web.default.svc.cluster.local', type: 'TXT', soa: true },
  { what: 'a named port has an SRV record pointing at the Service', name: '_http._tcp.web.default.svc.cluster.local', type: 'SRV', answers: ['_http._tcp.web.default.svc.cluster.local SRV 0 100 80 web.default.svc.cluster.local'], additionals: ['web.default.svc.cluster.local A 10.96.0.20'] },
  { what: 'port protocol must match', name: '_http._udp.web.default.svc.cluster.local', type: 'SRV', rcode: 'NXDOMAIN', soa: true },
  { what: 'an SRV query on the Service name lists every port', name: 'web.default.svc.cluster.local', type: 'SRV', answers: ['web.default.svc.cluster.local SRV 0 50 80 web.default.svc.cluster.local', 'web.default.svc.cluster.local SRV 0 50 53 web.default.svc.cluster.local'], additionals: ['web.default.svc.cluster.local A 10.96.0.20'] },
  { what: 'a headless Service has one A record per ready endpoint', name: 'db.default.svc.cluster.local', type: 'A', answers: ['db.default.svc.cluster.local A 10.0.0.1', 'db.default.svc.cluster.local A 10.0.0.2'] },
  { what: 'a headless Service without ready endpoints is NXDOMAIN', name: 'lonely.default.svc.cluster.local', type: 'A', rcode: 'NXDOMAIN', soa: true },
  { what: 'a StatefulSet pod has a record under its hostname', name: 'db-0.db.default.svc.cluster.local', type: 'A', answers: ['db-0.db.default.svc.cluster.local A 10.0.0.1'] },
  { what: 'an endpoint without hostname answers under its dashed address', name: '10-0-0-2.db.default.svc.cluster.local', type: 'A', answers: ['10-0-0-2.db.default.svc.cluster.local A 10.0.0.2'] },
  { what: 'a not-ready endpoint has no record', name: '10-0-0-3.db.default.svc.cluster.local', type: 'A', rcode: 'NXDOMAIN', soa: true },
  { what: 'endpoints of a ClusterIP Service are reachable by name too', name: 'named.web.default.svc.cluster.local', type: 'A', answers: ['named.web.default.svc.cluster.local A 10.0.1.2'] },
  { what: 'headless SRV has one record per endpoint with hostname or dashed target', name: '_pg._tcp.db.default.svc.cluster.local', type: 'SRV', answers: ['_pg._tcp.db.default.svc.cluster.local SRV 0 50 5432 db-0.db.default.svc.cluster.local', '_pg._tcp.db.default.svc.cluster.local SRV 0 50 5432 10-0-0-2.db.default.svc.cluster.local'], additionals: ['db-0.db.default.svc.cluster.local A 10.0.0.1', '10-0-0-2.db.default.svc.cluster.local A 10.0.0.2'] },
  { what: 'an ExternalName Service is a CNAME, chased upstream for A', name: 'ext.default.svc.cluster.local', type: 'A', answers: ['ext.default.svc.cluster.local CNAME example.com'], chase: { name: 'example.com', type: 'A' } },
  { what: 'a CNAME query on an ExternalName Service is just the CNAME', name: 'ext.default.svc.cluster.local', type: 'CNAME', answers: ['ext.default.svc.cluster.local CNAME example.com'] },
  { what: 'an ExternalName pointing into the zone is followed here', name: 'alias.default.svc.cluster.local', type: 'A', answers: ['alias.default.svc.cluster.local CNAME web.default.svc.cluster.local', 'web.default.svc.cluster.local A 10.96.0.20'] },
  { what: 'a pod name answers with its dashed address (pods insecure)', name: '10-244-1-5.default.pod.cluster.local', type: 'A', answers: ['10-244-1-5.default.pod.cluster.local A 10.244.1.5'] },
  { what: 'a pod name in a missing namespace is NXDOMAIN', name: '10-244-1-5.nope.pod.cluster.local', type: 'A', rcode: 'NXDOMAIN', soa: true },
  { what: 'an IPv6 pod name answers AAAA', name: 'fd00--5.default.pod.cluster.local', type: 'AAAA', answers: ['fd00--5.default.pod.cluster.local AAAA fd00::5'] },
  { what: 'a cluster IP has a PTR to its Service', name: '20.0.96.10.in-addr.arpa', type: 'PTR', answers: ['20.0.96.10.in-addr.arpa PTR web.default.svc.cluster.local'] },
  { what: 'an endpoint with a hostname has a PTR', name: '1.0.0.10.in-addr.arpa.', type: 'PTR', answers: ['1.0.0.10.in-addr.arpa PTR db-0.db.default.svc.cluster.local'] },
  { what: 'an endpoint without hostname has no PTR here: forwarded', name: '2.0.0.10.in-addr.arpa', type: 'PTR', forward: true },
  { what: 'an unknown address is forwarded (fallthrough)', name: '8.8.8.8.in-addr.arpa', type: 'PTR', forward: true },
  { what: 'an IPv6 cluster IP has a PTR under ip6.arpa', name: '0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa', type: 'PTR', answers: ['0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa PTR dual.default.svc.cluster.local'] },
  { what: 'names outside the zone are forwarded', name: 'example.com', type: 'A', forward: true },
  { what: 'the zone apex answers SOA', name: 'cluster.local', type: 'SOA', answers: ['cluster.local SOA'] },
  { what: 'the zone apex answers NS', name: 'cluster.local', type: 'NS', answers: ['cluster.local NS ns.dns.cluster.local'] },
  { what: 'dns-version answers the schema version', name: 'dns-version.cluster.local', type: 'TXT', answers: ['dns-version.cluster.local TXT 1.1.0'] },
  { what: 'a name too long for the schema is NXDOMAIN', name: 'a.b.c.web.default.svc.cluster.local', type: 'A', rcode: 'NXDOMAIN', soa: true },
];

for (const c of cases) {
  test(`lookup: ${c.what}`, () => {
    const r = lookup(fixture(), c.name, c.type, { zone: Z, ttl: 5 });
    if (c.forward) {
      assert.equal(r.forward, true);
      return;
    }
    assert.equal(r.forward, undefined, 'not forwarded');
    assert.equal(r.rcode, c.rcode ?? 'NOERROR');
    assert.deepEqual(show(r.answers), c.answers ?? []);
    if (c.additionals) assert.deepEqual(show(r.additionals), c.additionals);
    assert.equal(r.authorities.length > 0, !!c.soa, 'SOA in authority');
    assert.deepEqual(r.chase, c.chase);
    for (const a of r.answers) if (a.type !== 'SOA') assert.equal((a as { ttl: number }).ttl, 5);
  });
}

test('the negative-answer SOA carries CoreDNS timers and the TTL as minimum', () => {
  const r = lookup(fixture(), 'nope.default.svc.cluster.local', 'A', { zone: Z, ttl: 5 });
  const soa = r.authorities[0];
  assert.ok(soa?.type === 'SOA', 'the authority record is an SOA');
  assert.equal(soa.ttl, 5);
  assert.deepEqual({ ...soa.data, serial: 0 }, { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 0, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 });
  assert.equal((soaRecord(Z, 600, 1) as { ttl: number }).ttl, 300, 'SOA TTL is capped at 300');
});

test('before the informers sync a negative answer is SERVFAIL, a positive one is served', () => {
  const ix = fixture();
  assert.equal(lookup(ix, 'nope.default.svc.cluster.local', 'A', { zone: Z, ttl: 5, synced: false }).rcode, 'SERVFAIL');
  assert.equal(lookup(ix, 'web.default.svc.cluster.local', 'A', { zone: Z, ttl: 5, synced: false }).rcode, 'NOERROR');
});

test('updates and deletions of Services and slices change the answers at once', () => {
  const ix = fixture();
  ix.setService(svc('default', 'web', { clusterIP: '10.96.0.21', ports: [{ name: 'http', port: 80 }] }));
  assert.deepEqual(show(lookup(ix, 'web.default.svc.cluster.local', 'A', { zone: Z, ttl: 5 }).answers), ['web.default.svc.cluster.local A 10.96.0.21']);
  assert.equal(lookup(ix, '20.0.96.10.in-addr.arpa', 'PTR', { zone: Z, ttl: 5 }).forward, true, 'the old cluster IP has no PTR any more');
  ix.deleteEndpointSlice({ metadata: { namespace: 'default', name: 'db-abc' } });
  assert.equal(lookup(ix, 'db.default.svc.cluster.local', 'A', { zone: Z, ttl: 5 }).rcode, 'NXDOMAIN');
  ix.deleteService({ metadata: { namespace: 'default', name: 'web' } });
  assert.equal(lookup(ix, 'web.default.svc.cluster.local', 'A', { zone: Z, ttl: 5 }).rcode, 'NXDOMAIN');
  assert.deepEqual(ix.size(), { services: 6, slices: 1, namespaces: 3 });
});

test('srvWeight shares 100 among equal records as CoreDNS does', () => {
  const cases: [number, number][] = [[1, 100], [2, 50], [3, 33], [150, 1]];
  for (const [n, w] of cases) assert.equal(srvWeight(n), w);
});

test('ExternalName Services pointing at each other end without looping', () => {
  const ix = fixture();
  ix.setService(svc('default', 'ping', { type: 'ExternalName', externalName: 'pong.default.svc.cluster.local' }));
  ix.setService(svc('default', 'pong', { type: 'ExternalName', externalName: 'ping.default.svc.cluster.local.' }));
  const r = lookup(ix, 'ping.default.svc.cluster.local', 'A', { zone: Z, ttl: 5 });
  assert.equal(r.rcode, 'NOERROR');
  assert.equal(r.answers[0].type, 'CNAME');
  assert.ok(r.answers.length <= 10, `${r.answers.length} records`);
  assert.equal(r.chase, undefined);
});
