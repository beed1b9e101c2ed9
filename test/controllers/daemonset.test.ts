import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { DaemonSetController } from '../../src/controllers/daemonset/daemonset-controller.js';
import { daemonPodTolerations, nodeShouldRunDaemonPod, pinToNode, targetNodeName, templateHash } from '../../src/controllers/daemonset/util.js';
import { startHollowNodes, type HollowNodes } from '../../src/kubelet/hollow.js';
import { SchedulerComponent } from '../../src/scheduler/index.js';
import { list, startHarness, template, until, type Harness } from './harness.js';

const ns = 'default';

describe('DaemonSet placement rules', () => {
  const node = (labels: Record<string, string>, taints: KObject[] = []): KObject => ({ metadata: { name: 'n1', labels }, spec: { taints } });
  const ds = (spec: KObject = {}): KObject => ({ spec: { template: { spec: { containers: [{ name: 'c', image: 'x' }], ...spec } } } });
  const cases: { name: string; node: KObject; ds: KObject; want: [boolean, boolean] }[] = [
    { name: 'a plain node runs the daemon pod', node: node({}), ds: ds(), want: [true, true] },
    { name: 'a node outside the nodeSelector does not', node: node({ tier: 'b' }), ds: ds({ nodeSelector: { tier: 'a' } }), want: [false, false] },
    { name: 'a node matching required node affinity does', node: node({ tier: 'a' }), ds: ds({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['a'] }] }] } } } }), want: [true, true] },
    { name: 'an untolerated NoSchedule taint blocks new pods but keeps running ones', node: node({}, [{ key: 'dedicated', effect: 'NoSchedule' }]), ds: ds(), want: [false, true] },
    { name: 'an untolerated NoExecute taint blocks both', node: node({}, [{ key: 'dedicated', effect: 'NoExecute' }]), ds: ds(), want: [false, false] },
    { name: 'unreachable and unschedulable taints are tolerated automatically', node: node({}, [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }]), ds: ds(), want: [true, true] },
  ];
  for (const c of cases) {
    it(`${c.name}.`, () => {
      const got = nodeShouldRunDaemonPod(c.node, c.ds);
      assert.deepEqual([got.shouldRun, got.shouldContinueRunning], c.want);
    });
  }

  it('adds the automatic tolerations once, replacing a matching one that had tolerationSeconds.', () => {
    const tols = daemonPodTolerations({ tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }] });
    assert.equal(tols.length, 6);
    assert.deepEqual(tols[0], { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' });
    assert.equal(daemonPodTolerations({ hostNetwork: true }).length, 7);
  });

  it('pins a pod to its node through matchFields and reads the node back.', () => {
    const affinity = pinToNode({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [] }] } } }, 'n7');
    assert.deepEqual(affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms, [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n7'] }] }]);
    assert.equal(targetNodeName({ spec: { affinity } }), 'n7');
  });

  it('hashes templates by content, not by field order, and differently after a change.', () => {
    const a = templateHash({ metadata: { labels: { a: '1' } }, spec: { containers: [{ name: 'c', image: 'x' }] } });
    assert.equal(templateHash({ spec: { containers: [{ image: 'x', name: 'c' }] }, metadata: { labels: { a: '1' } } }), a);
    assert.notEqual(templateHash({ metadata: { labels: { a: '1' } }, spec: { containers: [{ name: 'c', image: 'y' }] } }), a);
    assert.match(a, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
  });
});

