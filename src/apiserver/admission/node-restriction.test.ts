import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../api/errors.js';
import { setLogLevel } from '../../base/log.js';
import { SqliteBackend } from '../../storage/sqlite/sqlite-backend.js';
import type { Backend } from '../../storage/interface.js';
import { Store } from '../registry/generic/store.js';
import type { KObject, Strategy } from '../registry/generic/strategy.js';
import type { UserInfo } from '../auth/authenticator.js';
import { cachedReader, type AdmissionAttributes, type AdmissionOperation } from './index.js';
import { forbiddenNodeLabels, nodeRestriction } from './node-restriction.js';
import { resources } from '../../client/resources.js';
import { startCSRTestServer, type CSRTestServer } from '../../controllers/certificates/testdata/csr-server.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');

const plain = (group: string, resource: string, kind: string, namespaced: boolean): Strategy => ({
  info: { group, version: 'v1', resource, singular: resource.slice(0, -1), kind, namespaced },
});

const n1: UserInfo = { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };
const alice: UserInfo = { username: 'alice', groups: ['system:authenticated'] };

let backend: Backend;
let n1uid = '';
const stores: Record<string, Store> = {};

function attrs(op: AdmissionOperation, resource: string, object: KObject, o: { old?: KObject; sub?: string; user?: UserInfo } = {}): AdmissionAttributes {
  const lookup = (g: string, r: string) => Object.values(stores).find((s) => s.gr.group === g && s.gr.resource === r);
  return {
    operation: op,
    object,
    oldObject: o.old,
    store: stores[resource],
    lookup,
    cached: cachedReader(lookup),
    user: 'user' in o ? o.user : n1,
    subresource: o.sub ?? '',
    dryRun: false,
    warn: () => undefined,
    annotate: () => undefined,
  };
}

const node = (name: string, labels: Record<string, string> = {}, spec: KObject = {}): KObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels }, spec });
const pod = (name: string, nodeName: string, extra: KObject = {}): KObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'ns', ...(extra.metadata ?? {}) },
  spec: { nodeName, containers: [{ name: 'c', image: 'i' }], ...(extra.spec ?? {}) },
});
const mirror = (spec: KObject = {}, meta: KObject = {}) =>
  pod('static-n1', 'n1', {
    metadata: { annotations: { 'kubernetes.io/config.mirror': 'hash' }, ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: n1uid, controller: true }], ...meta },
    spec,
  });
const lease = (ns: string, name: string): KObject => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: ns }, spec: {} });

