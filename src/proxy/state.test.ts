import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildProxyState, categorizeEndpoints, cidrContains, firewallSources, normalizeSourceRanges, ProxyStateTracker, sliceServiceKey, type EndpointState, type ServicePortState } from './state.js';
import { svcPort } from './testdata.js';

const service = (name: string, spec: Record<string, any>, status?: Record<string, any>) => ({
  metadata: { namespace: 'default', name },
  spec: { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec },
  ...(status ? { status } : {}),
});
const slice = (svc: string, endpoints: Record<string, any>[], extra: Record<string, any> = {}) => ({
  metadata: { namespace: 'default', name: `${svc}-${Math.random().toString(36).slice(2, 7)}`, labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints,
  ...extra,
});
const build = (services: any[], slices: any[]) => buildProxyState({ services, endpointSlices: slices, nodeName: 'node-a', nodeIPs: ['10.77.0.1', 'fe80::1'], clusterCIDR: '10.244.0.0/16' });

describe('buildProxyState joins Services with their EndpointSlices', () => {
  const cases: { name: string; services: any[]; slices: any[]; check(s: ServicePortState[]): void }[] = [
    {
      name: 'a Service without slices has a port with no endpoints',
      services: [service('web', {})],
      slices: [],
      check: (s) => {
        assert.equal(s.length, 1);
        assert.deepEqual(s[0].endpoints, []);
        assert.equal(s[0].clusterIP, '10.96.0.10');
        assert.equal(s[0].protocol, 'tcp');
      },
    },
    {
      name: 'an endpoint without conditions counts as ready and serving, and its nodeName decides locality',
      services: [service('web', {})],
      slices: [slice('web', [{ addresses: ['10.244.1.2'], nodeName: 'node-a' }, { addresses: ['10.244.2.2'], nodeName: 'node-b' }])],
      check: (s) => {
        assert.deepEqual(
          s[0].endpoints.map((e) => [e.ip, e.port, e.ready, e.serving, e.terminating, e.local]),
          [
            ['10.244.1.2', 8080, true, true, false, true],
            ['10.244.2.2', 8080, true, true, false, false],
          ],
        );
      },
    },
    {
      name: 'endpoints from several slices are merged and a duplicate address keeps its readier copy',
      services: [service('web', {})],
      slices: [
        slice('web', [{ addresses: ['10.244.1.2'], conditions: { ready: false } }]),
        slice('web', [{ addresses: ['10.244.1.2'], conditions: { ready: true } }, { addresses: ['10.244.1.3'] }]),
      ],
      check: (s) => assert.deepEqual(s[0].endpoints.map((e) => `${e.ip}:${e.ready}`), ['10.244.1.2:true', '10.244.1.3:true']),
    },
    {
      name: 'slice ports are matched to service ports by name and protocol',
      services: [service('dns', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] })],
      slices: [
        slice('dns', [{ addresses: ['10.244.1.9'] }], {
          ports: [
            { name: 'dns', port: 1053, protocol: 'UDP' },
            { name: 'dns-tcp', port: 2053, protocol: 'TCP' },
          ],
        }),
      ],
      check: (s) => assert.deepEqual(s.map((p) => `${p.portName}/${p.protocol}->${p.endpoints.map((e) => e.port)}`).sort(), ['dns-tcp/tcp->2053', 'dns/udp->1053']),
    },
    {
      name: 'headless and ExternalName Services, IPv6 slices and slices of other Services are ignored',
      services: [service('headless', { clusterIP: 'None' }), service('ext', { type: 'ExternalName', externalName: 'x.example' }), service('web', {})],
      slices: [slice('web', [{ addresses: ['fd00::1'] }], { addressType: 'IPv6' }), slice('other', [{ addresses: ['10.244.1.2'] }])],
      check: (s) => {
        assert.deepEqual(s.map((p) => p.name), ['web']);
        assert.deepEqual(s[0].endpoints, []);
      },
    },
    {
      name: 'NodePorts count only for NodePort and LoadBalancer Services, ingress IPs only for LoadBalancer',
      services: [
        service('np', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }),
        service('cip', { type: 'ClusterIP', ports: [{ name: 'http', port: 80, nodePort: 30081 }] }, { loadBalancer: { ingress: [{ ip: '10.55.0.9' }] } }),
        service('lb', { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, nodePort: 30082 }], externalTrafficPolicy: 'Local' }, { loadBalancer: { ingress: [{ ip: '10.55.0.2' }, { hostname: 'lb.example' }] } }),
      ],
      slices: [],
      check: (s) => {
        const by = Object.fromEntries(s.map((p) => [p.name, p]));
        assert.equal(by.np.nodePort, 30080);
        assert.equal(by.cip.nodePort, 0);
        assert.deepEqual(by.cip.loadBalancerIPs, []);
        assert.equal(by.lb.nodePort, 30082);
        assert.deepEqual(by.lb.loadBalancerIPs, ['10.55.0.2']);
        assert.equal(by.lb.externalPolicyLocal, true);
      },
    },
    {
      name: 'ClientIP affinity defaults to upstream\'s three hours and honours a configured timeout',
      services: [service('a', { sessionAffinity: 'ClientIP' }), service('b', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }), service('c', { sessionAffinity: 'None' })],
      slices: [],
      check: (s) => assert.deepEqual(s.map((p) => p.affinityTimeoutSeconds), [10800, 60, undefined]),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const st = build(c.services, c.slices);
      assert.deepEqual(st.nodeIPs, ['10.77.0.1']);
      c.check(st.services);
    });
  }
});

