import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import {
  desiredManagedTaints,
  evictionTime,
  NodeLifecycleController,
  reconcileTaints,
} from '../../src/controllers/nodelifecycle/node-lifecycle-controller.js';
import { startHollowNodes, type HollowNodes } from '../../src/kubelet/hollow.js';
import { startHarness, until, type Harness } from './harness.js';

const ns = 'default';
const T0 = Date.parse('2026-01-01T00:00:00Z');

function nodeWith(conds: Record<string, string>, spec: KObject = {}): KObject {
  return { metadata: { name: 'n' }, spec, status: { conditions: Object.entries(conds).map(([type, status]) => ({ type, status })) } };
}

describe('node lifecycle taint rules', () => {
  const cases: { name: string; node: KObject; want: string[] }[] = [
    { name: 'a Ready node gets no taints', node: nodeWith({ Ready: 'True', MemoryPressure: 'False' }), want: [] },
    { name: 'a NotReady node gets the not-ready taints', node: nodeWith({ Ready: 'False' }), want: ['node.kubernetes.io/not-ready:NoSchedule', 'node.kubernetes.io/not-ready:NoExecute'] },
    { name: 'an Unknown node gets the unreachable taints', node: nodeWith({ Ready: 'Unknown' }), want: ['node.kubernetes.io/unreachable:NoSchedule', 'node.kubernetes.io/unreachable:NoExecute'] },
    { name: 'memory pressure gets a NoSchedule taint', node: nodeWith({ Ready: 'True', MemoryPressure: 'True' }), want: ['node.kubernetes.io/memory-pressure:NoSchedule'] },
    { name: 'an unschedulable node gets the unschedulable taint', node: nodeWith({ Ready: 'True' }, { unschedulable: true }), want: ['node.kubernetes.io/unschedulable:NoSchedule'] },
  ];
  for (const c of cases) {
    it(`${c.name}.`, () => {
      assert.deepEqual(desiredManagedTaints(c.node).map((t) => `${t.key}:${t.effect}`), c.want);
    });
  }

  it('reconciling keeps foreign taints, drops stale managed ones and stamps new ones with timeAdded.', () => {
    const node = nodeWith({ Ready: 'Unknown' }, { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute', timeAdded: 'x' }] });
    const got = reconcileTaints(node, T0)!;
    assert.deepEqual(got, [
      { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: '2026-01-01T00:00:00Z' },
      { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-01-01T00:00:00Z' },
    ]);
    assert.equal(reconcileTaints({ ...node, spec: { taints: got } }, T0 + 5000), undefined, 'nothing changes the second time');
  });

  const unreachable = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-01-01T00:00:00Z' };
  const evictCases: { name: string; tolerations: KObject[]; taints: KObject[]; want: number }[] = [
    { name: 'a pod that does not tolerate a NoExecute taint goes at once', tolerations: [], taints: [unreachable], want: 0 },
    { name: 'a pod tolerating for 5 s goes 5 s after the taint was added', tolerations: [{ key: unreachable.key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }], taints: [unreachable], want: T0 + 5000 },
    { name: 'a pod tolerating without a limit stays', tolerations: [{ operator: 'Exists' }], taints: [unreachable], want: Infinity },
    { name: 'a NoSchedule taint evicts nothing', tolerations: [], taints: [{ key: 'x', effect: 'NoSchedule' }], want: Infinity },
  ];
  for (const c of evictCases) {
    it(`${c.name}.`, () => {
      assert.equal(evictionTime({ spec: { tolerations: c.tolerations } }, c.taints as any, T0 + 1000), c.want);
    });
  }
});

describe('Node lifecycle controller', () => {
  let h: Harness;
  let nodes: HollowNodes;
  let revived: HollowNodes | undefined;
  const prefix = 'nl-node-';
  before(async () => {
    h = await startHarness();
    nodes = await startHollowNodes({ client: h.client, count: 2, namePrefix: prefix, heartbeatMs: 300 });
    await h.run(new NodeLifecycleController({ nodeMonitorPeriodMs: 200, nodeMonitorGracePeriodMs: 4000 }));
  });
  after(async () => {
    await revived?.stop();
    await nodes.stop();
    await h.stop();
  });

  const getNode = (name: string) => h.client.get(resources.nodes, '', name);
  const ready = (n: KObject) => n.status?.conditions?.find((c: KObject) => c.type === 'Ready');
  const taintKeys = (n: KObject) => (n.spec?.taints ?? []).map((t: KObject) => `${t.key}:${t.effect}`).sort();
  const getPod = (name: string) => h.client.get(resources.pods, ns, name).catch(() => undefined);
  const gone = async (name: string) => {
    const p = await getPod(name);
    return !p || !!p.metadata.deletionTimestamp;
  };
  function pod(name: string, node: string, tolerationSeconds: number): KObject {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: {
        nodeName: node,
        containers: [{ name: 'c', image: 'busybox' }],
        tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds }],
      },
    };
  }

  it('leaves nodes that keep renewing their leases Ready and untainted past the grace period.', async () => {
    await new Promise((r) => setTimeout(r, 4600));
    for (const name of nodes.nodeNames) {
      const n = await getNode(name);
      assert.equal(ready(n)?.status, 'True', name);
      assert.deepEqual(taintKeys(n), [], name);
    }
  });

  it('marks a node whose kubelet stopped Unknown, taints it unreachable and evicts the pod whose toleration ran out.', async () => {
    const target = `${prefix}1`;
    await h.client.create(resources.pods, ns, pod('short', target, 1));
    await h.client.create(resources.pods, ns, pod('long', target, 3600));
    await until(async () => ready((await getPod('short')) ?? {})?.status === 'True' && ready((await getPod('long')) ?? {})?.status === 'True', 'both pods ready');
    await nodes.kubelets[1]!.stop();
    await until(async () => ready(await getNode(target))?.status === 'Unknown', 'Ready=Unknown', 15_000);
    const n = await getNode(target);
    for (const c of n.status.conditions as KObject[]) {
      if (!['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'].includes(c.type)) continue;
      assert.equal(c.status, 'Unknown', c.type);
      assert.equal(c.reason, 'NodeStatusUnknown');
      assert.equal(c.message, 'Kubelet stopped posting node status.');
    }
    await until(async () => taintKeys(await getNode(target)).length === 2, 'unreachable taints');
    const tainted = await getNode(target);
    assert.deepEqual(taintKeys(tainted), ['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule']);
    for (const t of tainted.spec.taints) assert.match(t.timeAdded, /^\d{4}-\d\d-\d\dT/);
    await until(() => gone('short'), 'the pod tolerating 1 s to be evicted', 5000);
    const long = await getPod('long');
    assert.ok(long && !long.metadata.deletionTimestamp, 'the pod tolerating an hour stays');
    await until(async () => ready((await getPod('long'))!)?.status === 'False', 'the remaining pod marked not ready');
    assert.equal(ready(await getNode(`${prefix}0`))?.status, 'True', 'the other node is unaffected');
  });

  it('removes the taints when the node comes back.', async () => {
    revived = await startHollowNodes({ client: h.client, count: 1, namePrefix: prefix, startIndex: 1, heartbeatMs: 300 });
    const target = `${prefix}1`;
    await until(async () => {
      const n = await getNode(target);
      return ready(n)?.status === 'True' && taintKeys(n).length === 0;
    }, 'Ready and untainted again');
  });

  it('mirrors spec.unschedulable as a NoSchedule taint.', async () => {
    const name = `${prefix}0`;
    await h.client.patch(resources.nodes, undefined, name, { spec: { unschedulable: true } });
    await until(async () => taintKeys(await getNode(name)).includes('node.kubernetes.io/unschedulable:NoSchedule'), 'unschedulable taint');
    await h.client.patch(resources.nodes, undefined, name, { spec: { unschedulable: false } });
    await until(async () => taintKeys(await getNode(name)).length === 0, 'unschedulable taint removed');
  });
});
