/**
 * The proxy against real packets: a private topology of network namespaces (./testnet.ts),
 * a real API server, Services and EndpointSlices written by hand, and busybox wget as the client.
 * Runs the same checks with nftables and with iptables.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startServer, type RunningServer } from '../app/server.js';
import { setLogLevel } from '../base/log.js';
import { RestClient, type KObject } from '../client/rest-client.js';
import { resources } from '../client/resources.js';
import { buildTopology, topologyUnavailable, waitForServers, type Topology } from './testnet.js';
import { ensureServiceRoute, removeServiceRoute, startProxy, type RunningProxy } from './proxy.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');

const SERVICE_CIDR = '10.96.0.0/16';
const NODE = 'node-a';
const missing = topologyUnavailable() ?? (spawnSync('nft', ['--version']).error ? 'nft is missing' : undefined);
if (missing) console.warn(`SKIPPING proxy traffic tests: ${missing}`);

type Ep = { pod: 0 | 1; node?: string; ready?: boolean; serving?: boolean; terminating?: boolean };

describe('the proxy routes real traffic inside private network namespaces', { skip: missing }, () => {
  let topo: Topology;
  let server: RunningServer;
  let client: RestClient;
  const svc: Record<string, KObject> = {};

  const sliceBody = (name: string, eps: Ep[]) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-slice`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    endpoints: eps.map((e) => ({
      addresses: [topo.pods[e.pod].ip],
      nodeName: e.node ?? NODE,
      conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
    })),
  });
  const setSlice = async (name: string, eps: Ep[]) => {
    const cur = await client.get(resources.endpointslices, 'default', `${name}-slice`).catch(() => undefined);
    // As the EndpointSlice controller does: say when the change happened, for the latency metric.
    const annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': new Date().toISOString() };
    if (cur) await client.update(resources.endpointslices, { ...sliceBody(name, eps), metadata: { ...cur.metadata, annotations } });
    else await client.create(resources.endpointslices, 'default', sliceBody(name, eps));
  };
  const makeService = async (name: string, spec: KObject, eps?: Ep[]) => {
    svc[name] = await client.create(resources.services, 'default', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 80, protocol: 'TCP' }], selector: { app: name }, ...spec },
    });
    if (eps) await setSlice(name, eps);
  };
  const vip = (name: string) => svc[name].spec.clusterIP as string;
  const nodePort = (name: string) => svc[name].spec.ports[0].nodePort as number;
  /** How many answers each body got; `concurrency` > 1 sends requests in parallel batches. */
  const tally = async (ns: string, host: string, port = 80, n = 24, concurrency = 6) => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i += concurrency) {
      const batch = await Promise.all(Array.from({ length: Math.min(concurrency, n - i) }, () => topo.get(ns, host, port)));
      for (const r of batch) {
        const k = r.ok ? r.body : `error: ${r.body}`;
        seen[k] = (seen[k] ?? 0) + 1;
      }
    }
    return seen;
  };

  /** One UDP request from `ns` with a fixed source port (so conntrack sees one flow); the reply or ''. */
  const udpAsk = async (ns: string, host: string, port: number) => {
    const js = `const s=require('dgram').createSocket('udp4');s.bind(40000,()=>{s.send('hi',${port},'${host}')});s.on('message',(m)=>{process.stdout.write(String(m));process.exit(0)});setTimeout(()=>process.exit(2),1500)`;
    const r = await topo.execAsync(ns, [process.execPath, '-e', js]);
    return r.status === 0 ? r.stdout.trim() : '';
  };

  before(async () => {
    topo = buildTopology('t');
    for (const p of topo.pods) {
      topo.daemon(p.ns, [process.execPath, '-e', `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('${p.name}',r.port,r.address));s.bind(5353)`]);
    }
    await waitForServers(topo);
    await ensureServiceRoute(SERVICE_CIDR, topo.node);
    server = await startServer({ storagePath: ':memory:', controllers: false, serviceCIDR: SERVICE_CIDR });
    client = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key });
    const both: Ep[] = [{ pod: 0 }, { pod: 1, node: 'node-b' }];
    await makeService('web', { type: 'NodePort' }, both);
    await makeService('solo', {}, [{ pod: 0 }]);
    await makeService('empty', { type: 'NodePort' });
    await makeService('sticky', { sessionAffinity: 'ClientIP' }, both);
    await makeService('ext-local', { type: 'NodePort', externalTrafficPolicy: 'Local' }, both);
    await makeService('int-local', { internalTrafficPolicy: 'Local' }, both);
    await makeService('lb', { type: 'LoadBalancer', externalIPs: ['10.55.0.1'] }, both);
    svc.lb = await client.patch(resources.services, 'default', 'lb', { status: { loadBalancer: { ingress: [{ ip: '10.55.0.2' }] } } }, 'merge', { subresource: 'status' });
    // loadBalancerSourceRanges: 'guarded' lets the ext namespace in, 'walled' does not.
    for (const [name, ip, ranges] of [['guarded', '10.55.0.3', ['10.77.0.2/32']], ['walled', '10.55.0.4', ['192.0.2.0/24']]] as const) {
      await makeService(name, { type: 'LoadBalancer', loadBalancerSourceRanges: ranges }, both);
      svc[name] = await client.patch(resources.services, 'default', name, { status: { loadBalancer: { ingress: [{ ip }] } } }, 'merge', { subresource: 'status' });
    }
    await makeService('term', {}, [
      { pod: 0, ready: false, serving: true, terminating: true },
      { pod: 1, ready: false, serving: false, terminating: true },
    ]);
    await makeService('change', {}, [{ pod: 0 }]);
    await makeService('udp', { ports: [{ name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' }] });
  });
  const setUdpSlice = async (pod: 0 | 1) => {
    const body = {
      ...sliceBody('udp', [{ pod }]),
      ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }],
    };
    const cur = await client.get(resources.endpointslices, 'default', 'udp-slice').catch(() => undefined);
    if (cur) await client.update(resources.endpointslices, { ...body, metadata: cur.metadata });
    else await client.create(resources.endpointslices, 'default', body);
  };

  after(async () => {
    client?.close();
    await server?.stop();
    topo?.destroy();
  });

  for (const mode of ['nftables', 'iptables'] as const) {
    describe(`in ${mode} mode`, () => {
      let proxy: RunningProxy;
      const syncLines: number[] = [];
      before(async () => {
        await setSlice('change', [{ pod: 0 }]);
        proxy = await startProxy({ client, nodeName: NODE, nodeIPs: [topo.nodeIP], clusterCIDR: '10.244.0.0/16', mode, netns: topo.node, minSyncIntervalMs: 50, onSynced: (t) => syncLines.push(t.lines) });
        assert.equal(proxy.mode, mode);
      });
      after(async () => {
        // A failed test must not leave rules behind either.
        await proxy?.stop().catch(() => {});
      });

      it('spreads ClusterIP traffic from a pod over both ready endpoints', async () => {
        const seen = await tally(topo.pods[1].ns, vip('web'));
        assert.deepEqual(Object.keys(seen).sort(), ['pod1', 'pod2'], JSON.stringify(seen));
      });

      it('serves ClusterIP traffic the node itself sends, through the route to lo', async () => {
        const seen = await tally(topo.node, vip('web'), 80, 16);
        assert.deepEqual(Object.keys(seen).sort(), ['pod1', 'pod2'], JSON.stringify(seen));
      });

      it('lets a pod reach itself through its own Service (hairpin)', async () => {
        const r = await topo.get(topo.pods[0].ns, vip('solo'));
        assert.equal(r.body, 'pod1');
      });

      it('answers a NodePort on the node IP from outside the node, on both endpoints', async () => {
        const seen = await tally(topo.ext, topo.nodeIP, nodePort('web'));
        assert.deepEqual(Object.keys(seen).sort(), ['pod1', 'pod2'], JSON.stringify(seen));
      });

      it('refuses connections to a Service without endpoints in under a second', async () => {
        for (const [ns, host, port] of [
          [topo.pods[0].ns, vip('empty'), 80],
          [topo.node, vip('empty'), 80],
          [topo.ext, topo.nodeIP, nodePort('empty')],
        ] as const) {
          const r = await topo.get(ns, host, port);
          assert.equal(r.ok, false);
          assert.match(r.body, /refused/i, `${ns} -> ${host}:${port}`);
          assert.ok(r.ms < 1000, `${ns} -> ${host}:${port} took ${r.ms} ms`);
        }
      });

      it('pins a client to one endpoint with sessionAffinity ClientIP', async () => {
        for (const p of topo.pods) {
          // One at a time: affinity is recorded when the first connection is set up.
          const seen = await tally(p.ns, vip('sticky'), 80, 12, 1);
          assert.equal(Object.keys(seen).length, 1, JSON.stringify(seen));
          assert.match(Object.keys(seen)[0], /^pod[12]$/);
        }
      });

      it('sends external traffic only to local endpoints under externalTrafficPolicy Local', async () => {
        const seen = await tally(topo.ext, topo.nodeIP, nodePort('ext-local'), 12);
        assert.deepEqual(seen, { pod1: 12 });
      });

      it('sends ClusterIP traffic only to local endpoints under internalTrafficPolicy Local', async () => {
        const seen = await tally(topo.pods[1].ns, vip('int-local'), 80, 12);
        assert.deepEqual(seen, { pod1: 12 });
      });

      it('serves load-balancer ingress IPs and external IPs like the Service', async () => {
        for (const ip of ['10.55.0.2', '10.55.0.1']) {
          const seen = await tally(topo.ext, ip, 80, 16);
          assert.deepEqual(Object.keys(seen).sort(), ['pod1', 'pod2'], `${ip}: ${JSON.stringify(seen)}`);
        }
      });

      it('lets only loadBalancerSourceRanges reach a load-balancer IP, leaving its NodePort and ClusterIP open', async () => {
        const allowed = await tally(topo.ext, '10.55.0.3', 80, 8);
        assert.equal((allowed.pod1 ?? 0) + (allowed.pod2 ?? 0), 8, JSON.stringify(allowed));
        // Dropped, as upstream: the client gets no answer at all.
        for (const ns of [topo.ext, topo.pods[1].ns]) {
          const r = await topo.get(ns, '10.55.0.4', 80, 2);
          assert.equal(r.ok, false, `${ns} reached the walled load balancer: ${r.body}`);
          assert.doesNotMatch(r.body, /refused/i, 'dropped, not rejected');
        }
        assert.match((await topo.get(topo.ext, topo.nodeIP, nodePort('walled'))).body, /^pod[12]$/, 'the NodePort is not subject to the ranges');
        assert.match((await topo.get(topo.pods[1].ns, vip('walled'))).body, /^pod[12]$/, 'the ClusterIP is not subject to the ranges');
        // Widening the ranges opens the door at the next sync.
        await client.patch(resources.services, 'default', 'walled', { spec: { loadBalancerSourceRanges: ['192.0.2.0/24', '10.77.0.0/24'] } }, 'merge');
        let body = '';
        for (const end = Date.now() + 5000; Date.now() < end && !/^pod[12]$/.test(body); ) body = (await topo.get(topo.ext, '10.55.0.4', 80, 1)).body;
        assert.match(body, /^pod[12]$/);
        await client.patch(resources.services, 'default', 'walled', { spec: { loadBalancerSourceRanges: ['192.0.2.0/24'] } }, 'merge');
        await proxy.sync();
      });

      it('uses a serving terminating endpoint when no endpoint is ready', async () => {
        const seen = await tally(topo.pods[1].ns, vip('term'), 80, 8);
        assert.deepEqual(seen, { pod1: 8 });
      });

      it('moves traffic to the new endpoint soon after the EndpointSlice changes', async () => {
        assert.equal((await topo.get(topo.pods[1].ns, vip('change'))).body, 'pod1');
        const t0 = performance.now();
        const firstSync = syncLines.length;
        await setSlice('change', [{ pod: 1 }]);
        let body = '';
        while (performance.now() - t0 < 5000) {
          body = (await topo.get(topo.pods[1].ns, vip('change'))).body;
          if (body === 'pod2') break;
        }
        assert.equal(body, 'pod2');
        if (mode === 'nftables') {
          // One Service's chain rewritten and its hairpin pair swapped, not the table.
          const lines = syncLines.slice(firstSync).filter((n) => n > 0);
          assert.ok(lines.length >= 1 && lines.every((n) => n <= 8), `transaction sizes: ${lines.join(', ')}`);
        }
        const seen = await tally(topo.pods[0].ns, vip('change'), 80, 8);
        assert.deepEqual(seen, { pod2: 8 });
      });

      it('clears UDP conntrack entries so a client moves off an endpoint that went away', async () => {
        await setUdpSlice(0);
        await proxy.sync();
        let reply = '';
        for (let i = 0; i < 10 && reply !== 'pod1'; i++) reply = await udpAsk(topo.pods[1].ns, vip('udp'), 53);
        assert.equal(reply, 'pod1');
        await setUdpSlice(1);
        let moved = '';
        for (const end = Date.now() + 5000; Date.now() < end && moved !== 'pod2'; ) moved = await udpAsk(topo.pods[1].ns, vip('udp'), 53);
        // Same source port, same flow: without clearing, conntrack would keep it on pod1 for minutes.
        assert.equal(moved, 'pod2');
      });

      it('reports its sync duration as a metric', async () => {
        const text = proxy.metrics.render();
        assert.match(text, /kubeproxy_sync_proxy_rules_duration_seconds_count [1-9]/);
        assert.match(text, /kubeproxy_sync_proxy_rules_last_timestamp_seconds \d/);
        // The endpoint change above carried a trigger time.
        assert.match(text, /kubeproxy_network_programming_duration_seconds_count [1-9]/);
      });

      it('removes everything it programmed on stop', async () => {
        await proxy.stop();
        if (mode === 'nftables') {
          const r = topo.exec(topo.node, ['nft', 'list', 'table', 'ip', 'k8ts-proxy']);
          assert.notEqual(r.status, 0, 'the table is still there');
        } else {
          const r = topo.exec(topo.node, ['iptables-save']);
          assert.equal(r.status, 0);
          assert.doesNotMatch(r.stdout, /KUBE-|k8ts-proxy/);
        }
        const r = await topo.get(topo.pods[1].ns, vip('web'), 80, 1);
        assert.equal(r.ok, false);
      });
    });
  }

  it('replaces stale rules left by an earlier run when it starts', async () => {
    // An unclean exit leaves a table with a bogus service; a new proxy must not keep it.
    const stale = 'add table ip k8ts-proxy\nadd chain ip k8ts-proxy service-STALE\nadd rule ip k8ts-proxy service-STALE accept\n';
    const r = spawnSync('nsenter', [`--net=/var/run/netns/${topo.node}`, 'nft', '-f', '-'], { input: stale, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const proxy = await startProxy({ client, nodeName: NODE, nodeIPs: [topo.nodeIP], clusterCIDR: '10.244.0.0/16', netns: topo.node, minSyncIntervalMs: 50 });
    try {
      const list = topo.exec(topo.node, ['nft', 'list', 'table', 'ip', 'k8ts-proxy']);
      assert.equal(list.status, 0);
      assert.doesNotMatch(list.stdout, /service-STALE/);
      assert.match(list.stdout, /default\/web/);
    } finally {
      await proxy.stop();
    }
  });

  it('puts back rules removed behind its back at the next periodic sync', async () => {
    const proxy = await startProxy({ client, nodeName: NODE, nodeIPs: [topo.nodeIP], clusterCIDR: '10.244.0.0/16', netns: topo.node, minSyncIntervalMs: 50, syncPeriodMs: 300 });
    try {
      assert.equal(topo.exec(topo.node, ['nft', 'delete', 'table', 'ip', 'k8ts-proxy']).status, 0);
      let listed = '';
      for (const end = Date.now() + 5000; Date.now() < end; ) {
        listed = (await topo.execAsync(topo.node, ['nft', 'list', 'table', 'ip', 'k8ts-proxy'])).stdout;
        if (listed.includes('default/web')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(listed, /default\/web/);
      const seen = await tally(topo.pods[1].ns, vip('web'), 80, 12);
      assert.deepEqual(Object.keys(seen).sort(), ['pod1', 'pod2'], JSON.stringify(seen));
    } finally {
      await proxy.stop();
    }
  });

  it('after a transaction fails, retries with a full replacement that also carries the change', async () => {
    await setSlice('change', [{ pod: 0 }]);
    const proxy = await startProxy({ client, nodeName: NODE, nodeIPs: [topo.nodeIP], clusterCIDR: '10.244.0.0/16', netns: topo.node, minSyncIntervalMs: 50, syncPeriodMs: 0 });
    try {
      assert.equal((await topo.get(topo.pods[1].ns, vip('change'))).body, 'pod1');
      // Behind the proxy's back the table goes, so the next in-place update cannot apply.
      assert.equal(topo.exec(topo.node, ['nft', 'delete', 'table', 'ip', 'k8ts-proxy']).status, 0);
      await setSlice('change', [{ pod: 1 }]);
      let body = '';
      for (const end = Date.now() + 8000; Date.now() < end && body !== 'pod2'; ) {
        body = (await topo.get(topo.pods[1].ns, vip('change'), 80, 1)).body;
        if (body !== 'pod2') await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(body, 'pod2');
      assert.match(proxy.metrics.render(), /kubeproxy_sync_proxy_rules_failures_total [1-9]/);
      // The retry rebuilt everything, not only the changed Service.
      const seen = await tally(topo.pods[1].ns, vip('web'), 80, 12);
      assert.deepEqual(Object.keys(seen).sort(), ['pod1', 'pod2'], JSON.stringify(seen));
    } finally {
      await proxy.stop();
    }
  });

  for (const mode of ['nftables', 'iptables'] as const) {
    it(`with localhost NodePorts (${mode}), the node reaches NodePorts on 127.0.0.1 and a load balancer on a loopback address`, async () => {
      svc.lb = await client.patch(resources.services, 'default', 'lb', { status: { loadBalancer: { ingress: [{ ip: '10.55.0.2' }, { ip: '127.0.100.5' }] } } }, 'merge', { subresource: 'status' });
      const proxy = await startProxy({ client, nodeName: NODE, nodeIPs: [topo.nodeIP], clusterCIDR: '10.244.0.0/16', mode, netns: topo.node, minSyncIntervalMs: 50, localhostNodePorts: true });
      try {
        await proxy.sync();
        const seen = await tally(topo.node, '127.0.0.1', nodePort('web'), 12);
        assert.deepEqual(Object.keys(seen).sort(), ['pod1', 'pod2'], JSON.stringify(seen));
        const lb = await tally(topo.node, '127.0.100.5', 80, 6);
        assert.equal((lb.pod1 ?? 0) + (lb.pod2 ?? 0), 6, JSON.stringify(lb));
      } finally {
        await proxy.stop();
      }
    });
  }

  it('removes the Service route it added to lo', async () => {
    await removeServiceRoute(SERVICE_CIDR, topo.node);
    await removeServiceRoute(SERVICE_CIDR, topo.node); // idempotent
    const r = topo.exec(topo.node, ['ip', 'route', 'show', SERVICE_CIDR]);
    assert.equal(r.stdout.trim(), '');
  });
});
