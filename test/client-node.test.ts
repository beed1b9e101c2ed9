// @kubernetes/client-node 1.x as an ordinary client of k8ts: CRUD, patch, and an informer that
// survives a server restart by re-listing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startServer, type RunningServer } from '../src/app/server.js';
import { eventually } from './helpers.js';

const pod = (name: string): k8s.V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'informed' } },
  spec: { containers: [{ name: 'main', image: 'busybox' }] },
});

describe('@kubernetes/client-node against k8ts', () => {
  let dataDir: string;
  let server: RunningServer;
  let kc: k8s.KubeConfig;
  let api: k8s.CoreV1Api;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'k8ts-client-node-'));
    server = await startServer({ dataDir });
    kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfigYAML);
    api = kc.makeApiClient(k8s.CoreV1Api);
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists, creates, patches and deletes', async () => {
    const ns = await api.listNamespace();
    assert.ok(ns.items.some((n) => n.metadata?.name === 'kube-system'));
    const created = await api.createNamespacedPod({ namespace: 'default', body: pod('crud') });
    assert.ok(created.metadata?.uid);
    assert.equal(created.spec?.restartPolicy, 'Always');
    const patched = await api.patchNamespacedPod(
      { name: 'crud', namespace: 'default', body: { metadata: { labels: { patched: 'yes' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    assert.equal(patched.metadata?.labels?.patched, 'yes');
    const list = await api.listNamespacedPod({ namespace: 'default', labelSelector: 'patched=yes' });
    assert.deepEqual(list.items.map((p) => p.metadata?.name), ['crud']);
    await api.deleteNamespacedPod({ name: 'crud', namespace: 'default' });
    await assert.rejects(api.readNamespacedPod({ name: 'crud', namespace: 'default' }), (e: any) => e.code === 404);
  });

  it('an informer sees adds, updates and deletes, and survives a server restart', async () => {
    const seen: string[] = [];
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/default/pods', () => api.listNamespacedPod({ namespace: 'default' }));
    informer.on('add', (p) => seen.push(`add:${p.metadata?.name}`));
    informer.on('update', (p) => seen.push(`update:${p.metadata?.name}`));
    informer.on('delete', (p) => seen.push(`delete:${p.metadata?.name}`));
    let restarts = 0;
    let stopped = false;
    // client-node's documented pattern: restart the informer after an error (here, the server restart).
    informer.on('error', () => {
      restarts++;
      if (!stopped) setTimeout(() => !stopped && informer.start().catch(() => undefined), 200);
    });
    await informer.start();
    try {
      await api.createNamespacedPod({ namespace: 'default', body: pod('inf-1') });
      await eventually(async () => seen.includes('add:inf-1'));
      await api.patchNamespacedPod(
        { name: 'inf-1', namespace: 'default', body: { metadata: { labels: { v: '2' } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await eventually(async () => seen.includes('update:inf-1'));
      await api.deleteNamespacedPod({ name: 'inf-1', namespace: 'default' });
      await eventually(async () => seen.includes('delete:inf-1'));

      // Restart the server on the same data dir and port: the informer re-lists and carries on.
      const port = server.port;
      await server.stop();
      server = await startServer({ dataDir, port });
      await api.createNamespacedPod({ namespace: 'default', body: pod('inf-2') }).catch(async () => {
        await new Promise((r) => setTimeout(r, 500));
        return api.createNamespacedPod({ namespace: 'default', body: pod('inf-2') });
      });
      await eventually(async () => seen.includes('add:inf-2'), 20_000);
      assert.ok(restarts >= 1 || seen.includes('add:inf-2'));
    } finally {
      stopped = true;
      await informer.stop();
    }
  });
});
