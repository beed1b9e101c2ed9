/**
 * Services end to end on one real node (containerd, CNI bridge, kube-proxy, cluster DNS), driven
 * with the real kubectl: load spreading, session affinity, headless and SRV names, NXDOMAIN, a
 * Service without endpoints, and loadBalancerSourceRanges on a load balancer address of this machine.
 *
 * Address block of this file alone (no other test file uses it, so they can run in parallel):
 *   pods 10.150.0.0/16, Services 10.250.0.0/16, bridge k8ts-svc, load balancers 127.0.150.0/24.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCluster, eventually, type TestCluster } from './helpers.js';
import { announceSkip, missingNodeCapability } from './capabilities.js';
import { importBusyboxImage } from '../src/kubelet/containerd/images.js';

const BUSYBOX = 'k8ts.local/busybox:1';
const clusterCIDR = '10.150.0.0/16';
const serviceCIDR = '10.250.0.0/16';
const lbPool = '127.0.150.0/24';
const bridge = 'k8ts-svc';
const ZONE = 'default.svc.cluster.local';

const why = announceSkip('the Service acceptance tests', missingNodeCapability([{ name: 'nft', pkg: 'nftables' }]));

/** A web server answering its host name on 8080, ready once it listens. */
const webContainer = {
  name: 'web',
  image: BUSYBOX,
  command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www'],
  ports: [{ name: 'http', containerPort: 8080 }],
  readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
};
const svc = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...spec } });

const objects = [
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [webContainer] } } },
  },
  svc('web', { selector: { app: 'web' } }),
  svc('sticky', { selector: { app: 'web' }, sessionAffinity: 'ClientIP' }),
  svc('web-headless', { selector: { app: 'web' }, clusterIP: 'None' }),
  // A pod with hostname and subdomain, and the headless Service named like the subdomain.
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'named', labels: { app: 'named' } }, spec: { hostname: 'alpha', subdomain: 'sub', containers: [webContainer] } },
  svc('sub', { selector: { app: 'named' }, clusterIP: 'None' }),
  svc('nobody', { selector: { app: 'nobody' } }),
  // This machine reaches 127.0.150.x from 127.0.0.1: the first range holds it, the second does not.
  svc('lb-open', { selector: { app: 'web' }, type: 'LoadBalancer', loadBalancerSourceRanges: ['127.0.0.0/8'] }),
  svc('lb-closed', { selector: { app: 'web' }, type: 'LoadBalancer', loadBalancerSourceRanges: ['198.51.100.0/24'] }),
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client' }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'client', image: BUSYBOX, command: ['sleep', '3600'] }] } },
];