it('buildProxyState adds 127.0.0.1 to the NodePort addresses only when localhost NodePorts are on', () => {
  const on = buildProxyState({ services: [], endpointSlices: [], nodeName: 'n', nodeIPs: ['10.77.0.1'], clusterCIDR: '', localhostNodePorts: true });
  assert.deepEqual([on.nodeIPs, on.localhostNodePorts], [['10.77.0.1', '127.0.0.1'], true]);
  const off = buildProxyState({ services: [], endpointSlices: [], nodeName: 'n', nodeIPs: ['10.77.0.1'], clusterCIDR: '' });
  assert.deepEqual([off.nodeIPs, off.localhostNodePorts], [['10.77.0.1'], undefined]);
});

describe('categorizeEndpoints picks endpoints the way upstream does', () => {
  const ep = (ip: string, o: Partial<EndpointState> = {}): EndpointState => ({ ip, port: 80, ready: true, serving: true, terminating: false, local: false, ...o });
  const port = (endpoints: EndpointState[], o: Partial<ServicePortState> = {}): ServicePortState => ({
    namespace: 'default', name: 's', portName: '', protocol: 'tcp', clusterIP: '10.96.0.1', port: 80, nodePort: 0, externalIPs: [], loadBalancerIPs: [],
    externalPolicyLocal: false, internalPolicyLocal: false, endpoints, ...o,
  });
  const ips = (eps: EndpointState[]) => eps.map((e) => e.ip);
  const cases: { name: string; svc: ServicePortState; cluster: string[]; internal: string[]; external: string[]; hasAny: boolean }[] = [
    {
      name: 'ready endpoints win over serving terminating ones',
      svc: port([ep('a'), ep('b', { ready: false, serving: true, terminating: true })]),
      cluster: ['a'], internal: ['a'], external: ['a'], hasAny: true,
    },
    {
      name: 'serving terminating endpoints are used only when none is ready',
      svc: port([ep('a', { ready: false, serving: true, terminating: true }), ep('b', { ready: false, serving: false, terminating: true })]),
      cluster: ['a'], internal: ['a'], external: ['a'], hasAny: true,
    },
    {
      name: 'not-ready endpoints that are not serving leave nothing to send to',
      svc: port([ep('a', { ready: false, serving: false })]),
      cluster: [], internal: [], external: [], hasAny: false,
    },
    {
      name: 'internalTrafficPolicy Local narrows ClusterIP traffic to local endpoints only',
      svc: port([ep('a', { local: true }), ep('b')], { internalPolicyLocal: true }),
      cluster: ['a', 'b'], internal: ['a'], external: ['a', 'b'], hasAny: true,
    },
    {
      name: 'externalTrafficPolicy Local with no local endpoint leaves external traffic nowhere to go',
      svc: port([ep('b')], { externalPolicyLocal: true }),
      cluster: ['b'], internal: ['b'], external: [], hasAny: true,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = categorizeEndpoints(c.svc);
      assert.deepEqual([ips(got.cluster), ips(got.internal), ips(got.external), got.hasAny], [c.cluster, c.internal, c.external, c.hasAny]);
    });
  }
});

