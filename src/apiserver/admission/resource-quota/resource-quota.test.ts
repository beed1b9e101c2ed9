import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteBackend } from '../../../storage/sqlite/sqlite-backend.js';
import { StatusError } from '../../../api/errors.js';
import { Store } from '../../registry/generic/store.js';
import type { KObject } from '../../registry/generic/strategy.js';
import { podStrategy } from '../../registry/core/pods/strategy.js';
import { serviceStrategy } from '../../registry/core/services/strategy.js';
import { configMapStrategy } from '../../registry/core/configmaps/strategy.js';
import { resourceQuotaStrategy } from '../../registry/core/resourcequotas/strategy.js';
import { admissionChain } from '../index.js';
import { resourceQuota } from './index.js';

const pod = (name: string, resources: Record<string, unknown> = {}) => ({
  metadata: { name },
  spec: { containers: [{ name: 'c', image: 'nginx', resources }] },
});

function forbidden(message: string) {
  return (e: unknown) => {
    assert.ok(e instanceof StatusError, `expected a StatusError, got ${String(e)}`);
    assert.equal(e.code, 403);
    assert.equal(e.reason, 'Forbidden');
    assert.equal(e.message, message);
    return true;
  };
}

describe('ResourceQuota admission over real stores', () => {
  let backend: SqliteBackend;
  let quotas: Store;
  let pods: Store;
  let services: Store;
  let configmaps: Store;

  /** A quota as the controller leaves it: status.hard copied, status.used computed. */
  async function makeQuota(ns: string, name: string, hard: Record<string, string>, used?: Record<string, string>, spec: Record<string, unknown> = {}): Promise<void> {
    await quotas.create(ns, { metadata: { name }, spec: { hard, ...spec } });
    if (!used) return;
    await quotas.guaranteedUpdate({ namespace: ns, name }, (q) => ({ ...q, status: { hard, used } }), { subresource: 'status' });
  }
  const usedOf = async (ns: string, name: string) => (await quotas.get({ namespace: ns, name })).status?.used;

  before(() => {
    backend = SqliteBackend.open({ path: ':memory:' });
    quotas = new Store(resourceQuotaStrategy(), backend);
    const byName: Record<string, Store> = { resourcequotas: quotas };
    const lookup = (g: string, r: string) => (g === '' ? byName[r] : undefined);
    const admit = admissionChain(lookup, [resourceQuota]);
    pods = new Store(podStrategy(), backend, { admit });
    services = new Store(serviceStrategy({ serviceCIDR: '10.96.0.0/16', nodePortRange: [30000, 32767] }), backend, { admit });
    configmaps = new Store(configMapStrategy(), backend, { admit });
    Object.assign(byName, { pods, services, configmaps });
  });
  after(async () => {
    await backend.close();
  });

  it('the fourth pod under pods=3 is refused and the first three are charged', async () => {
    await makeQuota('seq', 'pods', { pods: '3' }, { pods: '0' });
    for (const n of ['a', 'b', 'c']) await pods.create('seq', pod(n));
    assert.deepEqual(await usedOf('seq', 'pods'), { pods: '3' });
    await assert.rejects(pods.create('seq', pod('d')), forbidden('pods "d" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=3, limited: pods=3'));
    assert.deepEqual(await usedOf('seq', 'pods'), { pods: '3' });
    assert.equal((await pods.list('seq')).items.length, 3);
  });

  it('of six pods created at once under pods=3 exactly three are admitted', async () => {
    await makeQuota('par', 'pods', { pods: '3' }, { pods: '0' });
    const results = await Promise.allSettled(['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].map((n) => pods.create('par', pod(n))));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(ok.length, 3);
    assert.equal(refused.length, 3);
    for (const r of refused) {
      assert.ok(r.reason instanceof StatusError);
      assert.equal(r.reason.code, 403);
      assert.match(r.reason.message, /is forbidden: exceeded quota: pods, requested: pods=1, used: pods=3, limited: pods=3$/);
    }
    assert.deepEqual(await usedOf('par', 'pods'), { pods: '3' });
    assert.equal((await pods.list('par')).items.length, 3);
  });

  it('a dry-run create is checked but not charged', async () => {
    await makeQuota('dry', 'pods', { pods: '1' }, { pods: '0' });
    await pods.create('dry', pod('a'), { dryRun: true });
    assert.deepEqual(await usedOf('dry', 'pods'), { pods: '0' });
    await pods.create('dry', pod('a'));
    await assert.rejects(pods.create('dry', pod('b'), { dryRun: true }), forbidden('pods "b" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1'));
  });

  const refusals: { name: string; ns: string; hard: Record<string, string>; used?: Record<string, string>; status?: boolean; pod: KObject; want: string }[] = [
    {
      name: 'a compute quota refuses a container that does not name the tracked limit',
      ns: 'compute',
      hard: { 'limits.cpu': '2', 'requests.cpu': '1' },
      used: { 'limits.cpu': '0', 'requests.cpu': '0' },
      pod: pod('nolimit', { requests: { cpu: '100m' } }),
      want: 'pods "nolimit" is forbidden: failed quota: q: must specify limits.cpu for: c',
    },
    {
      name: 'a compute quota refuses a pod that would pass requests.cpu',
      ns: 'compute2',
      hard: { 'requests.cpu': '1' },
      used: { 'requests.cpu': '800m' },
      pod: pod('big', { requests: { cpu: '300m' } }),
      want: 'pods "big" is forbidden: exceeded quota: q, requested: requests.cpu=300m, used: requests.cpu=800m, limited: requests.cpu=1',
    },
    {
      name: 'a quota whose usage the controller has not computed refuses',
      ns: 'unknown',
      hard: { pods: '5' },
      status: true,
      pod: pod('early'),
      want: 'pods "early" is forbidden: status unknown for quota: q, resources: pods',
    },
  ];
  for (const t of refusals) {
    it(t.name, async () => {
      if (t.status) {
        await quotas.create(t.ns, { metadata: { name: 'q' }, spec: { hard: t.hard } });
        await quotas.guaranteedUpdate({ namespace: t.ns, name: 'q' }, (q) => ({ ...q, status: { hard: t.hard } }), { subresource: 'status' });
      } else {
        await makeQuota(t.ns, 'q', t.hard, t.used);
      }
      await assert.rejects(pods.create(t.ns, t.pod), forbidden(t.want));
      assert.equal((await pods.list(t.ns)).items.length, 0);
    });
  }

  it('a pod the store refuses as invalid or as a duplicate is not charged', async () => {
    await makeQuota('doomed', 'pods', { pods: '5' }, { pods: '0' });
    await pods.create('doomed', pod('a'));
    await assert.rejects(pods.create('doomed', pod('a')), (e: unknown) => e instanceof StatusError && e.code === 409);
    await assert.rejects(pods.create('doomed', { metadata: { name: 'bad' }, spec: { containers: [{ name: 'c' }] } }), (e: unknown) => e instanceof StatusError && e.code === 422);
    assert.deepEqual(await usedOf('doomed', 'pods'), { pods: '1' });
  });

  it('a quota not yet seen by the controller does not limit anything', async () => {
    await makeQuota('fresh', 'pods', { pods: '0' });
    await pods.create('fresh', pod('a'));
    assert.deepEqual((await quotas.get({ namespace: 'fresh', name: 'pods' })).status, {});
  });

  it('a BestEffort-scoped quota leaves pods with requests alone', async () => {
    await makeQuota('scoped', 'be', { pods: '0' }, { pods: '0' }, { scopes: ['BestEffort'] });
    await pods.create('scoped', pod('burstable', { requests: { cpu: '100m' } }));
    await assert.rejects(pods.create('scoped', pod('besteffort')), forbidden('pods "besteffort" is forbidden: exceeded quota: be, requested: pods=1, used: pods=0, limited: pods=0'));
  });

  it('every applying quota is charged, each for what it limits', async () => {
    await makeQuota('two', 'count', { pods: '10' }, { pods: '0' });
    await makeQuota('two', 'cpu', { 'requests.cpu': '2', 'limits.cpu': '4' }, { 'requests.cpu': '0', 'limits.cpu': '0' });
    await pods.create('two', pod('a', { requests: { cpu: '250m' }, limits: { cpu: '1' } }));
    assert.deepEqual(await usedOf('two', 'count'), { pods: '1' });
    assert.deepEqual(await usedOf('two', 'cpu'), { 'requests.cpu': '250m', 'limits.cpu': '1' });
  });

  it('services are counted on create and node ports charged when a service becomes a NodePort', async () => {
    await makeQuota('svc', 'q', { services: '2', 'services.nodeports': '1' }, { services: '0', 'services.nodeports': '0' });
    await services.create('svc', { metadata: { name: 'a' }, spec: { ports: [{ name: 'a', port: 80 }, { name: 'b', port: 81 }] } });
    assert.deepEqual(await usedOf('svc', 'q'), { services: '1', 'services.nodeports': '0' });
    await assert.rejects(
      services.guaranteedUpdate({ namespace: 'svc', name: 'a' }, (s) => ({ ...s, spec: { ...s.spec, type: 'NodePort' } })),
      forbidden('services "a" is forbidden: exceeded quota: q, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1'),
    );
    await services.create('svc', { metadata: { name: 'b' }, spec: { ports: [{ port: 80 }] } });
    await assert.rejects(services.create('svc', { metadata: { name: 'c' }, spec: { ports: [{ port: 80 }] } }), forbidden('services "c" is forbidden: exceeded quota: q, requested: services=1, used: services=2, limited: services=2'));
  });

  it('configmaps are counted by the generic count/configmaps name', async () => {
    await makeQuota('cm', 'q', { 'count/configmaps': '1' }, { 'count/configmaps': '0' });
    await configmaps.create('cm', { metadata: { name: 'a' } });
    await assert.rejects(configmaps.create('cm', { metadata: { name: 'b' } }), forbidden('configmaps "b" is forbidden: exceeded quota: q, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1'));
    // Updates of counted objects are free.
    await configmaps.guaranteedUpdate({ namespace: 'cm', name: 'a' }, (o) => ({ ...o, data: { k: 'v' } }));
  });
});
