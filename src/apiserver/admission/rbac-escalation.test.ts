import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../api/errors.js';
import { pollUntil } from '../../base/sleep.js';
import type { UserInfo } from '../auth/authenticator.js';
import { UnionAuthorizer, privilegedGroupsAuthorizer } from '../auth/authorizer.js';
import { RBACAuthorizer } from '../auth/rbac/rbac-authorizer.js';
import { binding, rbacTestStores, role } from '../auth/rbac/testing.js';
import type { KObject } from '../registry/generic/strategy.js';
import { cachedReader, type AdmissionAttributes } from './index.js';
import { rbacEscalation } from './rbac-escalation.js';

const alice: UserInfo = { username: 'alice', groups: ['system:authenticated'] };
const lead: UserInfo = { username: 'lead', groups: ['system:authenticated'] };
const root: UserInfo = { username: 'root', groups: ['system:masters', 'system:authenticated'] };

describe('rbacEscalation', () => {
  const t = rbacTestStores();
  const rbac = new RBACAuthorizer(t.lookup);
  const chain = new UnionAuthorizer([privilegedGroupsAuthorizer, rbac]);
  const plugin = rbacEscalation(chain);
  const store = (r: string) => t.lookup('rbac.authorization.k8s.io', r)!;

  before(async () => {
    // alice may read pods and manage roles and rolebindings in "dev", nothing more.
    await store('clusterroles').create('', role('pod-reader', [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }]));
    await store('clusterroles').create('', role('secret-reader', [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'] }]));
    await store('clusterroles').create('', role('rbac-manager', [{ verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'] }]));
    await store('clusterroles').create('', role('may-bind-secret-reader', [{ verbs: ['bind'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], resourceNames: ['secret-reader'] }]));
    await store('clusterroles').create('', role('may-escalate', [{ verbs: ['escalate'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'] }]));
    for (const r of ['pod-reader', 'rbac-manager']) await store('rolebindings').create('dev', binding(`alice-${r}`, 'ClusterRole', r, [{ kind: 'User', name: 'alice' }], 'dev'));
    for (const r of ['rbac-manager', 'may-bind-secret-reader', 'may-escalate']) await store('rolebindings').create('dev', binding(`lead-${r}`, 'ClusterRole', r, [{ kind: 'User', name: 'lead' }], 'dev'));
    rbac.start();
    await rbac.synced;
  });
  after(async () => {
    rbac.stop();
    await t.close();
  });

  function attrs(resource: string, object: KObject, user: UserInfo | undefined, oldObject?: KObject): AdmissionAttributes {
    return {
      operation: oldObject ? 'UPDATE' : 'CREATE',
      object,
      oldObject,
      store: store(resource),
      lookup: t.lookup,
      cached: cachedReader(t.lookup),
      user,
      subresource: '',
      dryRun: false,
      warn: () => {},
      annotate: () => {},
    };
  }

  const podRead = [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }];
  const secretRead = [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['secrets'] }];

  const cases: { name: string; a: () => AdmissionAttributes; error?: string | RegExp }[] = [
    { name: 'a user may create a Role with rules it holds', a: () => attrs('roles', role('r', podRead, 'dev'), alice) },
    {
      name: 'a user may not create a Role with rules it lacks, and the message lists them as upstream',
      a: () => attrs('roles', role('r', secretRead, 'dev'), alice),
      error: 'roles.rbac.authorization.k8s.io "r" is forbidden: user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}',
    },
    { name: 'rules held in one namespace do not count in another', a: () => attrs('roles', role('r', podRead, 'prod'), alice), error: /attempting to grant RBAC permissions not currently held/ },
    { name: 'a user with escalate on roles may create any Role', a: () => attrs('roles', role('r', secretRead, 'dev'), lead) },
    { name: 'namespaced rules do not allow a ClusterRole', a: () => attrs('clusterroles', role('c', podRead), alice), error: /not currently held/ },
    { name: 'system:masters may create any ClusterRole', a: () => attrs('clusterroles', role('c', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]), root) },
    { name: 'the server itself (no user) is not checked', a: () => attrs('clusterroles', role('c', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]), undefined) },
    { name: 'a user may bind a role whose rules it holds', a: () => attrs('rolebindings', binding('b', 'ClusterRole', 'pod-reader', [{ kind: 'User', name: 'x' }], 'dev'), alice) },
    {
      name: 'a user may not bind a role whose rules it lacks',
      a: () => attrs('rolebindings', binding('b', 'ClusterRole', 'secret-reader', [{ kind: 'User', name: 'x' }], 'dev'), alice),
      error: 'rolebindings.rbac.authorization.k8s.io "b" is forbidden: user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}',
    },
    { name: 'a user with bind on the named role may bind it without holding its rules', a: () => attrs('rolebindings', binding('b', 'ClusterRole', 'secret-reader', [{ kind: 'User', name: 'x' }], 'dev'), lead) },
    { name: 'bind on one role does not allow binding another', a: () => attrs('rolebindings', binding('b', 'ClusterRole', 'rbac-manager', [{ kind: 'User', name: 'x' }], 'prod'), lead), error: /not currently held/ },
    { name: 'binding a missing role is not found', a: () => attrs('rolebindings', binding('b', 'ClusterRole', 'nope', [], 'dev'), alice), error: 'clusterroles.rbac.authorization.k8s.io "nope" not found' },
    {
      name: 'an update that only changes ownerReferences is not checked',
      a: () => {
        const old = role('r', secretRead, 'dev');
        const obj = structuredClone(old);
        obj.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'o', uid: '1' }];
        return attrs('roles', obj, alice, old);
      },
    },
    {
      name: 'an update that adds rules the user lacks is refused',
      a: () => {
        const old = role('r', podRead, 'dev');
        return attrs('roles', { ...old, rules: [...podRead, ...secretRead] }, alice, old);
      },
      error: /not currently held/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const p = Promise.resolve(plugin.validate!(c.a()));
      if (!c.error) return void (await p);
      await assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof StatusError);
        if (typeof c.error === 'string') assert.equal(e.message, c.error);
        else assert.match(e.message, c.error!);
        return true;
      });
    });
  }

  it('allows an aggregationRule to a user with escalate and refuses it to one without full authority', async () => {
    await store('clusterroles').create('', role('cr-escalator', [{ verbs: ['escalate', 'create'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'] }]));
    // With escalate the rules are not compared, so an aggregated role passes (as upstream).
    await store('clusterrolebindings').create('', binding('bob-esc', 'ClusterRole', 'cr-escalator', [{ kind: 'User', name: 'bob' }]));
    const bob: UserInfo = { username: 'bob', groups: ['system:authenticated'] };
    const agg = { ...role('agg', []), aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: 'y' } }] } };
    await pollUntil(() => rbac.authorize({ user: bob, verb: 'escalate', isResourceRequest: true, path: '', namespace: '', apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1', resource: 'clusterroles', subresource: '', name: 'agg' }).decision === 'allow', { timeoutMs: 5000 });
    await plugin.validate!(attrs('clusterroles', agg, bob));
    await assert.rejects(Promise.resolve(plugin.validate!(attrs('clusterroles', agg, alice))), { message: 'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin privileges to use the aggregationRule' });
  });
});