describe('NodeRestriction admission', () => {
  before(async () => {
    backend = SqliteBackend.open({ path: ':memory:' });
    stores.pods = new Store(plain('', 'pods', 'Pod', true), backend);
    stores.nodes = new Store(plain('', 'nodes', 'Node', false), backend);
    stores.leases = new Store(plain('coordination.k8s.io', 'leases', 'Lease', true), backend);
    stores.serviceaccounts = new Store(plain('', 'serviceaccounts', 'ServiceAccount', true), backend);
    stores.events = new Store(plain('', 'events', 'Event', true), backend);
    stores.persistentvolumeclaims = new Store(plain('', 'persistentvolumeclaims', 'PersistentVolumeClaim', true), backend);
    const created = await stores.nodes.create('', node('n1'));
    n1uid = created.metadata.uid;
    await stores.pods.create('ns', pod('on-n1', 'n1'));
    await stores.pods.create('ns', pod('on-n2', 'n2'));
  });
  after(async () => {
    await backend?.close();
  });

  const cases: { name: string; a: () => AdmissionAttributes | Promise<AdmissionAttributes>; want?: string | (() => string) }[] = [
    { name: 'a node may create its own Node with kubelet labels', a: () => attrs('CREATE', 'nodes', node('n1', { 'kubernetes.io/hostname': 'n1', 'node.kubernetes.io/exclude-from-external-load-balancers': '', 'example.com/x': 'y' })) },
    { name: 'a node may not create another Node', a: () => attrs('CREATE', 'nodes', node('n2')), want: 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"' },
    { name: 'a node may not update another Node', a: () => attrs('UPDATE', 'nodes', node('n2'), { old: node('n2') }), want: 'node "n1" is not allowed to modify node "n2"' },
    { name: 'a node may not delete another Node', a: () => attrs('DELETE', 'nodes', node('n2')), want: 'node "n1" is not allowed to modify node "n2"' },
    { name: 'a node may not register with a node-restriction label', a: () => attrs('CREATE', 'nodes', node('n1', { 'node-restriction.kubernetes.io/secure': 'true' })), want: 'node "n1" is not allowed to set the following labels: node-restriction.kubernetes.io/secure' },
    { name: 'a node may not register with a node-role label', a: () => attrs('CREATE', 'nodes', node('n1', { 'node-role.kubernetes.io/control-plane': '' })), want: 'node "n1" is not allowed to set the following labels: node-role.kubernetes.io/control-plane' },
    { name: 'a node may not remove a node-restriction label', a: () => attrs('UPDATE', 'nodes', node('n1'), { old: node('n1', { 'example.node-restriction.kubernetes.io/a': 'b' }) }), want: 'is not allowed to modify labels: example.node-restriction.kubernetes.io/a' },
    { name: 'a node may not change a k8s.io label', a: () => attrs('UPDATE', 'nodes', node('n1', { 'k8s.io/x': '2' }), { old: node('n1', { 'k8s.io/x': '1' }) }), want: 'is not allowed to modify labels: k8s.io/x' },
    { name: 'a node may update its status with unchanged restricted labels', a: () => attrs('UPDATE', 'nodes', node('n1', { 'node-role.kubernetes.io/worker': '' }), { old: node('n1', { 'node-role.kubernetes.io/worker': '' }), sub: 'status' }) },
    { name: 'a node may change its own topology labels', a: () => attrs('UPDATE', 'nodes', node('n1', { 'topology.kubernetes.io/zone': 'b' }), { old: node('n1', { 'topology.kubernetes.io/zone': 'a' }) }) },
    { name: 'a node may not change its taints', a: () => attrs('UPDATE', 'nodes', node('n1', {}, { taints: [] }), { old: node('n1', {}, { taints: [{ key: 'k', effect: 'NoSchedule' }] }) }), want: 'node "n1" is not allowed to modify taints' },
    { name: 'a node may update the status of a pod bound to it', a: () => attrs('UPDATE', 'pods', pod('on-n1', 'n1'), { old: pod('on-n1', 'n1'), sub: 'status' }) },
    { name: 'a node may not update the status of a pod bound elsewhere', a: () => attrs('UPDATE', 'pods', pod('on-n2', 'n2'), { old: pod('on-n2', 'n2'), sub: 'status' }), want: 'pods "on-n2" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself' },
    { name: 'a node may not change pod labels through status', a: () => attrs('UPDATE', 'pods', pod('on-n1', 'n1', { metadata: { labels: { a: 'b' } } }), { old: pod('on-n1', 'n1'), sub: 'status' }), want: 'node "n1" cannot update labels through pod status' },
    { name: 'a node may delete a pod bound to it', a: () => attrs('DELETE', 'pods', pod('on-n1', 'n1')) },
    { name: 'a node may not delete a pod bound elsewhere', a: () => attrs('DELETE', 'pods', pod('on-n2', 'n2')), want: 'node "n1" can only delete pods with spec.nodeName set to itself' },
    { name: 'a node may not update a pod', a: () => attrs('UPDATE', 'pods', pod('on-n1', 'n1'), { old: pod('on-n1', 'n1') }), want: 'unexpected operation "UPDATE", node "n1" can only create and delete mirror pods' },
    { name: 'a node may create a mirror pod of itself', a: () => attrs('CREATE', 'pods', mirror()) },
    { name: 'a node may not create an ordinary pod', a: () => attrs('CREATE', 'pods', pod('x', 'n1')), want: 'pods "x" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods' },
    { name: 'a node may not create a mirror pod for another node', a: () => attrs('CREATE', 'pods', { ...mirror(), spec: { ...mirror().spec, nodeName: 'n2' } }), want: 'node "n1" can only create pods with spec.nodeName set to itself' },
    { name: 'a node may not create a mirror pod owned by an earlier Node of its name', a: () => attrs('CREATE', 'pods', mirror({}, { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'old-uid', controller: true }] })), want: () => `node n1 UID mismatch: expected old-uid got ${n1uid}` },
    { name: 'a node may not create a mirror pod without an owner', a: () => attrs('CREATE', 'pods', mirror({}, { ownerReferences: [] })), want: 'node "n1" can only create pods with an owner reference set to itself' },
    { name: 'a node may not create a mirror pod owned by a non-controller reference', a: () => attrs('CREATE', 'pods', mirror({}, { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'u' }] })), want: 'node "n1" can only create pods with a controller owner reference set to itself' },
    { name: 'a node may not create a mirror pod that mounts a secret', a: () => attrs('CREATE', 'pods', mirror({ volumes: [{ name: 'v', secret: { secretName: 's' } }] })), want: 'node "n1" can not create pods that reference secrets' },
    { name: 'a node may not create a mirror pod with configmap env', a: () => attrs('CREATE', 'pods', mirror({ containers: [{ name: 'c', image: 'i', envFrom: [{ configMapRef: { name: 'cm' } }] }] })), want: 'node "n1" can not create pods that reference configmaps' },
    { name: 'a node may not create a mirror pod with a service account', a: () => attrs('CREATE', 'pods', mirror({ serviceAccountName: 'sa' })), want: 'node "n1" can not create pods that reference a service account' },
    { name: 'a node may not create a mirror pod with a claim', a: () => attrs('CREATE', 'pods', mirror({ volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'c' } }] })), want: 'node "n1" can not create pods that reference persistentvolumeclaims' },
    { name: 'a node may renew its own lease', a: () => attrs('UPDATE', 'leases', lease('kube-node-lease', 'n1'), { old: lease('kube-node-lease', 'n1') }) },
    { name: 'a node may not update another node\'s lease', a: () => attrs('UPDATE', 'leases', lease('kube-node-lease', 'n2'), { old: lease('kube-node-lease', 'n2') }), want: 'leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the requesting node' },
    { name: 'a node may not write leases outside kube-node-lease', a: () => attrs('CREATE', 'leases', lease('kube-system', 'n1')), want: 'can only access leases in the "kube-node-lease" system namespace' },
    { name: 'a node may record events', a: () => attrs('CREATE', 'events', { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e', namespace: 'ns' } }) },
    { name: 'a node may not update a claim outside its status', a: () => attrs('UPDATE', 'persistentvolumeclaims', { metadata: { name: 'c', namespace: 'ns' } }, { old: { metadata: { name: 'c', namespace: 'ns' } } }), want: 'may only update PVC status' },
    { name: 'a node may request a token bound to its own pod', a: async () => {
      const p = await stores.pods.get({ namespace: 'ns', name: 'on-n1' });
      return attrs('CREATE', 'serviceaccounts', { kind: 'TokenRequest', metadata: { name: 'default', namespace: 'ns' }, spec: { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'on-n1', uid: p.metadata.uid } } }, { sub: 'token' });
    } },
    { name: 'a node may not request a token bound to a pod on another node', a: async () => {
      const p = await stores.pods.get({ namespace: 'ns', name: 'on-n2' });
      return attrs('CREATE', 'serviceaccounts', { kind: 'TokenRequest', metadata: { name: 'default', namespace: 'ns' }, spec: { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'on-n2', uid: p.metadata.uid } } }, { sub: 'token' });
    }, want: 'node requested token bound to a pod scheduled on a different node' },
    { name: 'a node may not request a token not bound to a pod', a: () => attrs('CREATE', 'serviceaccounts', { kind: 'TokenRequest', metadata: { name: 'default', namespace: 'ns' }, spec: {} }, { sub: 'token' }), want: 'node requested token not bound to a pod' },
    { name: 'an ordinary user is not restricted', a: () => attrs('CREATE', 'nodes', node('n2'), { user: alice }) },
    { name: 'the server\'s own writes are not restricted', a: () => attrs('CREATE', 'pods', pod('x', 'n2'), { user: undefined }) },
    { name: 'a system:node: user outside system:nodes is not restricted', a: () => attrs('CREATE', 'nodes', node('n2'), { user: { username: 'system:node:n1', groups: [] } }) },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const p = nodeRestriction.validate!(await c.a());
      if (!c.want) {
        await p;
        return;
      }
      const want = typeof c.want === 'function' ? c.want() : c.want;
      await assert.rejects(Promise.resolve(p), (e: unknown) => {
        assert.ok(e instanceof StatusError, String(e));
        assert.equal(e.code, 403);
        assert.ok(e.message.endsWith(want), `${e.message} should end with ${want}`);
        return true;
      });
    });
  }
});

