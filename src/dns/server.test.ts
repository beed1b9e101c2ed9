/**
 * Integration: a real API server (controllers off), Services and EndpointSlices written through the
 * RestClient, the cluster DNS on 127.0.0.1:0, queried with Node's resolver and raw dns-packet.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as packet from 'dns-packet';
import { startServer, type RunningServer } from '../app/server.js';
import { setLogLevel } from '../base/log.js';
import { RestClient } from '../client/rest-client.js';
import { resources } from '../client/resources.js';
import { encodeWithin, startClusterDNS, type ClusterDNS } from './server.js';
import { deadPort, query, startFakeUpstream, tcpQuery, udpQuery, type FakeUpstream } from './testdata/fake-upstream.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');

let server: RunningServer;
let dataDir: string;
let client: RestClient;
let dns: ClusterDNS;
let upstream: FakeUpstream;

const resolver = () => {
  const r = new Resolver({ timeout: 3000, tries: 1 });
  r.setServers([`127.0.0.1:${dns.port}`]);
  return r;
};

async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return { value: v, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const slice = (name: string, service: string, endpoints: unknown[], ports: unknown[]) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name, labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  endpoints,
  ports,
});

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'k8ts-dns-test-'));
  server = await startServer({ dataDir, storagePath: ':memory:', controllers: false, removeDataDirOnStop: false });
  client = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key, userAgent: 'dns-test' });
  upstream = await startFakeUpstream({ 'example.test': '192.0.2.7', 'target.example': '192.0.2.8' }, { bigTXT: 30 });
  await client.create(resources.services, 'default', { metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
  await client.create(resources.services, 'default', { metadata: { name: 'db' }, spec: { clusterIP: 'None', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] } });
  await client.create(resources.endpointslices, 'default', slice('db-1', 'db', [
    { addresses: ['10.244.0.10'], hostname: 'db-0', conditions: { ready: true } },
    { addresses: ['10.244.0.11'], hostname: 'db-1', conditions: { ready: true } },
    { addresses: ['10.244.0.12'], conditions: { ready: false } },
  ], [{ name: 'pg', port: 5432, protocol: 'TCP' }]));
  dns = await startClusterDNS({ client, listen: { host: '127.0.0.1', port: 0 }, upstreams: [`127.0.0.1:${upstream.port}`] });
});

after(async () => {
  await dns?.stop();
  await upstream?.stop();
  client?.close();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a ClusterIP Service resolves to its cluster IP through the system resolver library', async () => {
  const web = await client.get(resources.services, 'default', 'web');
  assert.deepEqual(await resolver().resolve4('web.default.svc.cluster.local'), [web.spec.clusterIP]);
  assert.deepEqual(await resolver().resolve4('WEB.Default.svc.cluster.local'), [web.spec.clusterIP], 'names are case-insensitive');
  const srv = await resolver().resolveSrv('_http._tcp.web.default.svc.cluster.local');
  assert.deepEqual(srv, [{ name: 'web.default.svc.cluster.local', port: 80, priority: 0, weight: 100 }]);
  assert.deepEqual(await resolver().reverse(web.spec.clusterIP), ['web.default.svc.cluster.local']);
  // The kubernetes Service from bootstrap is there too.
  assert.equal((await resolver().resolve4('kubernetes.default.svc.cluster.local')).length, 1);
});

test('a headless Service resolves to its ready endpoints, with hostname, SRV and PTR records', async () => {
  assert.deepEqual((await resolver().resolve4('db.default.svc.cluster.local')).sort(), ['10.244.0.10', '10.244.0.11']);
  assert.deepEqual(await resolver().resolve4('db-1.db.default.svc.cluster.local'), ['10.244.0.11']);
  const r = await udpQuery(dns.port, query('_pg._tcp.db.default.svc.cluster.local', 'SRV'));
  assert.equal(r.rcode, 'NOERROR');
  assert.ok(r.flag_aa, 'authoritative');
  assert.deepEqual(r.answers!.map((a) => (a as { data: { target: string; port: number } }).data.target).sort(), ['db-0.db.default.svc.cluster.local', 'db-1.db.default.svc.cluster.local']);
  assert.deepEqual(r.additionals!.map((a) => `${a.name} ${(a as { data: string }).data}`).sort(), ['db-0.db.default.svc.cluster.local 10.244.0.10', 'db-1.db.default.svc.cluster.local 10.244.0.11']);
  const ptr = await tcpQuery(dns.port, query('10.0.244.10.in-addr.arpa', 'PTR'));
  assert.deepEqual(ptr.answers!.map((a) => (a as { data: string }).data), ['db-0.db.default.svc.cluster.local']);
});

test('an unknown name is NXDOMAIN with the SOA, an existing name of another type is NODATA', async () => {
  await assert.rejects(resolver().resolve4('nope.default.svc.cluster.local'), { code: 'ENOTFOUND' });
  const nx = await udpQuery(dns.port, query('nope.default.svc.cluster.local', 'A'));
  assert.equal(nx.rcode, 'NXDOMAIN');
  assert.equal(nx.authorities![0].type, 'SOA');
  assert.equal((nx.authorities![0] as { ttl: number }).ttl, 5);
  assert.equal((nx.authorities![0] as { data: { minimum: number } }).data.minimum, 5);
  const nodata = await udpQuery(dns.port, query('web.default.svc.cluster.local', 'AAAA'));
  assert.equal(nodata.rcode, 'NOERROR');
  assert.equal(nodata.answers!.length, 0);
  assert.equal(nodata.authorities![0].type, 'SOA');
  assert.deepEqual(await resolver().resolve4('10-1-2-3.default.pod.cluster.local'), ['10.1.2.3']);
  assert.deepEqual(await resolver().resolveTxt('dns-version.cluster.local'), [['1.1.0']]);
});

test('a changed EndpointSlice and a changed Service are served within 1 s, a deleted Service is NXDOMAIN', async () => {
  const s = await client.get(resources.endpointslices, 'default', 'db-1');
  s.endpoints = [{ addresses: ['10.244.0.20'], hostname: 'db-0', conditions: { ready: true } }];
  await client.update(resources.endpointslices, s);
  const moved = await until(async () => {
    const ips = await resolver().resolve4('db.default.svc.cluster.local');
    return ips.length === 1 && ips[0] === '10.244.0.20' ? ips : undefined;
  }, 'the new endpoint address', 1000);
  assert.ok(moved.ms < 1000);

  await client.patch(resources.services, 'default', 'web', { spec: { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] } }, 'merge');
  const ported = await until(async () => {
    const srv = await resolver().resolveSrv('_http._tcp.web.default.svc.cluster.local');
    return srv[0]?.port === 8080 ? srv : undefined;
  }, 'the new port', 1000);
  assert.ok(ported.ms < 1000);

  await client.create(resources.services, 'default', { metadata: { name: 'gone' }, spec: { ports: [{ port: 80 }] } });
  await until(() => resolver().resolve4('gone.default.svc.cluster.local'), 'the new Service', 1000);
  await client.delete(resources.services, 'default', 'gone');
  const deleted = await until(async () => {
    const r = await udpQuery(dns.port, query('gone.default.svc.cluster.local', 'A'));
    return r.rcode === 'NXDOMAIN' ? r : undefined;
  }, 'NXDOMAIN after delete', 1000);
  assert.ok(deleted.ms < 1000);
});

test('an ExternalName Service is a CNAME, with the target resolved upstream', async () => {
  await client.create(resources.services, 'default', { metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'target.example' } });
  await until(() => resolver().resolveCname('ext.default.svc.cluster.local'), 'the CNAME', 1000);
  assert.deepEqual(await resolver().resolveCname('ext.default.svc.cluster.local'), ['target.example']);
  const r = await udpQuery(dns.port, query('ext.default.svc.cluster.local', 'A'));
  assert.deepEqual(r.answers!.map((a) => `${a.type} ${(a as { data: string }).data}`), ['CNAME target.example', 'A 192.0.2.8']);
});

test('a UDP reply too big for 512 bytes is truncated with TC, and TCP or EDNS gets all of it', async () => {
  const endpoints = Array.from({ length: 40 }, (_, i) => ({ addresses: [`10.245.0.${i + 1}`], conditions: { ready: true } }));
  await client.create(resources.services, 'default', { metadata: { name: 'big' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } });
  await client.create(resources.endpointslices, 'default', slice('big-1', 'big', endpoints, [{ name: 'http', port: 80, protocol: 'TCP' }]));
  const name = 'big.default.svc.cluster.local';
  await until(async () => ((await tcpQuery(dns.port, query(name, 'A'))).answers!.length === 40 ? true : undefined), 'all 40 endpoints', 1000);
  const u = await udpQuery(dns.port, query(name, 'A'));
  assert.ok(u.flag_tc, 'TC set');
  assert.ok(u.size <= 512, `reply is ${u.size} bytes`);
  assert.ok(u.answers!.length > 0 && u.answers!.length < 40);
  const t = await tcpQuery(dns.port, query(name, 'A'));
  assert.equal(t.flag_tc, false);
  assert.equal(t.answers!.length, 40);
  const e = await udpQuery(dns.port, query(name, 'A', { udpSize: 4096 }));
  assert.equal(e.flag_tc, false);
  assert.equal(e.answers!.length, 40);
  assert.ok(e.additionals!.some((a) => a.type === 'OPT'), 'EDNS answered with OPT');
  // The system resolver library retries over TCP on TC and gets everything.
  assert.equal((await resolver().resolve4(name)).length, 40);
});

test('names outside the cluster domain are forwarded upstream over UDP and TCP', async () => {
  assert.deepEqual(await resolver().resolve4('example.test'), ['192.0.2.7']);
  await assert.rejects(resolver().resolve4('missing.test'), { code: 'ENOTFOUND' });
  const t = await tcpQuery(dns.port, query('example.test', 'A', { id: 99 }));
  assert.equal(t.id, 99);
  assert.deepEqual(t.answers!.map((a) => (a as { data: string }).data), ['192.0.2.7']);
  assert.ok(upstream.seen.includes('example.test A tcp'));
  // A big upstream answer is truncated by the upstream over UDP and passed through; TCP has it all.
  const t0 = upstream.seen.length;
  assert.equal((await resolver().resolveTxt('big.test')).length, 30);
  assert.ok(upstream.seen.slice(t0).includes('big.test TXT udp-truncated'), 'the UDP reply was truncated upstream');
  assert.ok(upstream.seen.slice(t0).includes('big.test TXT tcp'), 'the client retried over TCP and we forwarded over TCP');
  // PTR for an address that is not the cluster's falls through to the upstream.
  const before = upstream.seen.length;
  await udpQuery(dns.port, query('7.2.0.192.in-addr.arpa', 'PTR'));
  assert.equal(upstream.seen[before], '7.2.0.192.in-addr.arpa PTR udp');
});

test('an unreachable upstream fails fast with SERVFAIL, a silent one within about 2 s', async () => {
  const dead = await startClusterDNS({ client, listen: { host: '127.0.0.1', port: 0 }, upstreams: [`127.0.0.1:${await deadPort()}`] });
  const silent = await startFakeUpstream({ 'example.test': '192.0.2.7' }, { delayMs: 10_000 });
  const mute = await startClusterDNS({ client, listen: { host: '127.0.0.1', port: 0 }, upstreams: [`127.0.0.1:${silent.port}`] });
  try {
    let t0 = Date.now();
    const r = await udpQuery(dead.port, query('example.test', 'A'));
    assert.equal(r.rcode, 'SERVFAIL');
    assert.ok(Date.now() - t0 < 1000, `refused upstream: SERVFAIL after ${Date.now() - t0} ms`);
    // Cluster names still answer.
    assert.equal((await udpQuery(dead.port, query('web.default.svc.cluster.local', 'A'))).rcode, 'NOERROR');
    t0 = Date.now();
    const m = await udpQuery(mute.port, query('example.test', 'A'), 4000);
    const took = Date.now() - t0;
    assert.equal(m.rcode, 'SERVFAIL');
    assert.ok(took >= 1500 && took < 3000, `silent upstream: SERVFAIL after ${took} ms`);
  } finally {
    await dead.stop();
    await mute.stop();
    await silent.stop();
  }
});

test('requests are counted in coredns_dns_* metrics', async () => {
  await udpQuery(dns.port, query('web.default.svc.cluster.local', 'A'));
  const text = dns.metrics.render();
  assert.match(text, /coredns_dns_requests_total\{server="dns:\/\/127\.0\.0\.1:\d+",zone="\.",proto="udp",family="4",type="A"\} \d+/);
  assert.match(text, /coredns_dns_responses_total\{[^}]*rcode="NXDOMAIN"\} \d+/);
  assert.match(text, /coredns_dns_request_duration_seconds_count\{[^}]*type="A"\} \d+/);
  assert.match(text, /k8ts_dns_forward_requests_total\{result="ok"\} \d+/);
});

test('the median answer takes well under 5 ms (2000 sequential UDP queries on one socket)', async () => {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const once = (id: number) =>
    new Promise<number>((resolve) => {
      const t0 = process.hrtime.bigint();
      sock.once('message', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
      sock.send(query('web.default.svc.cluster.local', 'A', { id }), dns.port, '127.0.0.1');
    });
  const times: number[] = [];
  try {
    for (let i = 0; i < 2000; i++) times.push(await once(i));
  } finally {
    sock.close();
  }
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.floor((times.length * p) / 100)].toFixed(3);
  console.log(`# cluster DNS UDP round trip (client in the same process): p50 ${pct(50)} ms, p90 ${pct(90)} ms, p99 ${pct(99)} ms, max ${times[times.length - 1].toFixed(3)} ms`);
  assert.ok(times[1000] < 5, `p50 ${times[1000]} ms`);
});

test('encodeWithin drops additionals before answers, and sets TC only when answers go', () => {
  const answers = Array.from({ length: 30 }, (_, i) => ({ type: 'A' as const, name: 'x.example', ttl: 5, data: `10.0.0.${i}` }));
  const additionals = Array.from({ length: 30 }, (_, i) => ({ type: 'A' as const, name: 'y.example', ttl: 5, data: `10.0.1.${i}` }));
  const a = packet.decode(encodeWithin({ type: 'response', id: 1, questions: [{ type: 'A', name: 'x.example' }], answers: answers.slice(0, 10), additionals }, 512));
  assert.equal(a.flag_tc, false);
  assert.equal(a.answers!.length, 10);
  assert.equal(a.additionals!.length, 0);
  const b = encodeWithin({ type: 'response', id: 1, questions: [{ type: 'A', name: 'x.example' }], answers }, 512);
  assert.ok(b.length <= 512);
  assert.equal(packet.decode(b).flag_tc, true);
});
