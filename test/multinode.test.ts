/**
 * Several real nodes on one machine, driven with the real kubectl: the server's own node (host
 * namespace) plus two nodes that are whole `k8ts agent` processes in their own network namespaces,
 * joined by a host bridge. Pods spread over the three nodes reach each other by IP, through a
 * Service's ClusterIP and by DNS name; exec and logs reach a netns node's kubelet; a killed node's
 * pods come back on the others, and removing it leaves nothing behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestCluster, eventually, type TestCluster } from './helpers.js';
import { announceSkip, missingNodeCapability } from './capabilities.js';
import { importBusyboxImage } from '../src/kubelet/containerd/images.js';
import { netnsLeftovers, netnsPath, startNetnsNode, vethName, type NetnsNode } from '../src/app/netns-node.js';
import { runNode } from '../src/cli/node.js';

const BUSYBOX = 'k8ts.local/busybox:1';

const why = announceSkip('the multi-node tests', missingNodeCapability([{ name: 'nft', pkg: 'nftables' }, { name: 'nsenter', pkg: 'util-linux' }]));

// Ranges, bridges and namespaces of this test process alone.
const n = process.pid % 50;
const clusterCIDR = `10.${100 + n}.0.0/16`;
const serviceCIDR = `10.${200 + n}.0.0/16`;
const nodeNetwork = `10.${150 + n}.0.0/24`;
const hostIP = `10.${150 + n}.0.1`;
const bridge = `k8tsm${process.pid % 100000}`;
const nodeBridge = `k8tsn${process.pid % 100000}`;
const names = [`mn${process.pid}-a`, `mn${process.pid}-b`];
const repo = resolve(import.meta.dirname, '..');

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });

describe('a cluster of three real nodes on one machine', { skip: why }, () => {
  let c: TestCluster;
  let dataDir: string;
  const nodes: NetnsNode[] = [];
  let serverNode = '';
  const timings: Record<string, number> = {};

  const phase = async (name: string) => (await c.ok(['get', 'pod', name, '-o', 'jsonpath={.status.phase}'])).trim();
  const webPods = async () =>
    (JSON.parse(await c.ok(['get', 'pods', '-l', 'app=web', '-o', 'json'])).items as any[]).filter(
      (p) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True'),
    );

  /** Runs a busybox script in a pod pinned to a node; its exit code and output. */
  async function runOn(node: string, name: string, script: string): Promise<{ code: number; out: string }> {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { nodeName: node, restartPolicy: 'Never', containers: [{ name: 'c', image: BUSYBOX, command: ['sh', '-c', script] }] } };
    await c.ok(['apply', '-f', '-'], { input: JSON.stringify(pod) });
    await eventually(async () => ['Succeeded', 'Failed'].includes(await phase(name)), 90_000, 200);
    const st = JSON.parse(await c.ok(['get', 'pod', name, '-o', 'json'])).status;
    const out = await c.ok(['logs', name]);
    return { code: st.containerStatuses[0].state.terminated.exitCode, out };
  }

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'k8ts-mn-'));
    let t = Date.now();
    c = await startTestCluster({
      server: {
        dataDir,
        removeDataDirOnStop: true,
        clusterCIDR,
        serviceCIDR,
        tlsSANs: [hostIP],
        nodeMonitorGracePeriodMs: 6000,
        defaultNotReadyTolerationSeconds: 2,
        defaultUnreachableTolerationSeconds: 2,
        agent: { bridge, kubeletPort: 0, heartbeatMs: 2000, allowDestinations: [nodeNetwork] },
      },
    });
    timings.serverStartMs = Date.now() - t;
    serverNode = c.server.agent!.nodeName;
    t = Date.now();
    const started = await Promise.allSettled(
      names.map((name) =>
        startNetnsNode({
          name,
          server: c.server.url,
          token: c.server.token,
          ca: c.server.ca,
          dataDir: join(dataDir, 'nodes', name),
          clusterCIDR,
          serviceCIDR,
          bridge: nodeBridge,
          nodeNetwork,
          nodeIP: `10.${150 + n}.0.${names.indexOf(name) + 2}`,
          command: [process.execPath, '--import', 'tsx', join(repo, 'src', 'cli', 'main.ts')],
          agentArgs: ['--node-status-update-frequency', '2s'],
        }),
      ),
    );
    for (const r of started) if (r.status === 'fulfilled') nodes.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    timings.netnsNodesJoinMs = Date.now() - t;
    t = Date.now();
    await Promise.all([c.server.agent!.containerd!.socket, ...nodes.map((x) => x.socket)].map((socket) => importBusyboxImage({ socket, name: BUSYBOX })));
    timings.imageImportMs = Date.now() - t;
    await eventually(async () => {
      const items = JSON.parse(await c.ok(['get', 'nodes', '-o', 'json'])).items as any[];
      return items.length === 3 && items.every((x) => x.status?.conditions?.some((k: any) => k.type === 'Ready' && k.status === 'True') && !(x.spec.taints ?? []).length);
    }, 60_000, 250);
  });

  after(async () => {
    for (const x of nodes) await x.stop().catch((e) => console.error(`stopping ${x.name}: ${(e as Error).message}`));
    if (c) await c.stop();
    console.log('timings', timings);
  });

  it('registers each netns node with its own node IP, pod range and kubelet address', async () => {
    const items = JSON.parse(await c.ok(['get', 'nodes', '-o', 'json'])).items as any[];
    const byName = new Map(items.map((x) => [x.metadata.name, x]));
    const cidrs = new Set(items.map((x) => x.spec.podCIDR));
    assert.equal(cidrs.size, 3, `distinct pod ranges: ${[...cidrs].join(', ')}`);
    for (const x of nodes) {
      const node = byName.get(x.name);
      assert.ok(node, `node ${x.name} exists`);
      assert.equal(node.status.addresses.find((a: any) => a.type === 'InternalIP').address, x.nodeIP);
      assert.equal(node.spec.podCIDR, x.podCIDR);
      assert.match(ip('netns', 'list'), new RegExp(`^${x.netns}\\b`, 'm'));
      assert.match(ip('route', 'show', x.podCIDR), new RegExp(`via ${x.nodeIP.replace(/\./g, '\\.')} dev ${nodeBridge}`));
    }
    const wide = await c.ok(['get', 'nodes', '-o', 'wide']);
    for (const x of nodes) assert.match(wide, new RegExp(`^${x.name}\\s+Ready\\s.*\\s${x.nodeIP.replace(/\./g, '\\.')}\\s`, 'm'));
    const out: string[] = [];
    await runNode(['ls', '--server-data-dir', dataDir], (s) => out.push(s));
    for (const x of nodes) assert.match(out.join(''), new RegExp(`^${x.name}\\s+Running\\s+${x.nodeIP.replace(/\./g, '\\.')}\\s+${x.podCIDR.replace(/[./]/g, '\\$&')}`, 'm'));
  });

  it('spreads a Deployment over the three nodes', async () => {
    const deploy = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', nodeTaintsPolicy: 'Honor', labelSelector: { matchLabels: { app: 'web' } } },
            ],
            containers: [
              {
                name: 'web',
                image: BUSYBOX,
                command: ['sh', '-c', 'echo serving-from-$(hostname); mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www'],
                ports: [{ containerPort: 8080 }],
              },
            ],
          },
        },
      },
    };
    const t = Date.now();
    await c.ok(['apply', '-f', '-'], { input: JSON.stringify(deploy) });
    await c.ok(['rollout', 'status', 'deployment/web', '--timeout=120s'], { timeoutMs: 130_000 });
    timings.deploymentReadyMs = Date.now() - t;
    const pods = await webPods();
    assert.equal(pods.length, 3);
    assert.deepEqual(pods.map((p) => p.spec.nodeName).sort(), [serverNode, ...names].sort());
    for (const p of pods) {
      const node = nodes.find((x) => x.name === p.spec.nodeName);
      if (node) assert.equal(p.status.hostIP, node.nodeIP);
    }
    await c.ok(['expose', 'deployment', 'web', '--port=8080']);
  });

  it('lets a pod on every node reach the pods on every node by IP', async () => {
    const pods = await webPods();
    const checks = pods.map((p) => `timeout 5 wget -qO- http://${p.status.podIP}:8080/ | grep -qx ${p.metadata.name} || { echo "no answer from ${p.metadata.name} on ${p.spec.nodeName}"; fail=1; }`);
    const script = ['fail=0', ...checks, 'exit $fail'].join('; ');
    const results = await Promise.all([serverNode, ...names].map((node, i) => runOn(node, `ping-${i}`, script)));
    results.forEach((r, i) => assert.equal(r.code, 0, `from ${[serverNode, ...names][i]}: ${r.out}`));
  });

  it('spreads ClusterIP traffic from a netns node over the pods of all three nodes', async () => {
    const vip = (await c.ok(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const r = await runOn(names[0]!, 'vip-client', `for i in $(seq 30); do timeout 5 wget -qO- http://${vip}:8080/ || echo FAILED; done`);
    assert.equal(r.code, 0, r.out);
    const answers = r.out.split('\n').filter(Boolean);
    assert.ok(!answers.includes('FAILED'), r.out);
    assert.deepEqual([...new Set(answers)].sort(), (await webPods()).map((p) => p.metadata.name).sort());
  });

  it('answers a NodePort on every node\'s address, from this machine and from a pod', async () => {
    await c.ok(['expose', 'deployment', 'web', '--name=web-np', '--type=NodePort', '--port=8080']);
    const port = Number((await c.ok(['get', 'service', 'web-np', '-o', 'jsonpath={.spec.ports[0].nodePort}'])).trim());
    assert.ok(port >= 30000 && port <= 32767, `node port ${port}`);
    const nodeIPs = [c.server.agent!.nodeIP, ...nodes.map((x) => x.nodeIP)];
    const podNames = (await webPods()).map((p) => p.metadata.name);
    for (const ip of nodeIPs) {
      const body = await eventually(async () => {
        const res = await fetch(`http://${ip}:${port}/`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
        return res?.ok ? (await res.text()).trim() : undefined;
      }, 20_000, 250);
      assert.ok(podNames.includes(body), `node ${ip} answered ${body}`);
    }
    const script = ['fail=0', ...nodeIPs.map((ip) => `timeout 5 wget -qO- http://${ip}:${port}/ >/dev/null || { echo "no answer on ${ip}:${port}"; fail=1; }`), 'exit $fail'].join('; ');
    const r = await runOn(names[0]!, 'np-client', script);
    assert.equal(r.code, 0, r.out);
    await c.ok(['delete', 'service', 'web-np']);
  });

  it('resolves a Service by name from a pod on a netns node, through every node\'s DNS server', async () => {
    const vip = (await c.ok(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const dnsIPs = [c.server.agent!.nodeIP, ...nodes.map((x) => x.nodeIP)];
    const script = [
      'fail=0',
      ...dnsIPs.map((d) => `timeout 5 nslookup web.default.svc.cluster.local ${d} | grep -q "${vip}" || { echo "DNS at ${d} did not answer"; fail=1; }`),
      'for i in 1 2 3 4 5 6; do timeout 5 wget -qO- http://web.default.svc.cluster.local:8080/ || { echo "by name failed"; fail=1; }; done',
      'exit $fail',
    ].join('; ');
    const r = await runOn(names[1]!, 'dns-client', script);
    assert.equal(r.code, 0, r.out);
    const served = r.out.split('\n').filter((l) => l.startsWith('web-'));
    assert.equal(served.length, 6, r.out);
  });

  it('execs in and reads the logs of a pod on a netns node through its kubelet', async () => {
    for (const node of names) {
      const pod = (await webPods()).find((p) => p.spec.nodeName === node)!;
      assert.equal((await c.ok(['exec', pod.metadata.name, '--', 'hostname'])).trim(), pod.metadata.name);
      assert.match(await c.ok(['exec', pod.metadata.name, '--', 'sh', '-c', 'echo $((6 * 7))']), /^42$/m);
      assert.match(await c.ok(['logs', pod.metadata.name]), new RegExp(`^serving-from-${pod.metadata.name}$`, 'm'));
    }
  });

  it('replaces the pods of a killed node on the other nodes, the Service keeps answering, and removing the node leaves nothing behind', async () => {
    const victim = nodes.find((x) => x.name === names[1])!;
    const lost = (await webPods()).filter((p) => p.spec.nodeName === victim.name).map((p) => p.metadata.name);
    assert.equal(lost.length, 1);
    const t = Date.now();
    // A node failure: the agent dies at once; its containerd, shims and containers stay behind.
    process.kill(victim.pid, 'SIGKILL');
    await eventually(async () => /Unknown|NotReady/.test(await c.ok(['get', 'node', victim.name])), 30_000, 250);
    timings.killedNodeUnknownMs = Date.now() - t;
    await eventually(async () => {
      const live = await webPods();
      return live.length === 3 && live.every((p) => p.spec.nodeName !== victim.name && !lost.includes(p.metadata.name));
    }, 60_000, 250);
    timings.rescheduledAfterKillMs = Date.now() - t;
    const pods = await webPods();
    assert.deepEqual([...new Set(pods.map((p) => p.spec.nodeName))].sort(), [serverNode, names[0]].sort());

    const vip = (await c.ok(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    await eventually(async () => {
      const r = await runOn(names[0]!, `after-${Date.now() % 100000}`, `for i in $(seq 12); do timeout 5 wget -qO- http://${vip}:8080/ || echo FAILED; done`);
      const answers = r.out.split('\n').filter(Boolean);
      return r.code === 0 && answers.length === 12 && answers.every((a) => pods.some((p) => p.metadata.name === a)) ? true : undefined;
    }, 60_000, 1000);

    // Removing the dead node kills what it left running and deletes its namespaces, veth and route.
    const left = netnsLeftovers(netnsPath(victim.netns));
    assert.ok(left.pids.length >= 3, `containerd, a shim and a container outlived the agent: ${left.pids.join(', ')}`);
    assert.ok(left.podNetns.length >= 1, 'the pod kept its network namespace');
    const t2 = Date.now();
    await victim.stop();
    nodes.splice(nodes.indexOf(victim), 1);
    timings.removeKilledNodeMs = Date.now() - t2;
    for (const pid of left.pids) assert.throws(() => process.kill(pid, 0), `PID ${pid} is gone`);
    const netns = ip('netns', 'list');
    for (const ns of [victim.netns, ...left.podNetns]) assert.doesNotMatch(netns, new RegExp(`^${ns}\\b`, 'm'));
    assert.equal(ip('route', 'show', victim.podCIDR).trim(), '');
    assert.equal(execFileSync('sh', ['-c', `ip -o link show ${vethName(victim.name)} 2>/dev/null || true`], { encoding: 'utf8' }).trim(), '');
    assert.equal(existsSync(victim.dataDir), false, 'the node folder is gone');
  });
});
