/**
 * The `kubernetes` Service's endpoints: where pods reach the API server (upstream's endpoint
 * reconciler in the API server). Written as both Endpoints and an EndpointSlice, since the Service
 * has no selector and no controller fills them.
 */
import { StatusError } from '../api/errors.js';
import type { APIServer } from '../apiserver/apiserver.js';
import type { KObject } from '../apiserver/registry/generic/strategy.js';

async function upsert(api: APIServer, group: string, resource: string, obj: KObject, same: (cur: KObject) => boolean): Promise<void> {
  const store = api.store(group, resource);
  if (!store) return;
  const ref = { namespace: 'default', name: obj.metadata.name };
  try {
    const cur = await store.get(ref);
    if (same(cur)) return;
    await store.guaranteedUpdate(ref, (c) => ({ ...obj, metadata: { ...c.metadata, labels: obj.metadata.labels } }));
  } catch (e) {
    if (!(e instanceof StatusError && e.code === 404)) throw e;
    await store.create('default', obj).catch((err) => {
      if (!(err instanceof StatusError && err.code === 409)) throw err;
    });
  }
}

/** Point `default/kubernetes` at `ip:port`. */
export async function reconcileKubernetesEndpoints(api: APIServer, ip: string, port: number): Promise<void> {
  const labels = { 'endpointslice.kubernetes.io/skip-mirror': 'true' };
  await upsert(
    api,
    '',
    'endpoints',
    { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'kubernetes', namespace: 'default', labels }, subsets: [{ addresses: [{ ip }], ports: [{ name: 'https', port, protocol: 'TCP' }] }] },
    (cur) => cur.subsets?.length === 1 && cur.subsets[0].addresses?.length === 1 && cur.subsets[0].addresses[0].ip === ip && cur.subsets[0].ports?.[0]?.port === port,
  );
  await upsert(
    api,
    'discovery.k8s.io',
    'endpointslices',
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [ip], conditions: { ready: true } }],
      ports: [{ name: 'https', port, protocol: 'TCP' }],
    },
    (cur) => cur.endpoints?.length === 1 && cur.endpoints[0].addresses?.[0] === ip && cur.ports?.[0]?.port === port,
  );
}