describe('loadBalancerSourceRanges become the sources allowed to reach load-balancer IPs', () => {
  it('reads the ranges of LoadBalancer Services only, canonical, with IPv6 and nonsense left out', () => {
    const lb = service('lb', { type: 'LoadBalancer', loadBalancerSourceRanges: [' 192.168.7.9/24', '10.0.0.0/8', 'fd00::/64', 'junk', '300.1.1.1/8'] }, { loadBalancer: { ingress: [{ ip: '10.55.0.2' }] } });
    const np = service('np', { type: 'NodePort', loadBalancerSourceRanges: ['10.0.0.0/8'] });
    const [a, b] = build([lb, np], []).services;
    assert.deepEqual(a.loadBalancerSourceRanges, ['10.0.0.0/8', '192.168.7.0/24']);
    assert.equal(b.loadBalancerSourceRanges, undefined);
    assert.equal(build([service('plain', { type: 'LoadBalancer' })], []).services[0].loadBalancerSourceRanges, undefined);
  });

  it('drops ranges inside other ranges, since one nft set cannot hold overlapping intervals', () => {
    assert.deepEqual(normalizeSourceRanges(['10.1.0.0/16', '10.0.0.0/8', '10.1.2.3', '172.16.0.0/12', '10.0.0.0/8']), ['10.0.0.0/8', '172.16.0.0/12']);
    assert.deepEqual(normalizeSourceRanges(['0.0.0.0/0', '1.2.3.4/32']), ['0.0.0.0/0']);
  });

  const cases: { name: string; s: ServicePortState; nodeIPs: string[]; want: string[] | undefined }[] = [
    { name: 'no ranges: every source may', s: svcPort('a', [], { loadBalancerIPs: ['10.55.0.2'] }), nodeIPs: ['10.77.0.1'], want: undefined },
    { name: 'ranges but no load-balancer IP yet: nothing to guard', s: svcPort('a', [], { loadBalancerSourceRanges: ['10.0.0.0/8'] }), nodeIPs: ['10.77.0.1'], want: undefined },
    { name: 'the node outside every range: the ranges alone', s: svcPort('a', [], { loadBalancerIPs: ['10.55.0.2'], loadBalancerSourceRanges: ['192.168.0.0/16'] }), nodeIPs: ['10.77.0.1'], want: ['192.168.0.0/16'] },
    {
      name: 'a node IP inside a range: the load-balancer IPs are allowed sources too (upstream allowFromNode)',
      s: svcPort('a', [], { loadBalancerIPs: ['10.55.0.2', '127.0.150.3'], loadBalancerSourceRanges: ['10.0.0.0/8'] }),
      nodeIPs: ['10.77.0.1'],
      want: ['10.0.0.0/8', '127.0.150.3'],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(firewallSources(c.s, c.nodeIPs), c.want));

  it('tests CIDR membership at the edges', () => {
    assert.ok(cidrContains('10.0.0.0/8', '10.255.255.255'));
    assert.ok(!cidrContains('10.0.0.0/8', '11.0.0.0'));
    assert.ok(cidrContains('0.0.0.0/0', '203.0.113.9'));
    assert.ok(cidrContains('127.0.0.1/32', '127.0.0.1') && !cidrContains('127.0.0.1/32', '127.0.0.2'));
  });
});

describe('ProxyStateTracker rebuilds only the Services marked as changed', () => {
  /** A small cluster held as the informers would: maps by namespace/name. */
  const cluster = () => {
    const services = new Map<string, any>();
    const slices = new Map<string, any>();
    const addSvc = (name: string, ip: string, spec: Record<string, any> = {}) => services.set(`default/${name}`, service(name, { clusterIP: ip, ...spec }));
    const setSlice = (svc: string, ips: string[], node = 'node-a') => slices.set(`default/${svc}-s`, { ...slice(svc, ips.map((a) => ({ addresses: [a], nodeName: node }))), metadata: { namespace: 'default', name: `${svc}-s`, labels: { 'kubernetes.io/service-name': svc } } });
    const input = {
      getService: (k: string) => services.get(k),
      services: () => services.values(),
      endpointSlices: () => slices.values(),
      nodeName: 'node-a',
      nodeIPs: ['10.77.0.1'],
      clusterCIDR: '10.244.0.0/16',
    };
    const full = () => buildProxyState({ services: services.values(), endpointSlices: slices.values(), nodeName: 'node-a', nodeIPs: ['10.77.0.1'], clusterCIDR: '10.244.0.0/16' });
    return { services, slices, addSvc, setSlice, input, full };
  };

  it('gives what a full build gives, through adds, endpoint moves, label moves and deletes', () => {
    const c = cluster();
    const t = new ProxyStateTracker();
    for (let i = 0; i < 20; i++) {
      c.addSvc(`s${i}`, `10.96.1.${i + 1}`, i % 3 === 0 ? { type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30000 + i }] } : {});
      c.setSlice(`s${i}`, [`10.244.1.${i + 1}`]);
    }
    assert.deepEqual(t.build(c.input), c.full());
    const steps: [string, () => string[]][] = [
      ['an endpoint moves', () => (c.setSlice('s3', ['10.244.9.9', '10.244.9.10']), ['default/s3'])],
      ['a Service is added with its slice', () => (c.addSvc('new', '10.96.2.1'), c.setSlice('new', ['10.244.2.1']), ['default/new'])],
      ['a slice is relabelled to another Service', () => {
        const sl = c.slices.get('default/s5-s');
        c.slices.set('default/s5-s', { ...sl, metadata: { ...sl.metadata, labels: { 'kubernetes.io/service-name': 's6' } } });
        return [sliceServiceKey(sl)!, 'default/s6'];
      }],
      ['a Service is deleted', () => (c.services.delete('default/s7'), ['default/s7'])],
      ['a Service turns headless', () => (c.addSvc('s8', 'None'), ['default/s8'])],
    ];
    for (const [what, change] of steps) {
      for (const k of change()) t.mark(k);
      assert.deepEqual(t.build(c.input), c.full(), what);
    }
  });

  it('keeps unchanged service ports as the same objects and builds nothing when nothing is marked', () => {
    const c = cluster();
    const t = new ProxyStateTracker();
    for (let i = 0; i < 5; i++) {
      c.addSvc(`s${i}`, `10.96.1.${i + 1}`);
      c.setSlice(`s${i}`, [`10.244.1.${i + 1}`]);
    }
    const a = t.build(c.input);
    assert.equal(t.pending, false);
    c.setSlice('s2', ['10.244.7.7']);
    // Not marked: the tracker does not look.
    assert.deepEqual(t.build(c.input).services[2].endpoints.map((e) => e.ip), ['10.244.1.3']);
    t.mark('default/s2');
    assert.equal(t.pending, true);
    const b = t.build(c.input);
    assert.deepEqual(b.services[2].endpoints.map((e) => e.ip), ['10.244.7.7']);
    for (const i of [0, 1, 3, 4]) assert.equal(b.services[i], a.services[i], `s${i} rebuilt`);
    assert.notEqual(b.services[2], a.services[2]);
    t.markAll();
    assert.deepEqual(t.build(c.input), c.full());
  });
});
