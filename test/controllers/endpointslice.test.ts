import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import type { KObject } from '../../src/client/rest-client.js';
import { EndpointSliceController } from '../../src/controllers/endpointslice/endpointslice-controller.js';
import { list, startHarness, until, type Harness } from './harness.js';
import { createPod, service, setPodStatus } from './endpoints-pods.js';

const ns = 'default';
const addrs = (slices: KObject[]) => slices.flatMap((s) => (s.endpoints ?? []).map((e: KObject) => e.addresses[0])).sort();

describe('EndpointSlice controller', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await h.run(new EndpointSliceController({ maxEndpointsPerSlice: 3 }));
  });
  after(async () => h.stop());

  const slices = (svc: string) => list(h.client, resources.endpointslices, ns, `kubernetes.io/service-name=${svc}`);
  const endpointOf = async (svc: string, ip: string) => (await slices(svc)).flatMap((s) => s.endpoints ?? []).find((e: KObject) => e.addresses[0] === ip);

  it('writes one slice with both ready pods, the resolved ports, the labels and the owner reference.', async () => {
    const svc = await h.client.create(resources.services, ns, service('web', 'web'));
    for (const [n, ip] of [['web-a', '10.42.0.1'], ['web-b', '10.42.0.2']] as const) {
      await createPod(h.client, ns, n, { app: 'web' });
      await setPodStatus(h.client, ns, n, ip, true);
    }
    await until(async () => addrs(await slices('web')).length === 2, 'two endpoints');
    const [s, ...rest] = await slices('web');
    assert.equal(rest.length, 0);
    assert.match(s!.metadata.name, /^web-[a-z0-9]{5}$/);
    assert.equal(s!.addressType, 'IPv4');
    assert.equal(s!.metadata.labels['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
    assert.equal(s!.metadata.labels.tier, 'front');
    assert.deepEqual(s!.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.deepEqual(addrs([s!]), ['10.42.0.1', '10.42.0.2']);
    assert.deepEqual(
      s!.ports.map((p: KObject) => [p.name, p.port, p.protocol]).sort(),
      [
        ['http', 8080, 'TCP'],
        ['metrics', 9100, 'TCP'],
      ],
    );
    const e = s!.endpoints.find((x: KObject) => x.addresses[0] === '10.42.0.1');
    assert.deepEqual(e.conditions, { ready: true, serving: true, terminating: false });
    assert.equal(e.nodeName, 'node-1');
    assert.equal(e.targetRef.name, 'web-a');
    assert.ok(s!.metadata.annotations?.['endpoints.kubernetes.io/last-change-trigger-time']);
  });

  it('marks a pod that stops being ready ready=false, serving=false.', async () => {
    await setPodStatus(h.client, ns, 'web-b', '10.42.0.2', false);
    await until(async () => (await endpointOf('web', '10.42.0.2'))?.conditions.ready === false, 'web-b not ready');
    assert.deepEqual((await endpointOf('web', '10.42.0.2'))!.conditions, { ready: false, serving: false, terminating: false });
  });

  it('keeps a terminating pod as terminating and not ready.', async () => {
    await h.client.delete(resources.pods, ns, 'web-b', { gracePeriodSeconds: 30 });
    await until(async () => (await endpointOf('web', '10.42.0.2'))?.conditions.terminating === true, 'web-b terminating');
    assert.equal((await endpointOf('web', '10.42.0.2'))!.conditions.ready, false);
  });

  it('removes a deleted pod from the slice.', async () => {
    await h.client.delete(resources.pods, ns, 'web-a', { gracePeriodSeconds: 0 });
    await until(async () => !(await endpointOf('web', '10.42.0.1')), 'web-a removed');
    assert.equal((await slices('web')).length, 1);
  });

  it('splits endpoints over slices of at most the configured size, and leaves a placeholder when none remain.', async () => {
    await h.client.create(resources.services, ns, service('many', 'many'));
    for (let i = 0; i < 7; i++) {
      await createPod(h.client, ns, `many-${i}`, { app: 'many' });
      await setPodStatus(h.client, ns, `many-${i}`, `10.42.3.${i + 1}`, true);
    }
    await until(async () => addrs(await slices('many')).length === 7, 'seven endpoints');
    const ss = await slices('many');
    assert.equal(ss.length, 3);
    assert.ok(ss.every((s) => s.endpoints.length <= 3));
    assert.equal(new Set(addrs(ss)).size, 7);
    for (let i = 0; i < 7; i++) await h.client.delete(resources.pods, ns, `many-${i}`, { gracePeriodSeconds: 0 });
    await until(async () => {
      const left = await slices('many');
      return left.length === 1 && (left[0]!.endpoints ?? []).length === 0;
    }, 'one empty placeholder slice');
  });

  it('leaves Services without a selector alone and removes slices of a deleted Service.', async () => {
    await h.client.create(resources.services, ns, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'manual' }, spec: { ports: [{ port: 80 }] } });
    await h.client.delete(resources.services, ns, 'web');
    await until(async () => (await slices('web')).length === 0, 'web slices gone');
    assert.equal((await slices('manual')).length, 0);
  });
});
