import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil } from '../../../base/sleep.js';
import type { AuthorizationAttributes } from '../authorizer.js';
import type { UserInfo } from '../authenticator.js';
import { RBACAuthorizer } from './rbac-authorizer.js';
import { binding, rbacTestStores, role } from './testing.js';

const alice: UserInfo = { username: 'alice', groups: ['system:authenticated'] };
const devs: UserInfo = { username: 'bob', groups: ['devs', 'system:authenticated'] };
const sa: UserInfo = { username: 'system:serviceaccount:team:builder', groups: ['system:serviceaccounts', 'system:serviceaccounts:team', 'system:authenticated'] };
const nobody: UserInfo = { username: 'mallory', groups: ['system:authenticated'] };

function req(user: UserInfo, verb: string, resource: string, namespace = '', extra: Partial<AuthorizationAttributes> = {}): AuthorizationAttributes {
  return { user, verb, isResourceRequest: true, path: '', namespace, apiGroup: '', apiVersion: 'v1', resource, subresource: '', name: '', ...extra };
}
function pathReq(user: UserInfo, verb: string, path: string): AuthorizationAttributes {
  return { user, verb, isResourceRequest: false, path, namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '' };
}

describe('RBACAuthorizer', () => {
  const t = rbacTestStores();
  const z = new RBACAuthorizer(t.lookup);
  const store = (r: string) => t.lookup('rbac.authorization.k8s.io', r)!;

  before(async () => {
    await store('clusterroles').create('', role('pod-reader', [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods'] }]));
    await store('clusterroles').create('', role('health', [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/logs/*'] }]));
    await store('clusterroles').create('', role('one-cm', [{ verbs: ['get', 'update'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['settings'] }]));
    await store('roles').create('team', role('deployer', [{ verbs: ['*'], apiGroups: ['apps'], resources: ['deployments', 'deployments/scale'] }], 'team'));
    await store('clusterrolebindings').create('', binding('alice-health', 'ClusterRole', 'health', [{ kind: 'User', name: 'alice' }]));
    await store('rolebindings').create('team', binding('devs-read', 'ClusterRole', 'pod-reader', [{ kind: 'Group', name: 'devs' }], 'team'));
    await store('rolebindings').create('team', binding('builder', 'Role', 'deployer', [{ kind: 'ServiceAccount', name: 'builder' }], 'team'));
    await store('rolebindings').create('team', binding('alice-cm', 'ClusterRole', 'one-cm', [{ kind: 'User', name: 'alice' }], 'team'));
    await store('rolebindings').create('team', binding('dangling', 'ClusterRole', 'missing', [{ kind: 'User', name: 'mallory' }], 'team'));
    z.start();
    await z.synced;
  });
  after(async () => {
    z.stop();
    await t.close();
  });

  const cases: { name: string; a: () => AuthorizationAttributes; allow: boolean }[] = [
    { name: 'a ClusterRole bound by a RoleBinding grants it in that namespace', a: () => req(devs, 'list', 'pods', 'team'), allow: true },
    { name: 'a ClusterRole bound by a RoleBinding does not grant it in another namespace', a: () => req(devs, 'list', 'pods', 'other'), allow: false },
    { name: 'a ClusterRole bound by a RoleBinding does not grant it cluster-wide', a: () => req(devs, 'list', 'pods'), allow: false },
    { name: 'a verb the role lacks is not granted', a: () => req(devs, 'delete', 'pods', 'team'), allow: false },
    { name: 'a ServiceAccount subject without namespace means the binding namespace', a: () => req(sa, 'update', 'deployments', 'team', { apiGroup: 'apps', subresource: 'scale' }), allow: true },
    { name: 'a ServiceAccount subject does not match a same-named account elsewhere', a: () => req({ ...sa, username: 'system:serviceaccount:other:builder' }, 'get', 'deployments', 'team', { apiGroup: 'apps' }), allow: false },
    { name: 'resourceNames grant the named object', a: () => req(alice, 'update', 'configmaps', 'team', { name: 'settings' }), allow: true },
    { name: 'resourceNames do not grant another object', a: () => req(alice, 'get', 'configmaps', 'team', { name: 'other' }), allow: false },
    { name: 'resourceNames do not grant a list', a: () => req(alice, 'list', 'configmaps', 'team'), allow: false },
    { name: 'a non-resource URL is granted exactly', a: () => pathReq(alice, 'get', '/healthz'), allow: true },
    { name: 'a non-resource URL prefix rule grants paths under it', a: () => pathReq(alice, 'get', '/logs/kubelet.log'), allow: true },
    { name: 'a non-resource URL is not granted to other users', a: () => pathReq(nobody, 'get', '/healthz'), allow: false },
    { name: 'a binding to a missing role grants nothing', a: () => req(nobody, 'get', 'pods', 'team'), allow: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = z.authorize(c.a());
      assert.equal(r.decision, c.allow ? 'allow' : 'noOpinion');
    });
  }

  it('explains an allow with the binding, role and subject as upstream does', () => {
    assert.equal(z.authorize(req(devs, 'get', 'pods', 'team')).reason, 'RBAC: allowed by RoleBinding "devs-read/team" of ClusterRole "pod-reader" to Group "devs"');
    assert.equal(z.authorize(pathReq(alice, 'get', '/healthz')).reason, 'RBAC: allowed by ClusterRoleBinding "alice-health" of ClusterRole "health" to User "alice"');
  });

  it('reports a missing role as the reason of a no-opinion', () => {
    assert.equal(z.authorize(req(nobody, 'get', 'pods', 'team')).reason, 'RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found');
  });

  it('lists the rules a user holds in a namespace, split into resource and non-resource rules', () => {
    const r = z.rulesFor(alice, 'team');
    assert.deepEqual(r.nonResourceRules, [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/logs/*'] }]);
    assert.deepEqual(r.resourceRules, [{ verbs: ['get', 'update'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['settings'] }]);
    assert.equal(r.incomplete, false);
    const m = z.rulesFor(nobody, 'team');
    assert.equal(m.incomplete, true);
    assert.match(m.evaluationError ?? '', /"missing" not found/);
  });

  it('follows binding changes: a deleted binding stops granting and a new one starts', async () => {
    await store('rolebindings').delete({ namespace: 'team', name: 'devs-read' });
    await pollUntil(() => z.authorize(req(devs, 'list', 'pods', 'team')).decision === 'noOpinion', { timeoutMs: 5000 });
    await store('clusterrolebindings').create('', binding('devs-read-all', 'ClusterRole', 'pod-reader', [{ kind: 'Group', name: 'devs' }]));
    await pollUntil(() => z.authorize(req(devs, 'list', 'pods', 'other')).decision === 'allow', { timeoutMs: 5000 });
  });

  it('decides in a few microseconds with thousands of bindings (micro-benchmark)', async () => {
    const n = 2000;
    for (let i = 0; i < n; i++) {
      await store('rolebindings').create(`ns${i % 50}`, binding(`b${i}`, 'ClusterRole', 'pod-reader', [{ kind: 'User', name: `user${i}` }, { kind: 'Group', name: `group${i % 100}` }], `ns${i % 50}`));
    }
    await pollUntil(() => z.roleBindings.size >= n, { timeoutMs: 20000 });
    const user: UserInfo = { username: 'user1999', groups: ['group7', 'system:authenticated'] };
    const allowReq = req(user, 'get', 'pods', 'ns49');
    const denyReq = req(user, 'delete', 'pods', 'ns49');
    assert.equal(z.authorize(allowReq).decision, 'allow');
    const iters = 200_000;
    for (const [label, a] of [['allow', allowReq], ['no opinion', denyReq]] as const) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < iters; i++) z.authorize(a);
      const ns = Number(process.hrtime.bigint() - t0) / iters;
      console.log(`# RBAC authorize (${label}), ${n} rolebindings: ${ns.toFixed(0)} ns/decision`);
      assert.ok(ns < 20_000, `${label} took ${ns} ns`);
    }
  });
});
