import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil } from '../../../base/sleep.js';
import { SqliteBackend } from '../../../storage/sqlite/sqlite-backend.js';
import type { Backend } from '../../../storage/interface.js';
import { Store } from '../../registry/generic/store.js';
import { podStrategy } from '../../registry/core/pods/strategy.js';
import type { KObject, Strategy } from '../../registry/generic/strategy.js';
import { UnionAuthorizer, privilegedGroupsAuthorizer, type AuthorizationAttributes, type AuthorizationResult, type Decision } from '../authorizer.js';
import type { UserInfo } from '../authenticator.js';
import { NodeAuthorizer, nodeIdentity } from './node-authorizer.js';

const pvcStrategy: Strategy = { info: { group: '', version: 'v1', resource: 'persistentvolumeclaims', singular: 'persistentvolumeclaim', kind: 'PersistentVolumeClaim', namespaced: true } };

const n1: UserInfo = { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };
const n2: UserInfo = { username: 'system:node:n2', groups: ['system:nodes', 'system:authenticated'] };

function attrs(user: UserInfo, verb: string, resource: string, namespace: string, name: string, subresource = '', apiGroup = ''): AuthorizationAttributes {
  return { user, verb, isResourceRequest: true, path: '', namespace, apiGroup, apiVersion: 'v1', resource, subresource, name };
}

/** A synced NodeAuthorizer decides synchronously; a promise here means it was not ready. */
function decided(r: AuthorizationResult | Promise<AuthorizationResult>): AuthorizationResult {
  assert.ok(!(r instanceof Promise), 'the synced authorizer answered asynchronously');
  return r;
}

function pod(name: string, nodeName: string | undefined, spec: KObject = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'ns' },
    spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }], ...spec },
  };
}

