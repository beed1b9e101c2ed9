import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADDRESS_ANNOTATION,
  IDENTITY_LABEL,
  PORT_ANNOTATION,
  ServerLeaseReconciler,
  desiredEndpointSlice,
  desiredEndpoints,
  identityLeaseName,
  leaseExpired,
  liveEndpoints,
  parseServerLease,
  unadvertisableReason,
  type ServerLease,
} from './kubernetes-endpoints.js';
import { startServer, type RunningServer } from './server.js';
import { RestClient } from '../client/rest-client.js';
import { setLogLevel } from '../base/log.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');

const T = Date.parse('2026-01-01T00:00:00Z');
const lease = (name: string, ip: string | undefined, renewedAgoS: number, durationSeconds = 15, port = 6443): ServerLease => ({
  name,
  endpoint: ip ? { ip, port } : undefined,
  renewedAt: T - renewedAgoS * 1000,
  durationSeconds,
});

describe('liveEndpoints', () => {
  const cases: { name: string; leases: ServerLease[]; want: string[] }[] = [
    { name: 'no leases give no endpoints', leases: [], want: [] },
    {
      name: 'the addresses of unexpired leases are united and sorted numerically, not as text',
      leases: [lease('a', '10.0.0.10', 1), lease('b', '10.0.0.9', 2), lease('c', '9.0.0.1', 3)],
      want: ['9.0.0.1:6443', '10.0.0.9:6443', '10.0.0.10:6443'],
    },
    {
      name: 'an expired lease contributes nothing, one renewed just inside its duration does',
      leases: [lease('a', '127.0.0.2', 15), lease('b', '127.0.0.3', 14.9), lease('c', '127.0.0.4', 100)],
      want: ['127.0.0.3:6443'],
    },
    {
      name: 'each lease expires after its own duration',
      leases: [lease('a', '127.0.0.2', 20, 30), lease('b', '127.0.0.3', 20, 15)],
      want: ['127.0.0.2:6443'],
    },
    {
      name: 'two servers advertising one address give it once',
      leases: [lease('a', '127.0.0.2', 1), lease('b', '127.0.0.2', 2)],
      want: ['127.0.0.2:6443'],
    },
    {
      name: 'a lease without an address counts for nothing, and one never renewed is expired',
      leases: [lease('a', undefined, 1), { name: 'b', endpoint: { ip: '127.0.0.9', port: 6443 }, durationSeconds: 15 }],
      want: [],
    },
    {
      name: 'IPv4 addresses come before IPv6 ones, IPv6 ones sort numerically, and one IP on two ports is two endpoints',
      leases: [lease('a', 'fd00::10', 1), lease('d', 'fd00::9', 1), lease('e', 'fd00:0:0:1::', 1), lease('b', '127.0.0.2', 1, 15, 7443), lease('c', '127.0.0.2', 1)],
      want: ['127.0.0.2:6443', '127.0.0.2:7443', 'fd00::9:6443', 'fd00::10:6443', 'fd00:0:0:1:::6443'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(
        liveEndpoints(c.leases, T).map((e) => `${e.ip}:${e.port}`),
        c.want,
      );
    });
  }

  it('a lease expires exactly when its duration has passed since its renewal', () => {
    const l = lease('a', '127.0.0.2', 0, 15);
    assert.equal(leaseExpired(l, T + 14_999), false);
    assert.equal(leaseExpired(l, T + 15_000), true);
  });
});