describe('Services behave as upstream on a real node, through kubectl', { skip: why }, () => {
  let c: TestCluster;
  let dataDir: string;
  let webPods: { name: string; ip: string }[] = [];

  /** Run a shell script in the client pod; its exit code and output. */
  const inClient = async (script: string, timeoutMs = 60_000) => {
    const r = await c.kubectl(['exec', 'client', '--', 'sh', '-c', script], { timeoutMs });
    return { code: r.code, out: r.stdout, err: r.stderr };
  };
  /** Bodies of `n` fresh connections to `url` from the client pod, one per line. */
  const answers = async (url: string, n: number) => {
    const r = await inClient(`for i in $(seq ${n}); do timeout 3 wget -qO- ${url} || echo FAILED; done`);
    return r.out.split('\n').filter(Boolean);
  };
  const lbIP = (name: string) => eventually(async () => (await c.ok(['get', 'svc', name, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).trim(), 30_000, 200);
  const fetchBody = (ip: string, ms: number) => fetch(`http://${ip}/`, { signal: AbortSignal.timeout(ms) }).then((r) => r.text(), (e: Error) => ({ error: e.name }));

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'k8ts-services-'));
    c = await startTestCluster({
      server: { dataDir, removeDataDirOnStop: false, clusterCIDR, serviceCIDR, loadBalancerPool: lbPool, agent: { bridge, kubeletPort: 0, heartbeatMs: 2000 } },
    });
    await importBusyboxImage({ socket: c.server.agent!.containerd!.socket, name: BUSYBOX });
    await eventually(async () => (await c.ok(['get', 'nodes', '-o', 'jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}'])) === 'True', 30_000, 200);
    await c.ok(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
    await c.ok(['rollout', 'status', 'deployment/web', '--timeout=90s'], { timeoutMs: 100_000 });
    for (const name of ['client', 'named']) {
      await eventually(async () => (await c.ok(['get', 'pod', name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])) === 'True', 90_000, 250);
    }
    const pods = JSON.parse(await c.ok(['get', 'pods', '-l', 'app=web', '-o', 'json'])).items;
    webPods = pods.map((p: any) => ({ name: p.metadata.name, ip: p.status.podIP }));
    assert.equal(webPods.length, 3);
    // The Service answers by name before anything is measured (proxy and DNS have caught up).
    await eventually(async () => (await inClient('timeout 3 wget -qO- http://web/')).code === 0, 30_000, 250);
  });

  after(async () => {
    if (!c) return;
    await c.server.agent?.stop({ removePods: true, removeState: true });
    await c.server.stop();
    await c.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('spreads ClusterIP requests from a client pod over all three ready endpoints', async () => {
    const names = webPods.map((p) => p.name).sort();
    // 30 connections miss one of three endpoints with chance 3·(2/3)^30 ≈ 2e-5; one retry covers a late sync.
    let seen: string[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      const got = await answers('http://web/', 30);
      assert.ok(!got.includes('FAILED'), got.join(' '));
      seen = [...new Set(got)].sort();
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, names);
  });

  it('pins one client to one endpoint with sessionAffinity ClientIP', async () => {
    const got = await answers(`http://sticky.${ZONE}/`, 15);
    assert.equal(got.length, 15);
    assert.equal(new Set(got).size, 1, `answers: ${got.join(' ')}`);
    assert.ok(webPods.some((p) => p.name === got[0]), `${got[0]} is one of the web pods`);
  });

  it('resolves a headless Service to the ready pod IPs, and hostname.subdomain to its pod', async () => {
    const ipsIn = (out: string) => [...out.matchAll(/^Address:\s+(\d+\.\d+\.\d+\.\d+)$/gm)].map((m) => m[1]).sort();
    const headless = await inClient(`nslookup web-headless.${ZONE}`);
    assert.equal(headless.code, 0, headless.out + headless.err);
    assert.deepEqual(ipsIn(headless.out), webPods.map((p) => p.ip).sort(), headless.out);
    const namedIP = (await c.ok(['get', 'pod', 'named', '-o', 'jsonpath={.status.podIP}'])).trim();
    const named = await eventually(async () => {
      const r = await inClient(`nslookup alpha.sub.${ZONE}`);
      return r.code === 0 ? r : undefined;
    }, 15_000, 500);
    assert.deepEqual(ipsIn(named.out), [namedIP], named.out);
  });

  it('answers SRV queries for a named port, on a ClusterIP Service and per endpoint on a headless one', async () => {
    const r = await inClient(`nslookup -type=SRV _http._tcp.web.${ZONE}`);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, new RegExp(`service = 0 \\d+ 80 web\\.${ZONE.replace(/\./g, '\\.')}`));
    const h = await inClient(`nslookup -type=SRV _http._tcp.web-headless.${ZONE}`);
    assert.equal(h.code, 0, h.out + h.err);
    const targets = [...h.out.matchAll(/service = 0 \d+ 8080 (\S+)/g)].map((m) => m[1]).sort();
    const dashed = webPods.map((p) => `${p.ip.replace(/\./g, '-')}.web-headless.${ZONE}`).sort();
    assert.deepEqual(targets, dashed, h.out);
  });

  it('answers NXDOMAIN quickly for an unknown name in the cluster domain', async () => {
    const r = await inClient(`time nslookup nothing-here.${ZONE} 2>&1`);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /NXDOMAIN/);
    const [, min, sec] = /real\s+(\d+)m\s*([\d.]+)s/.exec(r.out + r.err) ?? [];
    assert.ok(min !== undefined, `no timing in: ${r.out}${r.err}`);
    const secs = Number(min) * 60 + Number(sec);
    assert.ok(secs < 1, `took ${secs} s`);
  });

  it('refuses connections at once to a Service without ready endpoints', async () => {
    const r = await inClient(`time timeout 10 wget -qO- http://nobody.${ZONE}/ 2>&1; true`);
    assert.match(r.out + r.err, /refused/i);
    const [, min, sec] = /real\s+(\d+)m\s*([\d.]+)s/.exec(r.out + r.err) ?? [];
    const secs = Number(min) * 60 + Number(sec);
    assert.ok(secs < 1, `took ${secs} s: ${r.out}`);
  });

  it('lets only loadBalancerSourceRanges reach a load balancer address from this machine', async () => {
    const open = await lbIP('lb-open');
    const closed = await lbIP('lb-closed');
    for (const ip of [open, closed]) assert.ok(ip.startsWith('127.0.150.'), `address ${ip} from the pool ${lbPool}`);
    const body = await eventually(async () => {
      const b = await fetchBody(open, 2000);
      return typeof b === 'string' ? b.trim() : undefined;
    }, 30_000, 250);
    assert.ok(webPods.some((p) => p.name === body), `the open load balancer answered ${body}`);
    // Dropped, as upstream does: no answer at all, so the request times out.
    const denied = await fetchBody(closed, 2000);
    assert.deepEqual(denied, { error: 'TimeoutError' }, `the closed load balancer answered ${JSON.stringify(denied)}`);
    // The same Service answers once its ranges take this machine in: the ranges were what kept it out.
    await c.ok(['patch', 'svc', 'lb-closed', '--type=merge', '-p', JSON.stringify({ spec: { loadBalancerSourceRanges: ['198.51.100.0/24', '127.0.0.1/32'] } })]);
    const now = await eventually(async () => {
      const b = await fetchBody(closed, 1000);
      return typeof b === 'string' ? b.trim() : undefined;
    }, 15_000, 250);
    assert.ok(webPods.some((p) => p.name === now), `the widened load balancer answered ${now}`);
  });
});
