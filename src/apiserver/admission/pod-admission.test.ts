import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteBackend } from '../../storage/sqlite/sqlite-backend.js';
import type { Backend } from '../../storage/interface.js';
import { StatusError } from '../../api/errors.js';
import { Store } from '../registry/generic/store.js';
import { podStrategy } from '../registry/core/pods/strategy.js';
import { serviceAccountStrategy } from '../registry/core/serviceaccounts/strategy.js';
import { priorityClassStrategy } from '../registry/scheduling/priorityclasses/strategy.js';
import type { KObject } from '../registry/generic/strategy.js';
import { admissionChain } from './index.js';
import { serviceAccount, serviceAccountMountPath } from './service-account.js';
import { priority } from './priority.js';
import { defaultTolerationSeconds } from './default-toleration-seconds.js';

describe('pod admission: ServiceAccount, Priority, DefaultTolerationSeconds', () => {
  let backend: Backend;
  const stores = new Map<string, Store>();
  let pods: Store;
  before(async () => {
    backend = SqliteBackend.open({ path: ':memory:' });
    const lookup = (_g: string, r: string) => stores.get(r);
    const ext = { admit: admissionChain(lookup, [serviceAccount, priority, defaultTolerationSeconds({ notReadySeconds: 60 })]) };
    pods = new Store(podStrategy(), backend, ext);
    stores.set('pods', pods);
    stores.set('serviceaccounts', new Store(serviceAccountStrategy(), backend, ext));
    stores.set('priorityclasses', new Store(priorityClassStrategy(), backend, ext));
    await stores.get('serviceaccounts')!.create('ns', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
    await stores.get('serviceaccounts')!.create('ns', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'quiet' }, automountServiceAccountToken: false, imagePullSecrets: [{ name: 'regcred' }] });
    await stores.get('priorityclasses')!.create('', { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'high' }, value: 1000, preemptionPolicy: 'Never' });
  });
  after(() => backend.close());

  const pod = (name: string, spec: KObject = {}): KObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'x' }], ...spec } });
  const refused = async (p: Promise<unknown>, message: string) =>
    assert.rejects(p, (e: unknown) => e instanceof StatusError && e.code === 403 && e.message === message);

  it('runs a pod as the default account with its API credentials mounted in every container', async () => {
    const p = await pods.create('ns', pod('a', { initContainers: [{ name: 'i', image: 'x' }] }));
    assert.equal(p.spec.serviceAccountName, 'default');
    assert.equal(p.spec.serviceAccount, 'default');
    const vol = p.spec.volumes.find((v: KObject) => v.name.startsWith('kube-api-access-'));
    assert.match(vol.name, /^kube-api-access-[a-z0-9]{5}$/);
    assert.deepEqual(vol.projected.sources.map((s: KObject) => Object.keys(s)[0]), ['serviceAccountToken', 'configMap', 'downwardAPI']);
    for (const c of [...p.spec.containers, ...p.spec.initContainers]) {
      assert.deepEqual(c.volumeMounts, [{ name: vol.name, readOnly: true, mountPath: serviceAccountMountPath }]);
    }
  });

  it('mounts nothing when the account or the pod opts out, and copies the account\'s image pull secrets', async () => {
    const p = await pods.create('ns', pod('b', { serviceAccountName: 'quiet' }));
    assert.equal(p.spec.volumes, undefined);
    assert.deepEqual(p.spec.imagePullSecrets, [{ name: 'regcred' }]);
    const q = await pods.create('ns', pod('c', { automountServiceAccountToken: false }));
    assert.equal(q.spec.volumes, undefined);
  });

  it('refuses a pod whose service account does not exist, with upstream\'s message', async () => {
    await refused(pods.create('ns', pod('d', { serviceAccountName: 'ghost' })), 'pods "d" is forbidden: error looking up service account ns/ghost: serviceaccount "ghost" not found');
  });

  it('resolves the priority class, and refuses unknown classes and conflicting values', async () => {
    const p = await pods.create('ns', pod('e', { priorityClassName: 'high' }));
    assert.equal(p.spec.priority, 1000);
    assert.equal(p.spec.preemptionPolicy, 'Never');
    const s = await pods.create('ns', pod('f', { priorityClassName: 'system-node-critical' }));
    assert.equal(s.spec.priority, 2000001000);
    await refused(pods.create('ns', pod('g', { priorityClassName: 'nope' })), 'pods "g" is forbidden: no PriorityClass with name nope was found');
    await refused(
      pods.create('ns', pod('h', { priorityClassName: 'high', priority: 5 })),
      'pods "h" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name',
    );
    const d = await pods.create('ns', pod('i'));
    assert.equal(d.spec.priority, 0);
    assert.equal(d.spec.preemptionPolicy, 'PreemptLowerPriority');
  });

  it('takes the global default class for pods that name none', async () => {
    await stores.get('priorityclasses')!.create('', { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'everyday' }, value: 7, globalDefault: true });
    const p = await pods.create('ns', pod('j'));
    assert.equal(p.spec.priority, 7);
    assert.equal(p.spec.priorityClassName, 'everyday');
  });

  it('adds not-ready and unreachable tolerations with the configured seconds, unless the pod tolerates them', async () => {
    const p = await pods.create('ns', pod('k'));
    assert.deepEqual(p.spec.tolerations, [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ]);
    const q = await pods.create('ns', pod('l', { tolerations: [{ operator: 'Exists' }] }));
    assert.deepEqual(q.spec.tolerations, [{ operator: 'Exists' }]);
  });
});
