import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { PodGCController } from '../../src/controllers/podgc/podgc-controller.js';
import { list, startHarness, until, type Harness } from './harness.js';

const ns = 'default';

describe('Pod garbage collector', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await h.run(new PodGCController({ checkPeriodMs: 100, quarantineMs: 300, terminatedPodThreshold: 2 }));
  });
  after(async () => h.stop());

  const node = (name: string) => h.client.create(resources.nodes, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name } });
  const pod = (name: string, nodeName: string, labels: Record<string, string> = {}): Promise<KObject> =>
    h.client.create(resources.pods, ns, { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: { nodeName, restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } });
  const exists = (name: string) => h.client.get(resources.pods, ns, name).then(() => true, () => false);

  it('force-deletes a pod bound to a node that was deleted, and keeps pods on live nodes.', async () => {
    await node('gone-node');
    await node('live-node');
    await pod('orphan', 'gone-node');
    await pod('keeper', 'live-node');
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(await exists('orphan'), 'the pod survives while its node exists');
    await h.client.delete(resources.nodes, undefined, 'gone-node');
    await until(async () => !(await exists('orphan')), 'orphan deleted');
    assert.ok(await exists('keeper'));
  });

  it('deletes the oldest terminated pods beyond the threshold.', async () => {
    for (let i = 0; i < 4; i++) {
      await pod(`done-${i}`, 'live-node', { batch: 'done' });
      await h.client.patch(resources.pods, ns, `done-${i}`, { status: { phase: 'Succeeded' } }, 'merge', { subresource: 'status' });
      // Distinct creation seconds give a well-defined age order.
      if (i < 3) await new Promise((r) => setTimeout(r, 1000));
    }
    await until(async () => (await list(h.client, resources.pods, ns, 'batch=done')).length === 2, 'two terminated pods left');
    const left = (await list(h.client, resources.pods, ns, 'batch=done')).map((p) => p.metadata.name).sort();
    assert.deepEqual(left, ['done-2', 'done-3']);
    assert.ok(await exists('keeper'), 'running pods do not count toward the threshold');
  });
});
