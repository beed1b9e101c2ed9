// Two controller-manager and two scheduler processes against one server: only the lease holders
// act; kill -9 the controller-manager leader and the other takes over within the lease duration,
// with no pod created twice.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { startServer, type RunningServer } from '../src/app/server.js';
import { RestClient } from '../src/client/rest-client.js';
import { eventually } from './helpers.js';

const bin = resolve('bin/k8ts');
const leases = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespaced: true };
const pods = { group: '', version: 'v1', resource: 'pods', namespaced: true };
const deployments = { group: 'apps', version: 'v1', resource: 'deployments', namespaced: true };

describe('leader election across processes', () => {
  let server: RunningServer;
  let client: RestClient;
  const procs = new Map<string, ChildProcess>();
  after(async () => {
    for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) process.kill(p.pid!, 'SIGKILL');
    client?.close();
    await server?.stop();
  });

  function run(kind: 'controller-manager' | 'scheduler', id: string): void {
    const p = spawn(bin, [kind, '--kubeconfig', server.kubeconfigPath, '--leader-elect-lease-duration', '3s', '--leader-elect-renew-deadline', '2s', '--leader-elect-retry-period', '500ms', '--log-level', 'warn'], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    procs.set(id, p);
  }

  it('only the leader acts, and a new leader takes over after kill -9 without duplicate pods', async () => {
    server = await startServer({ controllers: false });
    client = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key });
    for (const id of ['cm-a', 'cm-b']) run('controller-manager', id);
    for (const id of ['sched-a', 'sched-b']) run('scheduler', id);
    const holder = async (name: string) => (await client.get(leases, 'kube-system', name).catch(() => undefined))?.spec?.holderIdentity as string | undefined;
    const first = await eventually(() => holder('kube-controller-manager'), 20_000, 100);
    assert.ok(await eventually(() => holder('kube-scheduler'), 20_000, 100));
    await client.create(deployments, 'default', {
      metadata: { name: 'ha' },
      spec: { replicas: 3, selector: { matchLabels: { app: 'ha' } }, template: { metadata: { labels: { app: 'ha' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
    });
    const podCount = async () => (await client.list(pods, 'default', { labelSelector: 'app=ha' })).items.length as number;
    await eventually(async () => (await podCount()) === 3, 20_000, 100);
    // The lease holder's identity carries its PID: kill exactly that process.
    const pid = Number(first.split('_')[1]);
    const leader = [...procs.values()].find((p) => p.pid === pid);
    assert.ok(leader, `the lease holder ${first} is one of the controller-manager processes`);
    process.kill(pid, 'SIGKILL');
    const t0 = Date.now();
    const now = await eventually(async () => {
      const h = await holder('kube-controller-manager');
      return h && h !== first ? h : undefined;
    }, 20_000, 100);
    assert.notEqual(now, first);
    assert.ok(Date.now() - t0 < 3000 + 2000 + 1000, 'taken over within the lease duration (plus a retry period)');
    // The new leader acts: scaling creates exactly the missing pods.
    await client.patch(deployments, 'default', 'ha', { spec: { replicas: 6 } });
    await eventually(async () => (await podCount()) === 6, 20_000, 100);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await podCount(), 6, 'no pod is created twice');
    assert.ok(Date.now() - t0 < 20_000);
  });
});