describe('NodeAuthorizer', () => {
  let backend: Backend;
  let pods: Store;
  let pvcs: Store;
  let authz: NodeAuthorizer;

  before(async () => {
    backend = SqliteBackend.open({ path: ':memory:' });
    pods = new Store(podStrategy(), backend);
    pvcs = new Store(pvcStrategy, backend);
    await pods.create('ns', pod('web', 'n1', {
      serviceAccountName: 'web-sa',
      imagePullSecrets: [{ name: 'pull' }],
      volumes: [
        { name: 'v1', secret: { secretName: 'vol-secret' } },
        { name: 'v2', configMap: { name: 'vol-cm' } },
        { name: 'v3', projected: { sources: [{ secret: { name: 'proj-secret' } }, { configMap: { name: 'proj-cm' } }] } },
        { name: 'v4', persistentVolumeClaim: { claimName: 'data' } },
      ],
      containers: [{
        name: 'c',
        image: 'busybox',
        env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'env-secret', key: 'k' } } }, { name: 'B', valueFrom: { configMapKeyRef: { name: 'env-cm', key: 'k' } } }],
        envFrom: [{ secretRef: { name: 'envfrom-secret' } }, { configMapRef: { name: 'envfrom-cm' } }],
      }],
      initContainers: [{ name: 'i', image: 'busybox', envFrom: [{ secretRef: { name: 'init-secret' } }] }],
    }));
    await pods.create('ns', pod('pending', undefined, { volumes: [{ name: 'v', secret: { secretName: 'unscheduled-secret' } }] }));
    await pvcs.create('ns', { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'ns' }, spec: { volumeName: 'pv-data' } });
    await pvcs.create('ns', { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'other', namespace: 'ns' }, spec: { volumeName: 'pv-other' } });
    authz = new NodeAuthorizer((g, r) => (g === '' && r === 'pods' ? pods : g === '' && r === 'persistentvolumeclaims' ? pvcs : undefined)).start();
    await authz.synced;
  });
  after(async () => {
    authz?.stop();
    await backend?.close();
  });

  const cases: { name: string; a: AuthorizationAttributes; want: Decision; reason?: string }[] = [
    { name: 'a node may get a secret mounted as a volume by a pod bound to it', a: attrs(n1, 'get', 'secrets', 'ns', 'vol-secret'), want: 'allow' },
    { name: 'a node may get an image pull secret of its pod', a: attrs(n1, 'get', 'secrets', 'ns', 'pull'), want: 'allow' },
    { name: 'a node may get a secret from a projected volume', a: attrs(n1, 'get', 'secrets', 'ns', 'proj-secret'), want: 'allow' },
    { name: 'a node may get a secret from an env secretKeyRef', a: attrs(n1, 'get', 'secrets', 'ns', 'env-secret'), want: 'allow' },
    { name: 'a node may get a secret from envFrom', a: attrs(n1, 'get', 'secrets', 'ns', 'envfrom-secret'), want: 'allow' },
    { name: 'a node may get a secret an init container references', a: attrs(n1, 'get', 'secrets', 'ns', 'init-secret'), want: 'allow' },
    { name: 'a node may watch a single referenced secret by name', a: attrs(n1, 'watch', 'secrets', 'ns', 'vol-secret'), want: 'allow' },
    { name: 'a node may get a configmap mounted as a volume', a: attrs(n1, 'get', 'configmaps', 'ns', 'vol-cm'), want: 'allow' },
    { name: 'a node may get a configmap from a projected volume', a: attrs(n1, 'get', 'configmaps', 'ns', 'proj-cm'), want: 'allow' },
    { name: 'a node may get a configmap from env and envFrom', a: attrs(n1, 'get', 'configmaps', 'ns', 'env-cm'), want: 'allow' },
    { name: 'a node may get a configmap from envFrom', a: attrs(n1, 'get', 'configmaps', 'ns', 'envfrom-cm'), want: 'allow' },
    { name: 'a node may get a claim its pod uses', a: attrs(n1, 'get', 'persistentvolumeclaims', 'ns', 'data'), want: 'allow' },
    { name: 'a node may get the volume bound to a claim its pod uses', a: attrs(n1, 'get', 'persistentvolumes', '', 'pv-data'), want: 'allow' },
    { name: 'a node may request a token for its pod\'s service account', a: attrs(n1, 'create', 'serviceaccounts', 'ns', 'web-sa', 'token'), want: 'allow' },
    { name: 'another node may not get that secret', a: attrs(n2, 'get', 'secrets', 'ns', 'vol-secret'), want: 'deny', reason: "no relationship found between node 'n2' and this object" },
    { name: 'a node may not get an unreferenced secret', a: attrs(n1, 'get', 'secrets', 'ns', 'unrelated'), want: 'deny', reason: "no relationship found between node 'n1' and this object" },
    { name: 'a node may not get a secret of the same name in another namespace', a: attrs(n1, 'get', 'secrets', 'other', 'vol-secret'), want: 'deny', reason: "no relationship found between node 'n1' and this object" },
    { name: 'a node may not get a secret of an unscheduled pod', a: attrs(n1, 'get', 'secrets', 'ns', 'unscheduled-secret'), want: 'deny' },
    { name: 'a node may not list secrets', a: attrs(n1, 'list', 'secrets', 'ns', ''), want: 'deny', reason: 'No Object name found' },
    { name: 'a node may not watch all configmaps', a: attrs(n1, 'watch', 'configmaps', '', ''), want: 'deny' },
    { name: 'a node may not update a referenced secret', a: attrs(n1, 'update', 'secrets', 'ns', 'vol-secret'), want: 'deny', reason: 'can only read resources of this type' },
    { name: 'a node may not get an unrelated volume', a: attrs(n1, 'get', 'persistentvolumes', '', 'pv-other'), want: 'deny' },
    { name: 'a node may not list volumes', a: attrs(n1, 'list', 'persistentvolumes', '', ''), want: 'deny', reason: 'can only get individual resources of this type' },
    { name: 'a node may not get an unrelated claim', a: attrs(n1, 'get', 'persistentvolumeclaims', 'ns', 'other'), want: 'deny' },
    { name: 'a node may not request a token for another service account', a: attrs(n1, 'create', 'serviceaccounts', 'ns', 'admin-sa', 'token'), want: 'deny' },
    { name: 'the node authorizer has no opinion on nodes', a: attrs(n1, 'update', 'nodes', '', 'n2'), want: 'noOpinion' },
    { name: 'the node authorizer has no opinion on pods', a: attrs(n1, 'list', 'pods', '', ''), want: 'noOpinion' },
    { name: 'the node authorizer has no opinion on reading service accounts', a: attrs(n1, 'get', 'serviceaccounts', 'ns', 'web-sa'), want: 'noOpinion' },
    { name: 'the node authorizer has no opinion on other groups', a: attrs(n1, 'get', 'leases', 'kube-node-lease', 'n1', '', 'coordination.k8s.io'), want: 'noOpinion' },
    { name: 'a user named like a node but outside system:nodes is not a node', a: attrs({ username: 'system:node:n1', groups: ['system:authenticated'] }, 'get', 'secrets', 'ns', 'unrelated'), want: 'noOpinion' },
    { name: 'an ordinary user is not a node', a: attrs({ username: 'alice', groups: ['system:nodes'] }, 'get', 'secrets', 'ns', 'unrelated'), want: 'noOpinion' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = decided(authz.authorize(c.a));
      assert.equal(got.decision, c.want, JSON.stringify(got));
      if (c.reason) assert.equal(got.reason, c.reason);
    });
  }

  test('access follows pods as they are bound, changed and deleted', async () => {
    // Pod volumes and nodeName are immutable through the pod strategy; a plain store lets the test change them.
    const plainPods = new Store({ info: { ...podStrategy().info } }, backend);
    const dyn = new NodeAuthorizer((g, r) => (g === '' && r === 'pods' ? plainPods : undefined)).start();
    try {
      await dyn.synced;
      const get = (name: string) => decided(dyn.authorize(attrs(n2, 'get', 'secrets', 'ns', name))).decision;
      await plainPods.create('ns', pod('a', 'n2', { volumes: [{ name: 'v', secret: { secretName: 'shared' } }, { name: 'w', secret: { secretName: 'only-a' } }] }));
      await plainPods.create('ns', pod('b', undefined, { volumes: [{ name: 'v', secret: { secretName: 'shared' } }, { name: 'w', secret: { secretName: 'only-b' } }] }));
      await pollUntil(() => get('shared') === 'allow', { timeoutMs: 5000 });
      assert.equal(get('only-b'), 'deny', 'pod b is not bound yet');
      await plainPods.guaranteedUpdate({ namespace: 'ns', name: 'b' }, (p) => ({ ...p, spec: { ...p.spec, nodeName: 'n2' } }));
      await pollUntil(() => get('only-b') === 'allow', { timeoutMs: 5000 });
      await plainPods.guaranteedUpdate({ namespace: 'ns', name: 'b' }, (p) => ({ ...p, spec: { ...p.spec, volumes: [{ name: 'v', secret: { secretName: 'shared' } }] } }));
      await pollUntil(() => get('only-b') === 'deny', { timeoutMs: 5000 });
      await plainPods.delete({ namespace: 'ns', name: 'a' });
      await pollUntil(() => get('only-a') === 'deny', { timeoutMs: 5000 });
      assert.equal(get('shared'), 'allow', 'pod b still references it');
      await plainPods.delete({ namespace: 'ns', name: 'b' });
      await pollUntil(() => get('shared') === 'deny', { timeoutMs: 5000 });
    } finally {
      dyn.stop();
    }
  });

  test('through a union with the privileged-groups authorizer, admins pass, nodes are decided here, and others get no opinion', async () => {
    const union = new UnionAuthorizer([privilegedGroupsAuthorizer, authz]);
    const admin: UserInfo = { username: 'admin', groups: ['system:masters'] };
    assert.equal((await union.authorize(attrs(admin, 'get', 'secrets', 'ns', 'unrelated'))).decision, 'allow');
    assert.equal((await union.authorize(attrs(n1, 'get', 'secrets', 'ns', 'vol-secret'))).decision, 'allow');
    const denied = await union.authorize(attrs(n1, 'get', 'secrets', 'ns', 'unrelated'));
    assert.deepEqual(denied, { decision: 'deny', reason: "no relationship found between node 'n1' and this object" });
    assert.equal((await union.authorize(attrs({ username: 'bob', groups: [] }, 'get', 'secrets', 'ns', 'vol-secret'))).decision, 'noOpinion');
  });
});

