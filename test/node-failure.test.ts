// A node that stops heartbeating: the node lifecycle controller marks it Unknown and taints it
// unreachable, its pods are evicted once their (short, configured) toleration runs out, and the
// Deployment's pods appear on the other nodes — observed through the real kubectl.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startTestCluster, type TestCluster } from './helpers.js';
import { RestClient } from '../src/client/rest-client.js';
import { startHollowNodes, type HollowNodes } from '../src/kubelet/hollow.js';

describe('a node that stops heartbeating', () => {
  let c: TestCluster;
  let client: RestClient;
  let nodes: HollowNodes;
  before(async () => {
    c = await startTestCluster({ server: { nodeMonitorGracePeriodMs: 3000, defaultUnreachableTolerationSeconds: 2 } });
    client = new RestClient({ server: c.server.url, ca: c.server.ca, cert: c.server.adminCert.cert, key: c.server.adminCert.key });
    nodes = await startHollowNodes({ client, count: 3, namePrefix: 'n-', heartbeatMs: 1000 });
  });
  after(async () => {
    await nodes?.stop();
    client?.close();
    await c?.stop();
  });

  it('turns Unknown, is tainted unreachable, and its pods are replaced on other nodes', async () => {
    await c.ok(['create', 'deployment', 'svc', '--image=nginx', '--replicas=3']);
    await c.ok(['rollout', 'status', 'deployment/svc', '--timeout=60s'], { timeoutMs: 70_000 });
    const pods = JSON.parse(await c.ok(['get', 'pods', '-l', 'app=svc', '-o', 'json'])).items as any[];
    const victimNode = pods[0].spec.nodeName as string;
    const onVictim = pods.filter((p) => p.spec.nodeName === victimNode).map((p) => p.metadata.name);
    await nodes.kubelets[nodes.nodeNames.indexOf(victimNode)].stop();

    await eventually(async () => /Unknown|NotReady/.test(await c.ok(['get', 'node', victimNode])), 20_000, 250);
    const node = JSON.parse(await c.ok(['get', 'node', victimNode, '-o', 'json']));
    const taints = (node.spec.taints ?? []).map((t: any) => `${t.key}:${t.effect}`);
    assert.ok(taints.includes('node.kubernetes.io/unreachable:NoExecute'), taints.join(','));
    assert.ok(taints.includes('node.kubernetes.io/unreachable:NoSchedule'), taints.join(','));
    // Within the eviction window, 3 Ready pods run again, none of them on the silent node.
    await eventually(async () => {
      const now = JSON.parse(await c.ok(['get', 'pods', '-l', 'app=svc', '-o', 'json'])).items as any[];
      const live = now.filter((p) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True'));
      return live.length === 3 && live.every((p) => p.spec.nodeName !== victimNode && !onVictim.includes(p.metadata.name));
    }, 30_000, 250);
  });
});
