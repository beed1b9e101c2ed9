// Two k8ts servers on one real etcd: each serves the full API, a watch on one sees writes made
// through the other, kubectl works against either, and Service IPs created at once on both never
// collide (allocation claims are keys in the shared store).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../src/app/server.js';
import { RestClient, type WatchEvent } from '../src/client/rest-client.js';
import { EtcdProcess, etcdBinary, haveEtcd } from '../src/storage/testing/etcd-process.js';
import { startHollowNodes, type HollowNodes } from '../src/kubelet/hollow.js';
import { eventually, startTestCluster } from './helpers.js';

const services = { group: '', version: 'v1', resource: 'services', namespaced: true };
const configmaps = { group: '', version: 'v1', resource: 'configmaps', namespaced: true };
const pods = { group: '', version: 'v1', resource: 'pods', namespaced: true };
const serviceaccounts = { group: '', version: 'v1', resource: 'serviceaccounts', namespaced: true };
const leases = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespaced: true };

if (!haveEtcd) {
  console.error(`\n*** SKIPPING the k8ts-on-etcd tests: no '${etcdBinary}' binary (scripts/setup.sh installs etcd-server). ***\n`);
} else {
  describe('k8ts servers sharing one etcd', () => {
    const etcd = new EtcdProcess();
    let a: RunningServer;
    let b: RunningServer;
    let ca: RestClient;
    let cb: RestClient;
    let shared: { endpoints: string[]; prefix: string };
    const store = () => shared;
    before(async () => {
      await etcd.start();
      shared = { endpoints: [etcd.endpoint], prefix: `/k8ts-${Date.now()}` };
      const store = shared;
      a = await startServer({ etcd: store, controllers: false });
      b = await startServer({ etcd: store, controllers: false, token: a.token });
      ca = new RestClient({ server: a.url, ca: a.ca, cert: a.adminCert.cert, key: a.adminCert.key });
      // The joined server shares the first one's CA and admin credentials: A's kubeconfig works against B.
      cb = new RestClient({ server: b.url, ca: a.ca, cert: a.adminCert.cert, key: a.adminCert.key });
    });
    after(async () => {
      ca?.close();
      cb?.close();
      await a?.stop();
      await b?.stop();
      await etcd.stop();
    });

    it('a joining server takes the cluster CA, credentials and token from the store', async () => {
      assert.equal(b.ca, a.ca);
      assert.equal(b.token, a.token);
      await assert.rejects(startServer({ etcd: { endpoints: [etcd.endpoint], prefix: store().prefix } }), /join it with --token/);
      await assert.rejects(startServer({ etcd: { endpoints: [etcd.endpoint], prefix: store().prefix }, token: 'wrong0.0123456789abcdef' }), /does not match this cluster/);
    });

    it('joins through --server only when that server belongs to the cluster in the store', async () => {
      const c = await startServer({ etcd: store(), controllers: false, token: a.token, joinServer: a.url });
      try {
        assert.equal(c.ca, a.ca);
      } finally {
        await c.stop();
      }
      // A server of another cluster (another CA) is refused.
      const stranger = await startServer({ controllers: false });
      try {
        await assert.rejects(startServer({ etcd: store(), controllers: false, token: a.token, joinServer: stranger.url }), /is not a server of the cluster in this store/);
      } finally {
        await stranger.stop();
      }
    });

    it('each server keeps its own API server identity lease, and one that stops deletes its own', async () => {
      const identities = async () =>
        (await ca.list(leases, 'kube-system', { labelSelector: 'apiserver.kubernetes.io/identity=kube-apiserver' })).items.map((l: any) => l.metadata.name as string).sort();
      const before = await identities();
      assert.equal(before.length, 2, `a and b: ${before.join(', ')}`);
      for (const n of before) assert.match(n, /^apiserver-[a-z2-7]{26}$/);
      const c = await startServer({ etcd: store(), controllers: false, token: a.token });
      const during = await identities();
      assert.equal(during.length, 3);
      await c.stop();
      assert.deepEqual(await identities(), before);
    });

    it('a watch on one server sees writes made through the other', async () => {
      const seen: string[] = [];
      const list = await cb.list(configmaps, 'default');
      const w = cb.watch(configmaps, 'default', { resourceVersion: list.metadata.resourceVersion }, (ev: WatchEvent) => seen.push(`${ev.type}:${ev.object.metadata?.name}`));
      try {
        await ca.create(configmaps, 'default', { metadata: { name: 'from-a' }, data: { x: '1' } });
        await eventually(async () => seen.includes('ADDED:from-a'), 10_000, 50);
        const got = await cb.get(configmaps, 'default', 'from-a');
        assert.equal(got.data.x, '1');
      } finally {
        w.abort();
      }
    });

    it('Service IPs created at the same time on both servers never collide', async () => {
      const mk = (c: RestClient, i: number, who: string) =>
        c.create(services, 'default', { metadata: { name: `s-${who}-${i}` }, spec: { ports: [{ port: 80 }], selector: { app: 'x' } } });
      const made = await Promise.all(Array.from({ length: 20 }, (_, i) => [mk(ca, i, 'a'), mk(cb, i, 'b')]).flat());
      const ips = made.map((s) => s.spec.clusterIP);
      assert.equal(new Set(ips).size, ips.length, 'every Service got its own ClusterIP');
    });

    it('kubectl works against the second server', async () => {
      const tc = await startTestCluster({ server: { etcd: { endpoints: [etcd.endpoint], prefix: `/k8ts-kubectl-${Date.now()}` }, controllers: false } });
      try {
        assert.equal((await tc.ok(['create', 'configmap', 'via-etcd', '--from-literal=a=1'])).trim(), 'configmap/via-etcd created');
        assert.match(await tc.ok(['get', 'configmaps']), /^via-etcd\s+1\s/m);
      } finally {
        await tc.stop();
      }
    });
  });

  describe('an agent given every server fails over when its server dies', () => {
    const etcd = new EtcdProcess();
    let a: RunningServer | undefined;
    let b: RunningServer;
    let client: RestClient;
    let viaB: RestClient;
    let nodes: HollowNodes | undefined;
    before(async () => {
      await etcd.start();
      const store = { endpoints: [etcd.endpoint], prefix: `/k8ts-failover-${Date.now()}` };
      a = await startServer({ etcd: store, controllers: false });
      b = await startServer({ etcd: store, controllers: false, token: a.token });
      const creds = { ca: a.ca, cert: a.adminCert.cert, key: a.adminCert.key };
      client = new RestClient({ server: a.url, servers: [b.url], ...creds, userAgent: 'failover-test' });
      viaB = new RestClient({ server: b.url, ...creds });
    });
    after(async () => {
      await nodes?.stop();
      client?.close();
      viaB?.close();
      await a?.stop();
      await b?.stop();
      await etcd.stop();
    });

    it('keeps its node Ready and its pod running, unrestarted, through the other server', async () => {
      nodes = await startHollowNodes({ client, count: 1, namePrefix: 'fo-', heartbeatMs: 500, nodeStatusReportMs: 1000 });
      await client.create(serviceaccounts, 'default', { metadata: { name: 'default' } }).catch(() => undefined);
      await client.create(pods, 'default', { metadata: { name: 'steady' }, spec: { nodeName: 'fo-0', containers: [{ name: 'c', image: 'busybox' }] } });
      const running = await eventually(async () => {
        const p = await viaB.get(pods, 'default', 'steady');
        return p.status?.phase === 'Running' && p;
      }, 15_000, 100);
      const started = running.status.containerStatuses[0].state.running.startedAt;
      const renewBefore = (await viaB.get(leases, 'kube-node-lease', 'fo-0')).spec.renewTime;
      assert.equal(client.serverURL, new URL(a!.url).origin);
      await a!.stop();
      a = undefined;
      // The agent's writes now land through B: the lease keeps being renewed.
      await eventually(async () => (await viaB.get(leases, 'kube-node-lease', 'fo-0')).spec.renewTime !== renewBefore, 15_000, 200);
      await eventually(async () => {
        const l1 = (await viaB.get(leases, 'kube-node-lease', 'fo-0')).spec.renewTime;
        await new Promise((r) => setTimeout(r, 1500));
        return (await viaB.get(leases, 'kube-node-lease', 'fo-0')).spec.renewTime !== l1;
      }, 15_000, 0);
      assert.equal(client.serverURL, new URL(b.url).origin);
      // New pods still reach the node through the surviving server's watch.
      await client.create(pods, 'default', { metadata: { name: 'after' }, spec: { nodeName: 'fo-0', containers: [{ name: 'c', image: 'busybox' }] } });
      await eventually(async () => (await viaB.get(pods, 'default', 'after')).status?.phase === 'Running', 20_000, 200);
      const p = await viaB.get(pods, 'default', 'steady');
      assert.equal(p.status.phase, 'Running');
      assert.equal(p.status.containerStatuses[0].restartCount, 0);
      assert.equal(p.status.containerStatuses[0].state.running.startedAt, started, 'the container was not restarted');
    });
  });
}
