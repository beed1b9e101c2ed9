import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, type RunningServer } from '../../src/app/server.js';
import { setLogLevel } from '../../src/base/log.js';
import { RestClient, type KObject } from '../../src/client/rest-client.js';
import { resources } from '../../src/client/resources.js';
import { startHollowNodes, type HollowNodes } from '../../src/kubelet/hollow.js';
import { Kubelet } from '../../src/kubelet/kubelet.js';
import { InformerPodSource } from '../../src/kubelet/pod-source.js';
import { FakeRuntime, EXIT_CODE_ANNOTATION, RUN_DURATION_ANNOTATION, parseCIDR } from '../../src/kubelet/runtime/fake-runtime.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');

async function until<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

function inCIDR(ip: string, cidr: string): boolean {
  const { base, bits } = parseCIDR(cidr);
  const n = ip.split('.').reduce((a, x) => a * 256 + Number(x), 0);
  return Math.floor(n / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits));
}

const podObj = (name: string, node: string | undefined, spec: KObject = {}, annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, annotations },
  spec: { ...(node ? { nodeName: node } : {}), containers: [{ name: 'c', image: 'nginx:1.27' }], ...spec },
});
const cond = (p: KObject, type: string) => p.status?.conditions?.find((c: KObject) => c.type === type);

let server: RunningServer;
let client: RestClient;
before(async () => {
  server = await startServer({ storagePath: ':memory:', controllers: false });
  client = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key, userAgent: 'kubelet-test' });
});
after(async () => {
  client.close();
  await server.stop();
});