describe('DaemonSet controller', () => {
  let h: Harness;
  let first: HollowNodes;
  let extra: HollowNodes | undefined;
  const prefix = 'ds-node-';
  before(async () => {
    h = await startHarness();
    first = await startHollowNodes({ client: h.client, count: 2, namePrefix: prefix, labels: { tier: 'a' }, runDurationMs: 100 });
    await h.run(new SchedulerComponent(), new DaemonSetController());
  });
  after(async () => {
    await extra?.stop();
    await first.stop();
    await h.stop();
  });

  const pods = async (sel: string) => (await list(h.client, resources.pods, ns, sel)).filter((p) => !p.metadata.deletionTimestamp);
  const getDS = (name: string) => h.client.get(resources.daemonsets, ns, name);
  const nodesOf = async (sel: string) => (await pods(sel)).map((p) => p.spec.nodeName ?? '').sort();
  function daemonSet(name: string, labels: Record<string, string>, extra: KObject = {}): KObject {
    const t = template(labels);
    Object.assign(t.spec, extra);
    return { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name }, spec: { selector: { matchLabels: labels }, template: t } };
  }

  it('runs one pod on every node, pinned by node affinity and bound there by the scheduler, and reports it in status.', async () => {
    const ds = await h.client.create(resources.daemonsets, ns, daemonSet('agent', { app: 'agent' }));
    await until(async () => JSON.stringify(await nodesOf('app=agent')) === JSON.stringify(first.nodeNames), 'a pod bound on each node');
    for (const p of await pods('app=agent')) {
      assert.equal(targetNodeName({ spec: { affinity: p.spec.affinity } }), p.spec.nodeName);
      assert.equal(p.metadata.ownerReferences[0].uid, ds.metadata.uid);
      assert.ok(p.metadata.labels['controller-revision-hash']);
      assert.ok(p.spec.tolerations.some((t: KObject) => t.key === 'node.kubernetes.io/unreachable' && t.tolerationSeconds === undefined));
    }
    await until(async () => (await getDS('agent')).status?.numberAvailable === 2, 'two available');
    const st = (await getDS('agent')).status;
    assert.deepEqual(
      [st.desiredNumberScheduled, st.currentNumberScheduled, st.numberReady, st.updatedNumberScheduled, st.numberMisscheduled, st.observedGeneration],
      [2, 2, 2, 2, 0, 1],
    );
    const revs = await list(h.client, resources.controllerrevisions, ns);
    assert.deepEqual(revs.map((r) => [r.metadata.name, r.revision]), [[`agent-${(await pods('app=agent'))[0]!.metadata.labels['controller-revision-hash']}`, 1]]);
  });

  it('limits pods to the nodes its nodeSelector picks.', async () => {
    await h.client.create(resources.daemonsets, ns, daemonSet('only-b', { app: 'only-b' }, { nodeSelector: { tier: 'b' } }));
    await until(async () => (await getDS('only-b')).status?.observedGeneration === 1, 'status observed');
    assert.equal((await getDS('only-b')).status.desiredNumberScheduled, 0);
    assert.deepEqual(await nodesOf('app=only-b'), []);
  });

  it('follows a new node, including one the nodeSelector picks.', async () => {
    extra = await startHollowNodes({ client: h.client, count: 1, namePrefix: prefix, startIndex: 2, labels: { tier: 'b' }, runDurationMs: 100 });
    await until(async () => (await nodesOf('app=agent')).length === 3, 'a pod on the new node');
    await until(async () => JSON.stringify(await nodesOf('app=only-b')) === JSON.stringify([`${prefix}2`]), 'only-b on the tier-b node');
  });

  it('rolls pods onto a changed template one node at a time.', async () => {
    await until(async () => (await getDS('agent')).status?.numberAvailable === 3, 'three available');
    let minAvailableNew = Infinity;
    await h.client.patch(resources.daemonsets, ns, 'agent', { spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1.26' }] } } } });
    await until(async () => {
      const st = (await getDS('agent')).status;
      const ps = await pods('app=agent');
      const notAvailable = ps.filter((p) => !p.status?.conditions?.some((c: KObject) => c.type === 'Ready' && c.status === 'True')).length + (3 - ps.length);
      minAvailableNew = Math.min(minAvailableNew, 3 - notAvailable);
      return st.observedGeneration === 2 && st.updatedNumberScheduled === 3 && st.numberAvailable === 3 && ps.every((p) => p.spec.containers[0].image === 'nginx:1.26');
    }, 'every pod updated', 20_000);
    assert.ok(minAvailableNew >= 2, `at most one node unavailable at a time (saw ${3 - minAvailableNew})`);
    assert.equal((await list(h.client, resources.controllerrevisions, ns)).filter((r) => r.metadata.name.startsWith('agent-')).length, 2);
  });

  it('leaves pods alone under OnDelete until they are deleted.', async () => {
    await h.client.patch(resources.daemonsets, ns, 'agent', { spec: { updateStrategy: { type: 'OnDelete', rollingUpdate: null }, template: { spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } } });
    await until(async () => (await getDS('agent')).status?.observedGeneration === 3, 'generation 3 observed');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await pods('app=agent')).every((p) => p.spec.containers[0].image === 'nginx:1.26'));
    const victim = (await pods('app=agent')).find((p) => p.spec.nodeName === `${prefix}0`)!;
    await h.client.delete(resources.pods, ns, victim.metadata.name);
    await until(async () => (await pods('app=agent')).some((p) => p.spec.nodeName === `${prefix}0` && p.spec.containers[0].image === 'nginx:1.27'), 'the replacement uses the new template');
  });

  it('removes the pod of a node that was deleted.', async () => {
    await extra!.stop();
    extra = undefined;
    await h.client.delete(resources.nodes, undefined, `${prefix}2`);
    await until(async () => (await nodesOf('app=agent')).length === 2 && !(await nodesOf('app=agent')).includes(`${prefix}2`), 'the pod on the deleted node gone');
    await until(async () => (await nodesOf('app=only-b')).length === 0, 'only-b has no pods');
    await until(async () => (await getDS('agent')).status?.desiredNumberScheduled === 2, 'desired back to 2');
  });
});
