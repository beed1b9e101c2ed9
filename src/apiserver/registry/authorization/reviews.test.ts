import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../../api/errors.js';
import type { VirtualResource, VirtualResourceContext } from '../../apiserver.js';
import type { UserInfo } from '../../auth/authenticator.js';
import { UnionAuthorizer, privilegedGroupsAuthorizer } from '../../auth/authorizer.js';
import { reconcileBootstrapPolicy } from '../../auth/rbac/bootstrap-policy.js';
import { RBACAuthorizer } from '../../auth/rbac/rbac-authorizer.js';
import { binding, rbacTestStores } from '../../auth/rbac/testing.js';
import type { KObject } from '../generic/strategy.js';
import { accessReviewResources } from './reviews.js';

const alice: UserInfo = { username: 'alice', groups: ['system:authenticated'] };

describe('access reviews', () => {
  const t = rbacTestStores();
  const rbac = new RBACAuthorizer(t.lookup);
  const authorizer = new UnionAuthorizer([privilegedGroupsAuthorizer, rbac]);
  const byName = new Map(accessReviewResources().map((v) => [v.info.resource, v] as [string, VirtualResource]));
  const create = (resource: string, body: KObject, namespace = '', user: UserInfo = alice) => {
    const ctx: VirtualResourceContext = { body, user, namespace, stores: t.lookup, authorizer, dryRun: false };
    return byName.get(resource)!.create(ctx);
  };

  before(async () => {
    await reconcileBootstrapPolicy(t.lookup);
    await t.lookup('rbac.authorization.k8s.io', 'rolebindings')!.create('dev', binding('alice-view', 'ClusterRole', 'view', [{ kind: 'User', name: 'alice' }], 'dev'));
    rbac.start();
    await rbac.synced;
  });
  after(async () => {
    rbac.stop();
    await t.close();
  });

  it('serves the four review kinds as create-only, with LocalSubjectAccessReview namespaced', () => {
    assert.deepEqual(
      [...byName.values()].map((v) => [v.info.resource, v.info.kind, v.info.namespaced, v.info.verbs]),
      [
        ['localsubjectaccessreviews', 'LocalSubjectAccessReview', true, ['create']],
        ['selfsubjectaccessreviews', 'SelfSubjectAccessReview', false, ['create']],
        ['selfsubjectrulesreviews', 'SelfSubjectRulesReview', false, ['create']],
        ['subjectaccessreviews', 'SubjectAccessReview', false, ['create']],
      ],
    );
  });

  const ra = (verb: string, resource: string, namespace = 'dev', extra: KObject = {}) => ({ spec: { resourceAttributes: { verb, resource, namespace, ...extra } } });
  const allowedCases: { name: string; resource: string; body: KObject; namespace?: string; allowed: boolean; reason?: RegExp }[] = [
    { name: 'kubectl auth can-i get pods answers yes in a namespace the user views', resource: 'selfsubjectaccessreviews', body: ra('get', 'pods'), allowed: true, reason: /RBAC: allowed by RoleBinding "alice-view\/dev"/ },
    { name: 'kubectl auth can-i get secrets answers no for a viewer', resource: 'selfsubjectaccessreviews', body: ra('get', 'secrets'), allowed: false },
    { name: 'kubectl auth can-i get pods --subresource=log answers yes for a viewer', resource: 'selfsubjectaccessreviews', body: ra('get', 'pods', 'dev', { subresource: 'log' }), allowed: true },
    { name: 'kubectl auth can-i create pods --subresource=exec answers no for a viewer', resource: 'selfsubjectaccessreviews', body: ra('create', 'pods', 'dev', { subresource: 'exec' }), allowed: false },
    { name: 'a non-resource URL the user may get answers yes', resource: 'selfsubjectaccessreviews', body: { spec: { nonResourceAttributes: { verb: 'get', path: '/version' } } }, allowed: true },
    { name: 'a non-resource URL like /logs answers no without a rule', resource: 'selfsubjectaccessreviews', body: { spec: { nonResourceAttributes: { verb: 'get', path: '/logs' } } }, allowed: false },
    { name: 'a SubjectAccessReview asks about another user', resource: 'subjectaccessreviews', body: { spec: { user: 'alice', groups: ['system:authenticated'], resourceAttributes: { verb: 'list', resource: 'pods', namespace: 'dev' } } }, allowed: true },
    { name: 'a SubjectAccessReview for system:masters allows anything', resource: 'subjectaccessreviews', body: { spec: { user: 'x', groups: ['system:masters'], resourceAttributes: { verb: 'delete', resource: 'nodes' } } }, allowed: true },
    { name: 'a LocalSubjectAccessReview defaults the namespace from the URL', resource: 'localsubjectaccessreviews', body: { spec: { user: 'alice', resourceAttributes: { verb: 'get', resource: 'pods' } } }, namespace: 'dev', allowed: true },
    { name: 'a LocalSubjectAccessReview answers within its namespace only', resource: 'localsubjectaccessreviews', body: { spec: { user: 'alice', resourceAttributes: { verb: 'get', resource: 'pods' } } }, namespace: 'prod', allowed: false },
  ];
  for (const c of allowedCases) {
    it(c.name, async () => {
      const out = await create(c.resource, c.body, c.namespace ?? '');
      assert.equal(out.status.allowed, c.allowed);
      assert.equal(out.status.denied, undefined);
      if (c.reason) assert.match(out.status.reason, c.reason);
      assert.deepEqual(out.spec.resourceAttributes?.verb ?? out.spec.nonResourceAttributes?.verb, c.body.spec.resourceAttributes?.verb ?? c.body.spec.nonResourceAttributes?.verb);
    });
  }

  const errorCases: { name: string; resource: string; body: KObject; namespace?: string; code: number; message: string }[] = [
    {
      name: 'a SubjectAccessReview without user or groups is invalid with upstream wording',
      resource: 'subjectaccessreviews',
      body: { spec: { resourceAttributes: { verb: 'get', resource: 'pods' } } },
      code: 422,
      message: 'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group must be specified',
    },
    {
      name: 'a review without attributes is invalid',
      resource: 'selfsubjectaccessreviews',
      body: { spec: {} },
      code: 422,
      message: 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified',
    },
    {
      name: 'a review with both kinds of attributes is invalid',
      resource: 'selfsubjectaccessreviews',
      body: { spec: { resourceAttributes: { verb: 'get' }, nonResourceAttributes: { verb: 'get', path: '/x' } } },
      code: 422,
      message: 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid value: {"verb":"get","path":"/x"}: cannot be specified in combination with resourceAttributes',
    },
    {
      name: 'a review with a name is invalid',
      resource: 'selfsubjectaccessreviews',
      body: { metadata: { name: 'x' }, spec: { resourceAttributes: { verb: 'get' } } },
      code: 422,
      message: 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: metadata: Invalid value: {"name":"x"}: must be empty',
    },
    {
      name: 'a LocalSubjectAccessReview for another namespace than its URL is invalid',
      resource: 'localsubjectaccessreviews',
      body: { spec: { user: 'a', resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'other' } } },
      namespace: 'dev',
      code: 422,
      message: 'LocalSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes.namespace: Invalid value: "other": must match metadata.namespace',
    },
    {
      name: 'a LocalSubjectAccessReview whose metadata namespace differs from the URL is a bad request',
      resource: 'localsubjectaccessreviews',
      body: { metadata: { namespace: 'other' }, spec: { user: 'a', resourceAttributes: { verb: 'get', resource: 'pods' } } },
      namespace: 'dev',
      code: 400,
      message: 'spec.resourceAttributes.namespace must match namespace: dev',
    },
    {
      name: 'a LocalSubjectAccessReview may not ask about non-resource URLs',
      resource: 'localsubjectaccessreviews',
      body: { spec: { user: 'a', nonResourceAttributes: { verb: 'get', path: '/x' } } },
      namespace: 'dev',
      code: 422,
      message: 'LocalSubjectAccessReview.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid value: {"verb":"get","path":"/x"}: disallowed on this kind of request',
    },
    { name: 'a SelfSubjectRulesReview needs a namespace', resource: 'selfsubjectrulesreviews', body: { spec: {} }, code: 400, message: 'no namespace on request' },
  ];
  for (const c of errorCases) {
    it(c.name, async () => {
      await assert.rejects(create(c.resource, c.body, c.namespace ?? ''), (e: unknown) => {
        assert.ok(e instanceof StatusError);
        assert.equal(e.code, c.code);
        assert.equal(e.message, c.message);
        return true;
      });
    });
  }

  it('lists the caller\'s rules in a namespace for kubectl auth can-i --list', async () => {
    const out = await create('selfsubjectrulesreviews', { spec: { namespace: 'dev' } });
    assert.equal(out.status.incomplete, false);
    assert.ok(out.status.resourceRules.some((r: KObject) => r.resources.includes('selfsubjectaccessreviews') && r.verbs.includes('create')));
    assert.ok(out.status.resourceRules.some((r: KObject) => r.resources.includes('pods') && r.verbs.includes('list')));
    assert.ok(out.status.nonResourceRules.some((r: KObject) => r.nonResourceURLs.includes('/api/*')));
    const other = await create('selfsubjectrulesreviews', { spec: { namespace: 'prod' } });
    assert.ok(!other.status.resourceRules.some((r: KObject) => r.resources.includes('pods')));
  });

  it('lists everything for system:masters', async () => {
    const out = await create('selfsubjectrulesreviews', { spec: { namespace: 'dev' } }, '', { username: 'root', groups: ['system:masters', 'system:authenticated'] });
    assert.deepEqual(out.status.resourceRules[0], { verbs: ['*'], apiGroups: ['*'], resources: ['*'] });
  });
});
