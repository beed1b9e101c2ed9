import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../../app/server.js';
import { setLogLevel } from '../../base/log.js';
import type { ComponentContext } from '../../client/component.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import { SharedInformerFactory } from '../../client/informer.js';
import { RestClient, type KObject } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { ResourceQuotaController } from './resourcequota-controller.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');

const NS = 'team';

async function eventually<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (ok(last)) return last;
    if (Date.now() > end) assert.fail(`${what}: last seen ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the ResourceQuota controller against a real server', () => {
  let server: RunningServer;
  let client: RestClient;
  let informers: SharedInformerFactory;
  let controller: ResourceQuotaController;
  let ctx: ComponentContext;

  const pod = (name: string, cpu?: string): KObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [{ name: 'c', image: 'nginx', ...(cpu ? { resources: { requests: { cpu }, limits: { cpu } } } : {}) }] },
  });
  const status = async (name: string) => (await client.get(resources.resourcequotas, NS, name)).status ?? {};

  before(async () => {
    server = await startServer({ storagePath: ':memory:', controllers: false });
    client = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key });
    await client.create(resources.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    // No service account controller runs here.
    await client.create(resources.serviceaccounts, NS, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
    await client.create(resources.resourcequotas, NS, {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'compute' },
      spec: { hard: { pods: '3', 'requests.cpu': '2', 'count/pods': '10', 'count/configmaps': '5', services: '4', 'count/deployments.apps': '2', 'count/leases.coordination.k8s.io': '3' } },
    });
    await client.create(resources.resourcequotas, NS, {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'besteffort' },
      spec: { hard: { pods: '5' }, scopes: ['BestEffort'] },
    });
    for (const [n, cpu] of [['a', '500m'], ['b', '250m'], ['free', undefined]] as const) await client.create(resources.pods, NS, pod(n, cpu));
    await client.create(resources.configmaps, NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } });
    informers = new SharedInformerFactory(client);
    ctx = { client, informers, recorder: () => ({}) as EventRecorder };
    // No periodic resync at first: releases must come from the object events themselves.
    controller = new ResourceQuotaController({ resyncPeriodMs: 3_600_000 });
    await controller.start(ctx);
  });
  after(async () => {
    await controller?.stop();
    await informers?.shutdown();
    client?.close();
    await server?.stop();
  });

  it('copies spec.hard into status and counts what already exists', async () => {
    const st = await eventually('first sync', () => status('compute'), (s) => s.used?.pods === '3');
    assert.deepEqual(st.hard, { 'count/configmaps': '5', 'count/deployments.apps': '2', 'count/leases.coordination.k8s.io': '3', 'count/pods': '10', pods: '3', 'requests.cpu': '2', services: '4' });
    assert.deepEqual(st.used, { 'count/configmaps': '1', 'count/deployments.apps': '0', 'count/leases.coordination.k8s.io': '0', 'count/pods': '3', pods: '3', 'requests.cpu': '750m', services: '0' });
    const be = await eventually('scoped sync', () => status('besteffort'), (s) => s.used !== undefined);
    assert.deepEqual(be.used, { pods: '1' });
  });

  it('gives usage back when a pod is deleted', async () => {
    await client.delete(resources.pods, NS, 'a');
    const st = await eventually('release after delete', () => status('compute'), (s) => s.used?.pods === '2');
    assert.equal(st.used['requests.cpu'], '250m');
    assert.equal(st.used['count/pods'], '2');
  });

  it('stops charging compute for a pod that reached a terminal phase but keeps its object count', async () => {
    const cur = await client.get(resources.pods, NS, 'b');
    await client.update(resources.pods, { ...cur, status: { ...cur.status, phase: 'Succeeded' } }, 'status');
    const st = await eventually('release after Succeeded', () => status('compute'), (s) => s.used?.pods === '1');
    assert.equal(st.used['requests.cpu'], '0');
    assert.equal(st.used['count/pods'], '2');
  });

  it('follows a change of spec.hard', async () => {
    const q = await client.get(resources.resourcequotas, NS, 'compute');
    await client.update(resources.resourcequotas, { ...q, spec: { hard: { ...q.spec.hard, pods: '7' } } });
    await eventually('new hard', () => status('compute'), (s) => s.hard?.pods === '7');
  });

  it('recounts objects created behind its back on the periodic resync', async () => {
    await controller.stop();
    controller = new ResourceQuotaController({ resyncPeriodMs: 300 });
    await controller.start(ctx);
    await eventually('restarted', () => status('compute'), (s) => s.used?.['count/configmaps'] === '1');
    await client.create(resources.configmaps, NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm2' } });
    await client.create(resources.deployments, NS, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: { selector: { matchLabels: { app: 'd' } }, template: { metadata: { labels: { app: 'd' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
    });
    // Leases are not watched: they are counted through discovery and a list.
    await client.create(resources.leases, NS, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' }, spec: {} });
    await eventually(
      'resync',
      () => status('compute'),
      (s) => s.used?.['count/configmaps'] === '2' && s.used?.['count/deployments.apps'] === '1' && s.used?.['count/leases.coordination.k8s.io'] === '1',
    );
  });

  it('corrects a usage figure that drifted from the objects', async () => {
    const q = await client.get(resources.resourcequotas, NS, 'besteffort');
    await client.update(resources.resourcequotas, { ...q, status: { ...q.status, used: { pods: '4' } } }, 'status');
    await eventually('drift corrected', () => status('besteffort'), (s) => s.used?.pods === '1');
  });
});
