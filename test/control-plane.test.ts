// The control plane through the real kubectl, on hollow nodes: Deployments become Ready pods,
// deleted pods are replaced, scaling and rollouts (status, undo, restart) behave as upstream, and
// foreground deletion removes dependents first.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startTestCluster, type TestCluster } from './helpers.js';
import type { RestClient } from '../src/client/rest-client.js';
import { startHollowNodes, type HollowNodes } from '../src/kubelet/hollow.js';

describe('control plane on hollow nodes, driven by kubectl', () => {
  let c: TestCluster;
  let client: RestClient;
  let nodes: HollowNodes;
  before(async () => {
    c = await startTestCluster();
    client = c.adminClient();
    nodes = await startHollowNodes({ client, count: 3, namePrefix: 'hollow-', runDurationMs: 300 });
  });
  after(async () => {
    await nodes?.stop();
    client?.close();
    await c?.stop();
  });

  const readyPods = async (selector: string) => {
    const pods = JSON.parse(await c.ok(['get', 'pods', '-l', selector, '-o', 'json'])).items as any[];
    return pods.filter((p) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True'));
  };

  it('hollow nodes register as Ready nodes', async () => {
    const out = await c.ok(['get', 'nodes']);
    for (const n of nodes.nodeNames) assert.match(out, new RegExp(`^${n}\\s+Ready\\s`, 'm'));
  });

  it('a Deployment of 2 replicas yields 2 Ready pods bound to nodes', async () => {
    await c.ok(['create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=2']);
    await c.ok(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
    const pods = await readyPods('app=web');
    assert.equal(pods.length, 2);
    for (const p of pods) {
      assert.ok(nodes.nodeNames.includes(p.spec.nodeName), `bound to a hollow node: ${p.spec.nodeName}`);
      assert.match(p.status.podIP, /^\d+\.\d+\.\d+\.\d+$/);
    }
    const d = JSON.parse(await c.ok(['get', 'deploy', 'web', '-o', 'json']));
    assert.equal(d.status.readyReplicas, 2);
    assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '1');
  });

  it('a deleted pod is replaced', async () => {
    const [victim] = await readyPods('app=web');
    await c.ok(['delete', 'pod', victim.metadata.name, '--wait=true'], { timeoutMs: 40_000 });
    await eventually(async () => {
      const pods = await readyPods('app=web');
      return pods.length === 2 && pods.every((p) => p.metadata.name !== victim.metadata.name);
    }, 30_000, 250);
  });

  it('scales 2 → 10 → 0', async () => {
    await c.ok(['scale', 'deployment/web', '--replicas=10']);
    await c.ok(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
    assert.equal((await readyPods('app=web')).length, 10);
    await c.ok(['scale', 'deployment/web', '--replicas=0']);
    await eventually(async () => (JSON.parse(await c.ok(['get', 'pods', '-l', 'app=web', '-o', 'json'])).items.length === 0), 30_000, 250);
    await c.ok(['scale', 'deployment/web', '--replicas=2']);
    await c.ok(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
  });

  it('a rolling update to a new image completes, and rollout undo returns to the old one', async () => {
    await c.ok(['set', 'image', 'deployment/web', 'nginx=nginx:1.28']);
    await c.ok(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
    assert.equal(await c.ok(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']), 'nginx:1.28');
    const history = await c.ok(['rollout', 'history', 'deployment/web']);
    assert.match(history, /^1\s+<none>$/m);
    assert.match(history, /^2\s+<none>$/m);
    await c.ok(['rollout', 'undo', 'deployment/web']);
    await c.ok(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
    assert.equal(await c.ok(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']), 'nginx:1.27');
    const pods = await readyPods('app=web');
    assert.equal(pods.length, 2);
    for (const p of pods) assert.equal(p.spec.containers[0].image, 'nginx:1.27');
  });

  it('rollout restart rolls a new ReplicaSet', async () => {
    const before = JSON.parse(await c.ok(['get', 'rs', '-l', 'app=web', '-o', 'json'])).items.length;
    await c.ok(['rollout', 'restart', 'deployment/web']);
    await c.ok(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
    const after = JSON.parse(await c.ok(['get', 'rs', '-l', 'app=web', '-o', 'json'])).items.length;
    assert.equal(after, before + 1);
  });

  it('a Service over the Deployment gets Endpoints and an EndpointSlice with the ready pod IPs', async () => {
    await c.ok(['expose', 'deployment', 'web', '--port=80', '--target-port=8080']);
    const ips = (await readyPods('app=web')).map((p) => p.status.podIP).sort();
    await eventually(async () => {
      const ep = JSON.parse(await c.ok(['get', 'endpoints', 'web', '-o', 'json']));
      const got = (ep.subsets?.[0]?.addresses ?? []).map((a: any) => a.ip).sort();
      return JSON.stringify(got) === JSON.stringify(ips) && ep.subsets[0].ports[0].port === 8080;
    }, 20_000, 200);
    const slices = JSON.parse(await c.ok(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web', '-o', 'json'])).items;
    assert.equal(slices.length, 1);
    assert.deepEqual(slices[0].endpoints.map((e: any) => e.addresses[0]).sort(), ips);
  });

  it('every namespace gets a default ServiceAccount', async () => {
    await c.ok(['create', 'namespace', 'fresh']);
    await eventually(async () => (await c.kubectl(['-n', 'fresh', 'get', 'serviceaccount', 'default'])).code === 0, 10_000, 200);
  });

  it('a Job with completions=5 and parallelism=2 completes', async () => {
    const f = c.writeFile(
      'job.yaml',
      'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: five\nspec:\n  completions: 5\n  parallelism: 2\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [echo, hi]\n',
    );
    await c.ok(['apply', '-f', f]);
    await c.ok(['wait', '--for=condition=complete', 'job/five', '--timeout=60s'], { timeoutMs: 70_000 });
    const job = JSON.parse(await c.ok(['get', 'job', 'five', '-o', 'json']));
    assert.equal(job.status.succeeded, 5);
    assert.match(await c.ok(['get', 'jobs']), /^five\s+Complete\s+5\/5\s/m);
  });

  it('a DaemonSet follows nodes as they are added and removed', async () => {
    const f = c.writeFile(
      'ds.yaml',
      'apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  selector:\n    matchLabels: {app: agent}\n  template:\n    metadata:\n      labels: {app: agent}\n    spec:\n      containers:\n      - name: c\n        image: busybox\n',
    );
    await c.ok(['apply', '-f', f]);
    const nodesOf = async () => (JSON.parse(await c.ok(['get', 'pods', '-l', 'app=agent', '-o', 'json'])).items as any[]).filter((p) => !p.metadata.deletionTimestamp && p.spec.nodeName).map((p) => p.spec.nodeName).sort();
    await eventually(async () => JSON.stringify(await nodesOf()) === JSON.stringify([...nodes.nodeNames].sort()), 30_000, 250);
    const extra = await startHollowNodes({ client, count: 1, namePrefix: 'hollow-', startIndex: 3 });
    try {
      await eventually(async () => (await nodesOf()).includes('hollow-3'), 30_000, 250);
      await c.ok(['rollout', 'status', 'daemonset/agent', '--timeout=60s'], { timeoutMs: 70_000 });
    } finally {
      await extra.stop();
    }
    await c.ok(['delete', 'node', 'hollow-3']);
    await eventually(async () => !(await nodesOf()).includes('hollow-3'), 30_000, 250);
    assert.match(await c.ok(['get', 'daemonset', 'agent']), /^agent\s+3\s+3\s+3\s+3\s+3\s/m);
  });

  it('taints, nodeSelector, anti-affinity and topology spread place pods as upstream would', async () => {
    await c.ok(['taint', 'nodes', 'hollow-0', 'dedicated=gpu:NoSchedule']);
    const placed = async (sel: string) => {
      const ps = JSON.parse(await c.ok(['get', 'pods', '-l', sel, '-o', 'json'])).items as any[];
      return ps.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.spec.nodeName as string);
    };
    // Without a toleration nothing lands on the tainted node.
    await c.ok(['create', 'deployment', 'plain', '--image=nginx', '--replicas=4']);
    await c.ok(['rollout', 'status', 'deployment/plain', '--timeout=60s'], { timeoutMs: 70_000 });
    assert.ok(!(await placed('app=plain')).includes('hollow-0'));
    // nodeSelector pins to one node.
    await c.ok(['run', 'pinned', '--image=nginx', '--overrides', JSON.stringify({ spec: { nodeSelector: { 'kubernetes.io/hostname': 'hollow-2' } } })]);
    await eventually(async () => (await placed('run=pinned'))[0] === 'hollow-2', 20_000, 200);
    // A pod tolerating the taint and selecting that node goes there; one selecting it without a toleration stays Pending with upstream's message.
    await c.ok(['run', 'tolerant', '--image=nginx', '--overrides', JSON.stringify({ spec: { nodeSelector: { 'kubernetes.io/hostname': 'hollow-0' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] } })]);
    await eventually(async () => (await placed('run=tolerant'))[0] === 'hollow-0', 20_000, 200);
    await c.ok(['run', 'intolerant', '--image=nginx', '--overrides', JSON.stringify({ spec: { nodeSelector: { 'kubernetes.io/hostname': 'hollow-0' } } })]);
    await eventually(async () => /untolerated taint \{dedicated: gpu\}/.test(await c.ok(['get', 'pod', 'intolerant', '-o', 'jsonpath={.status.conditions[?(@.type=="PodScheduled")].message}'])), 20_000, 200);
    await c.ok(['taint', 'nodes', 'hollow-0', 'dedicated-']);
    // Required anti-affinity on the host name: one pod per node.
    const anti = c.writeFile(
      'anti.yaml',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: anti\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: anti}\n  template:\n    metadata:\n      labels: {app: anti}\n    spec:\n      affinity:\n        podAntiAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n          - labelSelector:\n              matchLabels: {app: anti}\n            topologyKey: kubernetes.io/hostname\n      containers:\n      - name: c\n        image: nginx\n',
    );
    await c.ok(['apply', '-f', anti]);
    await c.ok(['rollout', 'status', 'deployment/anti', '--timeout=60s'], { timeoutMs: 70_000 });
    assert.equal(new Set(await placed('app=anti')).size, 3);
    // Topology spread with maxSkew 1 over 3 nodes: 6 replicas → 2 per node.
    const spread = c.writeFile(
      'spread.yaml',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: spread\nspec:\n  replicas: 6\n  selector:\n    matchLabels: {app: spread}\n  template:\n    metadata:\n      labels: {app: spread}\n    spec:\n      topologySpreadConstraints:\n      - maxSkew: 1\n        topologyKey: kubernetes.io/hostname\n        whenUnsatisfiable: DoNotSchedule\n        labelSelector:\n          matchLabels: {app: spread}\n      containers:\n      - name: c\n        image: nginx\n',
    );
    await c.ok(['apply', '-f', spread]);
    await c.ok(['rollout', 'status', 'deployment/spread', '--timeout=60s'], { timeoutMs: 70_000 });
    const counts = new Map<string, number>();
    for (const n of await placed('app=spread')) counts.set(n, (counts.get(n) ?? 0) + 1);
    assert.deepEqual([...counts.values()].sort(), [2, 2, 2]);
    for (const name of ['plain', 'anti', 'spread']) await c.ok(['delete', 'deployment', name]);
    await c.ok(['delete', 'pod', 'pinned', 'tolerant', 'intolerant', '--wait=false']);
  });

  it('a StatefulSet creates stable, ordered pod names', async () => {
    const f = c.writeFile(
      'sts.yaml',
      'apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  replicas: 3\n  serviceName: db\n  selector:\n    matchLabels: {app: db}\n  template:\n    metadata:\n      labels: {app: db}\n    spec:\n      containers:\n      - name: c\n        image: busybox\n',
    );
    await c.ok(['apply', '-f', f]);
    await c.ok(['rollout', 'status', 'statefulset/db', '--timeout=60s'], { timeoutMs: 70_000 });
    const names = (JSON.parse(await c.ok(['get', 'pods', '-l', 'app=db', '-o', 'json'])).items as any[]).map((p) => p.metadata.name).sort();
    assert.deepEqual(names, ['db-0', 'db-1', 'db-2']);
    await c.ok(['delete', 'statefulset', 'db']);
  });

  it('kubectl drain honours a PodDisruptionBudget: refused while the budget is short, done once it allows', async () => {
    await c.ok(['create', 'deployment', 'guarded', '--image=nginx', '--replicas=3']);
    await eventually(async () => (await readyPods('app=guarded')).length === 3, 30_000, 200);
    await c.ok(['create', 'poddisruptionbudget', 'guarded', '--selector=app=guarded', '--min-available=3']);
    // The disruption controller fills in the status kubectl shows.
    await eventually(async () => /^guarded\s+3\s+N\/A\s+0\s/m.test(await c.ok(['get', 'pdb'])), 20_000, 200);
    const pdb = JSON.parse(await c.ok(['get', 'pdb', 'guarded', '-o', 'json']));
    assert.deepEqual([pdb.status.expectedPods, pdb.status.currentHealthy, pdb.status.desiredHealthy, pdb.status.disruptionsAllowed], [3, 3, 3, 0]);
    assert.equal(pdb.status.observedGeneration, pdb.metadata.generation);
    const victimNode = (await readyPods('app=guarded'))[0].spec.nodeName as string;
    const drain = ['drain', victimNode, '--pod-selector=app=guarded', '--ignore-daemonsets', '--delete-emptydir-data'];
    try {
      const refused = await c.kubectl([...drain, '--timeout=4s'], { timeoutMs: 30_000 });
      assert.notEqual(refused.code, 0, 'the drain cannot finish while the budget allows no disruption');
      assert.match(refused.stderr, /Cannot evict pod as it would violate the pod's disruption budget/);
      assert.equal((await readyPods('app=guarded')).length, 3, 'no guarded pod was evicted');

      await c.ok(['patch', 'pdb', 'guarded', '--type=merge', '-p', '{"spec":{"minAvailable":2}}']);
      await eventually(async () => JSON.parse(await c.ok(['get', 'pdb', 'guarded', '-o', 'json'])).status.disruptionsAllowed === 1, 20_000, 200);
      const out = await c.ok([...drain, '--timeout=60s'], { timeoutMs: 90_000 });
      assert.match(out, /evicted/);
      // The replacement lands on another node; the drained node keeps none of the guarded pods.
      await eventually(async () => {
        const ready = await readyPods('app=guarded');
        return ready.length === 3 && ready.every((p) => p.spec.nodeName !== victimNode);
      }, 30_000, 250);
    } finally {
      await c.ok(['uncordon', victimNode]);
      await c.ok(['delete', 'pdb', 'guarded']);
      await c.ok(['delete', 'deployment', 'guarded']);
    }
  });

  it('deleting a Deployment with foreground propagation removes its ReplicaSets and pods first', async () => {
    await c.ok(['delete', 'deployment', 'web', '--cascade=foreground'], { timeoutMs: 60_000 });
    assert.match((await c.kubectl(['get', 'deploy', 'web'])).stderr, /not found/);
    assert.equal(JSON.parse(await c.ok(['get', 'rs', '-l', 'app=web', '-o', 'json'])).items.length, 0);
    await eventually(async () => JSON.parse(await c.ok(['get', 'pods', '-l', 'app=web', '-o', 'json'])).items.length === 0, 30_000, 250);
  });
});