describe('three hollow nodes', () => {
  let nodes: HollowNodes;
  before(async () => {
    nodes = await startHollowNodes({ client, count: 3, namePrefix: 'hn-', runDurationMs: 300, heartbeatMs: 200, nodeStatusReportMs: 400, backoffInitialMs: 200, backoffMaxMs: 800 });
  });
  after(async () => nodes.stop());

  it('register Ready nodes with capacity, addresses, nodeInfo and a pod CIDR each', async () => {
    const list = await client.list(resources.nodes, undefined);
    const ours = list.items.filter((n: KObject) => n.metadata.name.startsWith('hn-'));
    assert.deepEqual(ours.map((n: KObject) => n.metadata.name).sort(), ['hn-0', 'hn-1', 'hn-2']);
    const cidrs = new Set<string>();
    for (const n of ours) {
      assert.equal(cond(n, 'Ready').status, 'True');
      assert.equal(cond(n, 'Ready').reason, 'KubeletReady');
      for (const t of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) assert.equal(cond(n, t).status, 'False', t);
      assert.equal(n.status.capacity.pods, '110');
      for (const r of ['cpu', 'memory', 'ephemeral-storage']) assert.ok(n.status.allocatable[r], r);
      assert.equal(n.status.nodeInfo.kubeletVersion, 'v1.32.4-k8ts');
      assert.equal(n.status.nodeInfo.containerRuntimeVersion, 'k8ts-fake://0.1.0');
      assert.deepEqual(n.status.addresses.map((a: KObject) => a.type), ['InternalIP', 'Hostname']);
      assert.equal(n.metadata.labels['kubernetes.io/hostname'], n.metadata.name);
      cidrs.add(n.spec.podCIDR);
    }
    assert.equal(cidrs.size, 3);
  });

  it('renew their Leases in kube-node-lease and refresh node heartbeats', async () => {
    const l0 = await client.get(resources.leases, 'kube-node-lease', 'hn-1');
    assert.equal(l0.spec.holderIdentity, 'hn-1');
    assert.equal(l0.spec.leaseDurationSeconds, 40);
    assert.equal(l0.metadata.ownerReferences[0].kind, 'Node');
    const h0 = cond(await client.get(resources.nodes, '', 'hn-1'), 'Ready').lastHeartbeatTime;
    await until(async () => (await client.get(resources.leases, 'kube-node-lease', 'hn-1')).spec.renewTime !== l0.spec.renewTime, 'lease renewal');
    await until(async () => cond(await client.get(resources.nodes, '', 'hn-1'), 'Ready').lastHeartbeatTime !== h0, 'node heartbeat', 5000);
  });

  it('run a bound pod: Running, Ready, with a pod IP from its node CIDR and container statuses', async () => {
    await client.create(resources.pods, 'default', podObj('web', 'hn-1'));
    const p = await until(async () => {
      const x = await client.get(resources.pods, 'default', 'web');
      return x.status?.phase === 'Running' && cond(x, 'Ready')?.status === 'True' && x;
    }, 'pod web Running and Ready');
    const node = await client.get(resources.nodes, '', 'hn-1');
    assert.ok(inCIDR(p.status.podIP, node.spec.podCIDR), `${p.status.podIP} in ${node.spec.podCIDR}`);
    assert.equal(p.status.hostIP, node.status.addresses[0].address);
    assert.ok(p.status.startTime);
    const cs = p.status.containerStatuses[0];
    assert.equal(cs.name, 'c');
    assert.equal(cs.ready, true);
    assert.equal(cs.started, true);
    assert.ok(cs.state.running);
    assert.match(cs.containerID, /^k8ts-fake:\/\//);
    assert.match(cs.imageID, /@sha256:/);
    for (const t of ['PodReadyToStartContainers', 'Initialized', 'ContainersReady', 'PodScheduled']) assert.equal(cond(p, t)?.status, 'True', t);
  });

  it('delete a running pod promptly: the server marks it for graceful deletion, the kubelet stops it and confirms with a zero-grace delete', async () => {
    const t0 = Date.now();
    const marked = await client.delete(resources.pods, 'default', 'web');
    assert.ok(marked.metadata.deletionTimestamp, 'graceful deletion leaves the pod marked first');
    await until(async () => client.get(resources.pods, 'default', 'web').then(() => false, (e) => e.code === 404), 'pod web gone');
    assert.ok(Date.now() - t0 < 5000, 'well within the 30 s grace period');
    const kl = nodes.kubelets.find((k) => k.nodeName === 'hn-1')!;
    await until(async () => kl.podCount === 0, 'kubelet forgets the pod');
    assert.ok(kl.stats.podDeletes >= 1);
  });

  it('complete a restartPolicy Never pod after the simulated run: Succeeded with exit code 0', async () => {
    await client.create(resources.pods, 'default', podObj('job', 'hn-0', { restartPolicy: 'Never' }));
    const running = await until(async () => {
      const x = await client.get(resources.pods, 'default', 'job');
      return (x.status?.phase === 'Running' || x.status?.phase === 'Succeeded') && x;
    }, 'job started');
    const t0 = Date.now();
    const done = await until(async () => {
      const x = await client.get(resources.pods, 'default', 'job');
      return x.status?.phase === 'Succeeded' && x;
    }, 'job Succeeded');
    if (running.status.phase === 'Running') assert.ok(Date.now() - t0 < 3000);
    const term = done.status.containerStatuses[0].state.terminated;
    assert.equal(term.exitCode, 0);
    assert.equal(term.reason, 'Completed');
    assert.equal(cond(done, 'Ready').reason, 'PodCompleted');
    assert.ok(done.status.podIP, 'a finished pod keeps its IP in status');
  });

  it('fail a restartPolicy Never pod whose container exits non-zero', async () => {
    await client.create(resources.pods, 'default', podObj('bad', 'hn-2', { restartPolicy: 'Never' }, { [EXIT_CODE_ANNOTATION]: '3' }));
    const p = await until(async () => {
      const x = await client.get(resources.pods, 'default', 'bad');
      return x.status?.phase === 'Failed' && x;
    }, 'pod bad Failed');
    assert.equal(p.status.containerStatuses[0].state.terminated.exitCode, 3);
  });

  it('restart a crashing Always container with growing back-off, reporting CrashLoopBackOff and restartCount', async () => {
    await client.create(resources.pods, 'default', podObj('crash', 'hn-2', {}, { [RUN_DURATION_ANNOTATION]: '50', [EXIT_CODE_ANNOTATION]: '1' }));
    const seen = new Set<string>();
    const p = await until(async () => {
      const x = await client.get(resources.pods, 'default', 'crash');
      const cs = x.status?.containerStatuses?.[0];
      if (cs?.state?.waiting?.reason) seen.add(cs.state.waiting.reason);
      return cs?.restartCount >= 3 && x;
    }, 'three restarts');
    assert.ok(seen.has('CrashLoopBackOff'), `waiting reasons seen: ${[...seen]}`);
    assert.equal(p.status.phase, 'Running');
    assert.equal(p.status.containerStatuses[0].lastState.terminated.exitCode, 1);
  });

  it('run init containers one after another to completion before the app container', async () => {
    await client.create(resources.pods, 'default', podObj('withinit', 'hn-0', { initContainers: [{ name: 'i1', image: 'busybox:1.36' }, { name: 'i2', image: 'busybox:1.36' }] }));
    const pending = await until(async () => {
      const x = await client.get(resources.pods, 'default', 'withinit');
      return x.status?.initContainerStatuses?.[0]?.state?.running && x;
    }, 'first init container running');
    assert.equal(pending.status.phase, 'Pending');
    assert.equal(cond(pending, 'Initialized')?.status, 'False');
    assert.equal(pending.status.initContainerStatuses[1].state.waiting.reason, 'PodInitializing');
    assert.equal(pending.status.containerStatuses[0].state.waiting.reason, 'PodInitializing');
    const p = await until(async () => {
      const x = await client.get(resources.pods, 'default', 'withinit');
      return x.status?.phase === 'Running' && x;
    }, 'pod Running after init');
    const [i1, i2] = p.status.initContainerStatuses.map((s: KObject) => s.state.terminated);
    assert.equal(i1.exitCode, 0);
    assert.equal(i2.exitCode, 0);
    assert.ok(Date.parse(i2.startedAt) >= Date.parse(i1.finishedAt), 'i2 started after i1 finished');
    assert.equal(cond(p, 'Initialized')?.status, 'True');
  });

  it('runs a pod bound later through the binding subresource', async () => {
    await client.create(resources.pods, 'default', podObj('late', undefined));
    await client.request('POST', '/api/v1/namespaces/default/pods/late/binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'late' }, target: { kind: 'Node', name: 'hn-0' } });
    await until(async () => (await client.get(resources.pods, 'default', 'late')).status?.phase === 'Running', 'late pod Running');
  });
});

describe('fifty hollow nodes', () => {
  it('run 500 pods bound across them, all Running with unique IPs', async () => {
    const nodes = await startHollowNodes({ client, count: 50, namePrefix: 'many-', heartbeatMs: 1000 });
    try {
      const ns = 'bulk';
      await client.create(resources.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      // No controllers run here: the account ServiceAccount admission requires, by hand.
      await client.create(resources.serviceaccounts, ns, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 500; i++) work.push(client.create(resources.pods, ns, podObj(`p-${i}`, `many-${i % 50}`)));
      await Promise.all(work);
      const items = await until(async () => {
        const l = await client.list(resources.pods, ns);
        return l.items.length === 500 && l.items.every((p: KObject) => p.status?.phase === 'Running' && cond(p, 'Ready')?.status === 'True') && l.items;
      }, '500 pods Running', 60_000);
      const ips = new Set(items.map((p: KObject) => p.status.podIP));
      assert.equal(ips.size, 500);
      assert.ok(nodes.statusManager.stats.patches >= 500);
    } finally {
      await nodes.stop();
    }
  });
});

describe('a single real-style kubelet', () => {
  it('watches its own pods through a field-selected watch and runs a pod bound to it', async () => {
    const source = InformerPodSource.forNode(client, 'solo');
    const runtime = new FakeRuntime();
    const kl = new Kubelet({ client, nodeName: 'solo', runtime, podSource: source, nodeIP: '192.0.2.10', podCIDR: '10.200.0.0/24', heartbeatMs: 500 });
    await kl.start();
    source.start();
    try {
      await client.create(resources.pods, 'default', podObj('solo-pod', undefined));
      await client.request('POST', '/api/v1/namespaces/default/pods/solo-pod/binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'solo-pod' }, target: { kind: 'Node', name: 'solo' } });
      const p = await until(async () => {
        const x = await client.get(resources.pods, 'default', 'solo-pod');
        return x.status?.phase === 'Running' && x;
      }, 'solo pod Running');
      assert.ok(inCIDR(p.status.podIP, '10.200.0.0/24'));
      await client.delete(resources.pods, 'default', 'solo-pod');
      await until(async () => client.get(resources.pods, 'default', 'solo-pod').then(() => false, (e) => e.code === 404), 'solo pod gone');
      await until(async () => runtime.counts().sandboxes === 0, 'runtime cleaned up');
    } finally {
      await kl.stop();
      await source.stop();
      runtime.close();
    }
  });
});