describe('the kubernetes Endpoints and EndpointSlice written for the live endpoints', () => {
  it('one port gives one subset and one slice holding every address in order', () => {
    const eps = [
      { ip: '127.0.0.2', port: 6443 },
      { ip: '127.0.0.3', port: 6443 },
    ];
    const e = desiredEndpoints(eps);
    assert.deepEqual(e.subsets, [{ addresses: [{ ip: '127.0.0.2' }, { ip: '127.0.0.3' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }]);
    assert.equal(e.metadata.labels['endpointslice.kubernetes.io/skip-mirror'], 'true');
    const s = desiredEndpointSlice(eps);
    assert.equal(s.metadata.name, 'kubernetes');
    assert.equal(s.metadata.labels['kubernetes.io/service-name'], 'kubernetes');
    assert.equal(s.metadata.labels['endpointslice.kubernetes.io/managed-by'], 'kube-apiserver');
    assert.equal(s.addressType, 'IPv4');
    assert.deepEqual(s.endpoints.map((x: any) => x.addresses[0]), ['127.0.0.2', '127.0.0.3']);
    assert.deepEqual(s.ports, [{ name: 'https', port: 6443, protocol: 'TCP' }]);
  });

  it('servers on different ports get a subset per port; the slice mirrors the lowest port', () => {
    const eps = [
      { ip: '127.0.0.3', port: 6443 },
      { ip: '127.0.0.2', port: 7443 },
    ];
    assert.deepEqual(
      desiredEndpoints(eps).subsets.map((s: any) => [s.ports[0].port, s.addresses.map((a: any) => a.ip)]),
      [
        [6443, ['127.0.0.3']],
        [7443, ['127.0.0.2']],
      ],
    );
    assert.deepEqual(desiredEndpointSlice(eps).endpoints.map((x: any) => x.addresses[0]), ['127.0.0.3']);
  });

  it('servers advertising only IPv6 addresses get an IPv6 slice', () => {
    const s = desiredEndpointSlice([{ ip: 'fd00::2', port: 6443 }, { ip: 'fd00::1', port: 6443 }]);
    assert.equal(s.addressType, 'IPv6');
    assert.deepEqual(s.endpoints.map((x: any) => x.addresses[0]), ['fd00::2', 'fd00::1'], 'in the order given (liveEndpoints sorts)');
  });

  it('no live server gives empty subsets and an empty slice', () => {
    assert.deepEqual(desiredEndpoints([]).subsets, []);
    assert.deepEqual(desiredEndpointSlice([]).endpoints, []);
    assert.deepEqual(desiredEndpointSlice([]).ports, []);
  });
});

describe('unadvertisableReason', () => {
  const cases: [string, RegExp | undefined][] = [
    ['192.0.2.7', undefined],
    ['10.42.0.1', undefined],
    ['fd00::1', undefined],
    ['127.0.0.2', /loopback/],
    ['::1', /loopback/],
    ['0.0.0.0', /unspecified/],
    ['169.254.1.1', /link-local/],
    ['fe80::1', /link-local/],
    ['example.com', /must be an IP address/],
  ];
  for (const [ip, want] of cases) {
    it(`${ip} ${want ? 'is refused' : 'may be advertised'}`, () => {
      const got = unadvertisableReason(ip);
      if (want) assert.match(got ?? '', want);
      else assert.equal(got, undefined);
    });
  }
});

describe('identity leases', () => {
  it('lease names are apiserver- and a DNS-label-safe hash, distinct per identity and stable for one', () => {
    const a = identityLeaseName('host\0/var/lib/k8ts');
    assert.match(a, /^apiserver-[a-z2-7]{26}$/);
    assert.equal(identityLeaseName('host\0/var/lib/k8ts'), a);
    assert.notEqual(identityLeaseName('host\0/var/lib/k8ts-2'), a);
  });

  it('a lease object is read only when it carries the identity label, with its address annotations', () => {
    const obj = {
      metadata: { name: 'apiserver-x', labels: { [IDENTITY_LABEL]: 'kube-apiserver' }, annotations: { [ADDRESS_ANNOTATION]: '127.0.0.2', [PORT_ANNOTATION]: '6443' } },
      spec: { holderIdentity: 'apiserver-x_1', leaseDurationSeconds: 15, renewTime: '2026-01-01T00:00:00.000000Z' },
    };
    assert.deepEqual(parseServerLease(obj), { name: 'apiserver-x', holderIdentity: 'apiserver-x_1', endpoint: { ip: '127.0.0.2', port: 6443 }, renewedAt: T, durationSeconds: 15 });
    assert.equal(parseServerLease({ ...obj, metadata: { ...obj.metadata, labels: {} } }), undefined);
    const badPort = { ...obj, metadata: { ...obj.metadata, annotations: { [ADDRESS_ANNOTATION]: '127.0.0.2', [PORT_ANNOTATION]: 'x' } } };
    assert.equal(parseServerLease(badPort)?.endpoint, undefined);
  });
});

describe('servers reconcile the kubernetes endpoints through their leases', () => {
  let server: RunningServer;
  let admin: RestClient;
  const endpoints = { group: '', version: 'v1', resource: 'endpoints', namespaced: true };
  const slices = { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices', namespaced: true };
  const leases = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespaced: true };
  const ips = async () => ((await admin.get(endpoints, 'default', 'kubernetes')).subsets ?? []).flatMap((s: any) => s.addresses.map((a: any) => `${a.ip}:${s.ports[0].port}`));
  const sliceIPs = async () => (await admin.get(slices, 'default', 'kubernetes')).endpoints.map((e: any) => e.addresses[0]);

  before(async () => {
    server = await startServer({ storagePath: ':memory:', controllers: false, advertiseAddress: '192.0.2.5', serverLease: { durationSeconds: 2, renewIntervalMs: 300 } });
    admin = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key });
  });
  after(async () => {
    admin?.close();
    await server?.stop();
  });

  it('a server advertises its address in its own lease and the endpoints', async () => {
    assert.deepEqual(await ips(), [`192.0.2.5:${server.port}`]);
    const own = (await admin.list(leases, 'kube-system', { labelSelector: `${IDENTITY_LABEL}=kube-apiserver` })).items;
    assert.equal(own.length, 1);
    assert.match(own[0].metadata.name, /^apiserver-/);
    assert.equal(own[0].metadata.annotations[ADDRESS_ANNOTATION], '192.0.2.5');
    assert.equal(own[0].metadata.annotations[PORT_ANNOTATION], String(server.port));
    assert.equal(own[0].spec.leaseDurationSeconds, 2);
    assert.match(own[0].spec.holderIdentity, new RegExp(`^${own[0].metadata.name}_`));
  });

  it('a second server joins the union; a stopped one leaves at once, a silent one when its lease expires', async () => {
    const other = new ServerLeaseReconciler({ client: admin, identity: 'other', advertise: { ip: '192.0.2.4', port: server.port }, leaseDurationSeconds: 2, renewIntervalMs: 300 });
    await other.start();
    assert.deepEqual(await ips(), [`192.0.2.4:${server.port}`, `192.0.2.5:${server.port}`]);
    assert.deepEqual(await sliceIPs(), ['192.0.2.4', '192.0.2.5']);
    await other.stop();
    assert.deepEqual(await ips(), [`192.0.2.5:${server.port}`]);
    assert.deepEqual(await sliceIPs(), ['192.0.2.5']);
    assert.equal((await admin.list(leases, 'kube-system')).items.some((l: any) => l.metadata.name === other.leaseName), false, 'its lease is deleted');

    // A server that renews once and then goes silent (as after SIGKILL).
    const silent = new ServerLeaseReconciler({ client: admin, identity: 'silent', advertise: { ip: '192.0.2.3', port: server.port }, leaseDurationSeconds: 2 });
    await silent.tick();
    const t0 = Date.now();
    assert.deepEqual(await ips(), [`192.0.2.3:${server.port}`, `192.0.2.5:${server.port}`]);
    for (;;) {
      if ((await ips()).length === 1) break;
      assert.ok(Date.now() - t0 < 4000, 'the silent server left the endpoints within its lease duration and a margin');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(Date.now() - t0 >= 1500, 'not before its lease expired');
    // Its expired lease is collected too.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await admin.list(leases, 'kube-system')).items.some((l: any) => l.metadata.name === silent.leaseName), false);
  });
});

describe('a server that advertises no address', () => {
  let server: RunningServer;
  let admin: RestClient;
  const endpoints = { group: '', version: 'v1', resource: 'endpoints', namespaced: true };
  before(async () => {
    server = await startServer({ storagePath: ':memory:', controllers: false, serverLease: { durationSeconds: 2, renewIntervalMs: 200 } });
    admin = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key });
  });
  after(async () => {
    admin?.close();
    await server?.stop();
  });

  it('keeps its identity lease but leaves endpoints written by someone else alone, until an advertised server leaves', async () => {
    const leases = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespaced: true };
    // A server that publishes nothing writes its lease in the background, just after start.
    let own: any[] = [];
    for (let i = 0; i < 100 && own.length === 0; i++) {
      own = (await admin.list(leases, 'kube-system', { labelSelector: `${IDENTITY_LABEL}=kube-apiserver` })).items;
      if (own.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(own.length, 1);
    assert.equal(own[0].metadata.annotations?.[ADDRESS_ANNOTATION], undefined);
    await assert.rejects(admin.get(endpoints, 'default', 'kubernetes'), /not found/, 'nothing advertised, nothing written');
    await admin.create(endpoints, 'default', { metadata: { name: 'kubernetes' }, subsets: [{ addresses: [{ ip: '192.0.2.77' }], ports: [{ name: 'https', port: 443, protocol: 'TCP' }] }] });
    await new Promise((r) => setTimeout(r, 700));
    assert.equal((await admin.get(endpoints, 'default', 'kubernetes')).subsets[0].addresses[0].ip, '192.0.2.77');
    const other = new ServerLeaseReconciler({ client: admin, identity: 'advertising', advertise: { ip: '192.0.2.8', port: 443 }, leaseDurationSeconds: 2 });
    await other.start();
    assert.equal((await admin.get(endpoints, 'default', 'kubernetes')).subsets[0].addresses[0].ip, '192.0.2.8');
    await other.stop();
    assert.deepEqual((await admin.get(endpoints, 'default', 'kubernetes')).subsets ?? [], []);
  });
});
