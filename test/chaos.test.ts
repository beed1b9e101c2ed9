/**
 * Chaos on loopback (issue 6): three etcd members, two `bin/k8ts server` processes on them (each
 * with its scheduler and controllers, leader-elected), three hollow nodes whose client knows both
 * servers, and a steady stream of writes from four clients through both servers. During the
 * stream the etcd leader is killed with SIGKILL and restarted, then one k8ts server likewise.
 * Afterwards: every acknowledged write is present, no Service IP is duplicated, the Deployments
 * converge, and no ReplicaSet got more pods than it asked for (no pod made twice by two
 * controller managers). Prints the write latency through the failovers (recorded in BENCHMARKS.md).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import https from 'node:https';
import { RestClient, type KObject } from '../src/client/rest-client.js';
import { SharedInformer } from '../src/client/informer.js';
import { startHollowNodes, type HollowNodes } from '../src/kubelet/hollow.js';
import { EtcdCluster } from '../src/storage/testing/etcd-cluster.js';
import { etcdBinary, freePort, haveEtcd } from '../src/storage/testing/etcd-process.js';
import { setLogLevel } from '../src/base/log.js';
import { eventually } from './helpers.js';

setLogLevel('error');
const bin = resolve('bin/k8ts');
const r = (group: string, version: string, resource: string, namespaced = true) => ({ group, version, resource, namespaced });
const configmaps = r('', 'v1', 'configmaps');
const services = r('', 'v1', 'services');
const pods = r('', 'v1', 'pods');
const namespaces = r('', 'v1', 'namespaces', false);
const serviceaccounts = r('', 'v1', 'serviceaccounts');
const deployments = r('apps', 'v1', 'deployments');
const replicasets = r('apps', 'v1', 'replicasets');

interface ServerProc {
  dataDir: string;
  port: number;
  child?: ChildProcess;
  log: string;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

if (!haveEtcd) {
  console.error(`\n*** SKIPPING the chaos test: no '${etcdBinary}' binary (scripts/setup.sh installs etcd-server). ***\n`);
} else {
  describe('chaos: etcd leader and a k8ts server killed under load', () => {
    const etcd = new EtcdCluster(3);
    const servers: ServerProc[] = [];
    const clients: RestClient[] = [];
    let hollow: HollowNodes | undefined;
    let informer: SharedInformer<KObject> | undefined;

    const startServerProc = async (s: ServerProc, extra: string[]) => {
      s.child = spawn(bin, ['server', '--data-dir', s.dataDir, '--port', String(s.port), '--disable-agent', '--storage', 'etcd', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', '/chaos', '--disable-cloud-controller', ...extra], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, K8TS_LOG_LEVEL: 'warn' },
      });
      const append = (d: Buffer) => (s.log = (s.log + d.toString()).slice(-4000));
      s.child.stdout!.on('data', append);
      s.child.stderr!.on('data', append);
      const probe = new https.Agent({ rejectUnauthorized: false });
      await eventually(
        () =>
          new Promise<boolean>((res) => {
            const q = https.get({ host: '127.0.0.1', port: s.port, path: '/readyz', agent: probe }, (m) => {
              m.resume();
              res(m.statusCode === 200);
            });
            q.on('error', () => res(false));
          }),
        60_000,
        100,
      ).catch((e) => {
        throw new Error(`${(e as Error).message}\n${s.log}`);
      });
    };
    const killServer = async (s: ServerProc, sig: NodeJS.Signals) => {
      const c = s.child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise<void>((res) => c.once('exit', () => res()));
      process.kill(c.pid!, sig);
      let hung = false;
      const timer = setTimeout(() => {
        hung = true;
        process.kill(c.pid!, 'SIGKILL');
      }, 15_000);
      await gone;
      clearTimeout(timer);
      // A clean SIGTERM exit is part of the contract (an etcd watch once kept the process alive).
      assert.ok(!hung, `server on port ${s.port} did not exit within 15 s of ${sig}:\n${s.log}`);
    };

    after(async () => {
      await hollow?.stop();
      await informer?.stop();
      for (const c of clients) c.close();
      for (const s of servers) await killServer(s, 'SIGTERM');
      await etcd.stop();
      for (const s of servers) rmSync(s.dataDir, { recursive: true, force: true });
    });

    it('loses no acknowledged write, duplicates no Service IP, converges, and makes no pod twice', async () => {
      await etcd.start();
      for (const name of ['a', 'b']) servers.push({ dataDir: mkdtempSync(join(tmpdir(), `k8ts-chaos-${name}-`)), port: await freePort(), log: '' });
      const [a, b] = servers;
      await startServerProc(a, []);
      const token = readFileSync(join(a.dataDir, 'token'), 'utf8').trim();
      await startServerProc(b, ['--token', token, '--server', `https://127.0.0.1:${a.port}`]);
      const tls = join(a.dataDir, 'tls');
      const creds = { ca: readFileSync(join(tls, 'ca.crt'), 'utf8'), cert: readFileSync(join(tls, 'admin.crt'), 'utf8'), key: readFileSync(join(tls, 'admin.key'), 'utf8') };
      const urlA = `https://127.0.0.1:${a.port}`;
      const urlB = `https://127.0.0.1:${b.port}`;
      const mk = (server: string, others: string[] = []) => {
        const c = new RestClient({ server, servers: others, ...creds, userAgent: 'chaos' });
        clients.push(c);
        return c;
      };
      const viaA = mk(urlA);
      const viaB = mk(urlB);
      const either = mk(urlB, [urlA]);

      hollow = await startHollowNodes({ client: mk(urlA, [urlB]), count: 3, namePrefix: 'chaos-', heartbeatMs: 1000, nodeStatusReportMs: 2000 });
      await viaA.create(namespaces, undefined, { metadata: { name: 'chaos' } });
      await eventually(async () => !!(await either.get(serviceaccounts, 'chaos', 'default').catch(() => undefined)), 20_000, 100);

      // Every pod of every ReplicaSet, as seen by an informer that relists through failovers.
      const podsByRS = new Map<string, Set<string>>();
      informer = new SharedInformer<KObject>({ client: either, ref: pods }, { name: 'chaos-pods' });
      informer.addEventHandler({
        onAdd: (p) => {
          if (p.metadata?.namespace !== 'chaos') return;
          const owner = p.metadata?.ownerReferences?.find((o: KObject) => o.kind === 'ReplicaSet')?.name;
          if (!owner) return;
          if (!podsByRS.has(owner)) podsByRS.set(owner, new Set());
          podsByRS.get(owner)!.add(p.metadata.name);
        },
      });
      informer.start();

      const replicas = 4;
      for (const name of ['web', 'api', 'worker']) {
        await viaA.create(deployments, 'chaos', {
          metadata: { name },
          spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
        });
      }

      // Four writers, two through each server (each also knows the other).
      const acked: string[] = [];
      const latencies: number[] = [];
      let failed = 0;
      let stop = false;
      const writer = async (w: number, c: RestClient) => {
        for (let n = 0; !stop; n++) {
          const name = `w${w}-${n}`;
          const t0 = performance.now();
          try {
            if (n % 10 === 0) await c.create(services, 'chaos', { metadata: { name: `s-${name}` }, spec: { ports: [{ port: 80 }], selector: { app: 'web' } } });
            else await c.create(configmaps, 'chaos', { metadata: { name }, data: { n: String(n) } });
            acked.push(n % 10 === 0 ? `svc/s-${name}` : `cm/${name}`);
          } catch {
            failed++;
          }
          latencies.push(performance.now() - t0);
          await new Promise((res) => setTimeout(res, 20));
        }
      };
      const writers = [writer(0, mk(urlA, [urlB])), writer(1, mk(urlA, [urlB])), writer(2, mk(urlB, [urlA])), writer(3, mk(urlB, [urlA]))];
      const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

      await sleep(4000);
      const leader = await etcd.leader();
      await etcd.kill(leader);
      await sleep(4000);
      await etcd.restart(leader);
      await sleep(2000);
      await killServer(a, 'SIGKILL');
      await sleep(5000);
      await startServerProc(a, []);
      await sleep(3000);
      stop = true;
      await Promise.all(writers);

      // Every acknowledged write is there, through either server.
      const cms = new Set((await viaB.list(configmaps, 'chaos')).items.map((o: KObject) => `cm/${o.metadata.name}`));
      const svcs = (await viaA.list(services, 'chaos')).items;
      const have = new Set([...cms, ...svcs.map((o: KObject) => `svc/${o.metadata.name}`)]);
      const lost = acked.filter((k) => !have.has(k));
      assert.deepEqual(lost, [], `${lost.length} acknowledged writes are missing`);
      // No two Services share an address.
      const ips = svcs.map((s: KObject) => s.spec.clusterIP);
      assert.equal(new Set(ips).size, ips.length, 'every Service has its own ClusterIP');
      // The Deployments converge, and each ReplicaSet made exactly its replicas.
      await eventually(async () => {
        const ds = (await either.list(deployments, 'chaos')).items;
        return ds.length === 3 && ds.every((d: KObject) => d.status?.readyReplicas === replicas && d.status?.updatedReplicas === replicas);
      }, 60_000, 250);
      const rss = (await either.list(replicasets, 'chaos')).items;
      assert.equal(rss.length, 3, 'one ReplicaSet per Deployment');
      const live = (await either.list(pods, 'chaos')).items;
      for (const rs of rss) {
        const name = rs.metadata.name;
        assert.equal(live.filter((p: KObject) => p.metadata.ownerReferences?.some((o: KObject) => o.name === name)).length, replicas, `${name} has ${replicas} pods`);
        assert.equal(podsByRS.get(name)?.size, replicas, `${name} created exactly ${replicas} pods, saw ${[...(podsByRS.get(name) ?? [])].join(',')}`);
      }
      const summary = {
        writesAcknowledged: acked.length,
        writesFailed: failed,
        latencyMs: { p50: Math.round(pct(latencies, 50)), p99: Math.round(pct(latencies, 99)), max: Math.round(Math.max(...latencies)) },
      };
      console.log(`chaos summary ${JSON.stringify(summary)}`);
      assert.ok(acked.length > 100, `writes kept flowing: ${JSON.stringify(summary)}`);
    });
  });
}