describe('NodeAuthorizer with static node rules', () => {
  test('requests outside the graph are allowed by the node rules, and graph decisions are not overridden', async () => {
    const backend = SqliteBackend.open({ path: ':memory:' });
    const pods = new Store(podStrategy(), backend);
    const authz = new NodeAuthorizer((g, r) => (g === '' && r === 'pods' ? pods : undefined), {
      nodeRules: (a) => (a.resource === 'nodes' && a.verb === 'get') || (a.resource === 'secrets' && a.verb === 'get'),
    }).start();
    try {
      await authz.synced;
      const cases: [string, AuthorizationAttributes, Decision][] = [
        ['a rule-covered request is allowed', attrs(n1, 'get', 'nodes', '', 'n1'), 'allow'],
        ['a request no rule covers gets no opinion', attrs(n1, 'delete', 'namespaces', '', 'x'), 'noOpinion'],
        ['an unrelated secret stays denied though a rule covers secrets', attrs(n1, 'get', 'secrets', 'ns', 'unrelated'), 'deny'],
        ['a non-node user gets no opinion', attrs({ username: 'bob', groups: [] }, 'get', 'nodes', '', 'n1'), 'noOpinion'],
      ];
      for (const [name, a, want] of cases) assert.equal(decided(authz.authorize(a)).decision, want, name);
    } finally {
      authz.stop();
      await backend.close();
    }
  });
});

describe('nodeIdentity', () => {
  const cases: [string, UserInfo, string | undefined][] = [
    ['a node user in system:nodes is that node', n1, 'n1'],
    ['a node user outside system:nodes is no node', { username: 'system:node:n1', groups: [] }, undefined],
    ['an empty node name is no node', { username: 'system:node:', groups: ['system:nodes'] }, undefined],
    ['another user in system:nodes is no node', { username: 'kubelet', groups: ['system:nodes'] }, undefined],
  ];
  for (const [name, user, want] of cases) test(name, () => assert.equal(nodeIdentity(user), want));
});