describe('forbiddenNodeLabels', () => {
  const cases: [string, Record<string, string>, Record<string, string>, string[]][] = [
    ['unchanged restricted labels are allowed', { 'node-role.kubernetes.io/a': '' }, { 'node-role.kubernetes.io/a': '' }, []],
    ['kubelet.kubernetes.io labels are allowed', { 'kubelet.kubernetes.io/x': '1', 'a.kubelet.kubernetes.io/y': '1' }, {}, []],
    ['unknown kubernetes.io labels are forbidden', { 'kubernetes.io/role': 'master', 'sub.k8s.io/z': '1' }, {}, ['kubernetes.io/role', 'sub.k8s.io/z']],
    ['labels without a prefix are allowed', { role: 'db' }, {}, []],
  ];
  for (const [name, labels, old, want] of cases) test(name, () => assert.deepEqual(forbiddenNodeLabels(labels, old), want));
});

describe('NodeRestriction through a real API server', () => {
  let server: CSRTestServer;
  before(async () => {
    server = await startCSRTestServer({ admission: [nodeRestriction] });
    await server.admin.create(resources.namespaces, undefined, { metadata: { name: 'ns' } });
  });
  after(async () => {
    await server?.stop();
  });

  test('a kubelet creating an ordinary pod is refused with upstream\'s message, and may register only its own Node', async () => {
    const kubelet = await server.clientFor('system:node:n1', ['system:nodes']);
    await assert.rejects(kubelet.create(resources.pods, 'ns', pod('x', 'n1')), (e: unknown) => e instanceof StatusError && e.code === 403 && e.message === 'pods "x" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods');
    await kubelet.create(resources.nodes, undefined, node('n1', { 'kubernetes.io/hostname': 'n1' }));
    await assert.rejects(kubelet.create(resources.nodes, undefined, node('n2')), /node "n1" is not allowed to modify node "n2"/);
    await assert.rejects(kubelet.patch(resources.nodes, undefined, 'n1', { metadata: { labels: { 'node-role.kubernetes.io/control-plane': '' } } }), /is not allowed to modify labels: node-role.kubernetes.io\/control-plane/);
    const admin = await server.admin.patch(resources.nodes, undefined, 'n1', { metadata: { labels: { 'node-role.kubernetes.io/control-plane': '' } } });
    assert.equal(admin.metadata.labels['node-role.kubernetes.io/control-plane'], '', 'an admin may set it');
  });
});
