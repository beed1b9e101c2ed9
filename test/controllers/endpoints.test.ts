import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { EndpointsController } from '../../src/controllers/endpoints/endpoints-controller.js';
import { startHarness, until, type Harness } from './harness.js';
import { createPod, service, setPodStatus } from './endpoints-pods.js';

const ns = 'default';
const ips = (addrs: KObject[] | undefined) => (addrs ?? []).map((a) => a.ip).sort();

describe('Endpoints controller', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    // Not 127.0.0.1: Endpoints validation refuses loopback addresses, as upstream's does.
    await h.run(new EndpointsController({ apiServerEndpoint: { ip: '192.168.5.10', port: 6443 }, batchPeriodMs: 100 }));
  });
  after(async () => h.stop());

  const getEp = (name: string) => h.client.get(resources.endpoints, ns, name).catch(() => undefined);

  it('lists two ready pods as addresses with the named targetPort resolved per pod.', async () => {
    await h.client.create(resources.services, ns, service('web', 'web'));
    for (const [n, ip] of [['web-a', '10.42.0.1'], ['web-b', '10.42.0.2']] as const) {
      await createPod(h.client, ns, n, { app: 'web' });
      await setPodStatus(h.client, ns, n, ip, true);
    }
    await until(async () => ips((await getEp('web'))?.subsets?.[0]?.addresses).length === 2, 'two ready addresses');
    const ep = (await getEp('web'))!;
    assert.equal(ep.subsets.length, 1);
    assert.deepEqual(ips(ep.subsets[0].addresses), ['10.42.0.1', '10.42.0.2']);
    assert.equal(ep.subsets[0].notReadyAddresses, undefined);
    const a = ep.subsets[0].addresses.find((x: KObject) => x.ip === '10.42.0.1');
    assert.equal(a.nodeName, 'node-1');
    assert.deepEqual({ kind: a.targetRef.kind, name: a.targetRef.name, namespace: a.targetRef.namespace }, { kind: 'Pod', name: 'web-a', namespace: ns });
    assert.deepEqual(
      ep.subsets[0].ports.map((p: KObject) => [p.name, p.port, p.protocol]).sort(),
      [
        ['http', 8080, 'TCP'],
        ['metrics', 9100, 'TCP'],
      ],
    );
    assert.equal(ep.metadata.labels.tier, 'front');
    assert.equal(ep.metadata.labels['endpointslice.kubernetes.io/skip-mirror'], 'true');
    assert.match(ep.metadata.annotations['endpoints.kubernetes.io/last-change-trigger-time'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  it('moves a pod that stops being ready to notReadyAddresses.', async () => {
    await setPodStatus(h.client, ns, 'web-b', '10.42.0.2', false);
    await until(async () => ips((await getEp('web'))?.subsets?.[0]?.notReadyAddresses).length === 1, 'one not-ready address');
    const ep = (await getEp('web'))!;
    assert.deepEqual(ips(ep.subsets[0].addresses), ['10.42.0.1']);
    assert.deepEqual(ips(ep.subsets[0].notReadyAddresses), ['10.42.0.2']);
  });

  it('drops a terminating pod, and keeps it when the Service publishes not-ready addresses.', async () => {
    await h.client.create(resources.services, ns, service('term', 'term'));
    await h.client.create(resources.services, ns, service('term-pub', 'term', { publishNotReadyAddresses: true }));
    await createPod(h.client, ns, 'term-a', { app: 'term' });
    await setPodStatus(h.client, ns, 'term-a', '10.42.1.1', true);
    await until(async () => ips((await getEp('term'))?.subsets?.[0]?.addresses).length === 1, 'term has the pod');
    // Bound to a node, so deletion is graceful and the pod lingers as terminating.
    await h.client.delete(resources.pods, ns, 'term-a', { gracePeriodSeconds: 30 });
    await until(async () => ((await getEp('term'))?.subsets ?? []).length === 0, 'term loses the terminating pod');
    const pub = (await getEp('term-pub'))!;
    assert.deepEqual(ips(pub.subsets?.[0]?.addresses), ['10.42.1.1']);
  });

  it('removes a deleted pod.', async () => {
    await h.client.delete(resources.pods, ns, 'web-a', { gracePeriodSeconds: 0 });
    await until(async () => ips((await getEp('web'))?.subsets?.[0]?.addresses).length === 0, 'no ready addresses');
    assert.deepEqual(ips((await getEp('web'))!.subsets[0].notReadyAddresses), ['10.42.0.2']);
  });

  it('coalesces a burst of pod changes into far fewer writes than changes.', async () => {
    await h.client.create(resources.services, ns, service('burst', 'burst'));
    await until(async () => !!(await getEp('burst')), 'empty endpoints for burst');
    const rv0 = Number((await getEp('burst'))!.metadata.resourceVersion);
    let writes = 0;
    const w = h.client.watch(resources.endpoints, ns, { fieldSelector: 'metadata.name=burst', resourceVersion: String(rv0) }, (ev) => {
      if (ev.type === 'MODIFIED') writes++;
    });
    try {
      const n = 20;
      await Promise.all(Array.from({ length: n }, (_, i) => createPod(h.client, ns, `burst-${i}`, { app: 'burst' })));
      await Promise.all(Array.from({ length: n }, (_, i) => setPodStatus(h.client, ns, `burst-${i}`, `10.42.2.${i + 1}`, true)));
      await until(async () => ips((await getEp('burst'))?.subsets?.[0]?.addresses).length === n, `${n} addresses`);
      assert.ok(writes < n / 2, `expected batched writes, got ${writes}`);
    } finally {
      w.abort();
    }
  });

  it('deletes the Endpoints when the Service is deleted.', async () => {
    await h.client.delete(resources.services, ns, 'burst');
    await until(async () => !(await getEp('burst')), 'burst endpoints gone');
  });

  it('points the kubernetes Service at the API server with an Endpoints and an EndpointSlice, and restores them.', async () => {
    await until(async () => !!(await getEp('kubernetes')), 'kubernetes endpoints');
    const ep = (await getEp('kubernetes'))!;
    assert.deepEqual(ep.subsets, [{ addresses: [{ ip: '192.168.5.10' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }]);
    const getSlice = () => h.client.get(resources.endpointslices, ns, 'kubernetes').catch(() => undefined);
    await until(async () => !!(await getSlice()), 'kubernetes endpointslice');
    const slice = (await getSlice())!;
    assert.equal(slice.addressType, 'IPv4');
    assert.equal(slice.metadata.labels['kubernetes.io/service-name'], 'kubernetes');
    assert.deepEqual(slice.endpoints.map((e: KObject) => [e.addresses, e.conditions.ready]), [[['192.168.5.10'], true]]);
    assert.deepEqual(slice.ports, [{ name: 'https', port: 6443, protocol: 'TCP' }]);
    await h.client.delete(resources.endpoints, ns, 'kubernetes');
    await until(async () => (await getEp('kubernetes'))?.subsets?.[0]?.addresses?.[0]?.ip === '192.168.5.10', 'kubernetes endpoints restored');
  });
});
