import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compactRules, compactString, covers, ruleAllows, type PolicyRule, type RuleRequest } from './rules.js';

const res = (verb: string, apiGroup: string, resource: string, subresource = '', name = ''): RuleRequest => ({ verb, isResourceRequest: true, path: '', apiGroup, resource, subresource, name });
const url = (verb: string, path: string): RuleRequest => ({ verb, isResourceRequest: false, path, apiGroup: '', resource: '', subresource: '', name: '' });

describe('ruleAllows', () => {
  const cases: { name: string; rule: PolicyRule; req: RuleRequest; want: boolean }[] = [
    { name: 'an exact verb, group and resource match', rule: { verbs: ['get'], apiGroups: [''], resources: ['pods'] }, req: res('get', '', 'pods'), want: true },
    { name: 'a different verb does not match', rule: { verbs: ['get'], apiGroups: [''], resources: ['pods'] }, req: res('list', '', 'pods'), want: false },
    { name: 'the verb wildcard matches any verb', rule: { verbs: ['*'], apiGroups: [''], resources: ['pods'] }, req: res('deletecollection', '', 'pods'), want: true },
    { name: 'a different group does not match', rule: { verbs: ['get'], apiGroups: [''], resources: ['deployments'] }, req: res('get', 'apps', 'deployments'), want: false },
    { name: 'the group wildcard matches any group', rule: { verbs: ['get'], apiGroups: ['*'], resources: ['deployments'] }, req: res('get', 'apps', 'deployments'), want: true },
    { name: 'the resource wildcard matches a subresource too', rule: { verbs: ['get'], apiGroups: [''], resources: ['*'] }, req: res('get', '', 'pods', 'log'), want: true },
    { name: 'a plain resource does not grant its subresources', rule: { verbs: ['create'], apiGroups: [''], resources: ['pods'] }, req: res('create', '', 'pods', 'exec'), want: false },
    { name: 'pods/exec grants exactly that subresource', rule: { verbs: ['create'], apiGroups: [''], resources: ['pods/exec'] }, req: res('create', '', 'pods', 'exec'), want: true },
    { name: 'pods/exec does not grant pods', rule: { verbs: ['create'], apiGroups: [''], resources: ['pods/exec'] }, req: res('create', '', 'pods'), want: false },
    { name: '*/scale grants the scale subresource of any resource', rule: { verbs: ['update'], apiGroups: ['apps'], resources: ['*/scale'] }, req: res('update', 'apps', 'deployments', 'scale'), want: true },
    { name: '*/scale does not grant another subresource', rule: { verbs: ['update'], apiGroups: ['apps'], resources: ['*/scale'] }, req: res('update', 'apps', 'deployments', 'status'), want: false },
    { name: 'as upstream, pods/* is no wildcard for subresources', rule: { verbs: ['get'], apiGroups: [''], resources: ['pods/*'] }, req: res('get', '', 'pods', 'log'), want: false },
    { name: 'listed resource names allow that name', rule: { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] }, req: res('get', '', 'configmaps', '', 'a'), want: true },
    { name: 'listed resource names refuse another name', rule: { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] }, req: res('get', '', 'configmaps', '', 'b'), want: false },
    { name: 'listed resource names never match a list without a name', rule: { verbs: ['list'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] }, req: res('list', '', 'configmaps'), want: false },
    { name: 'listed resource names never match a create without a name', rule: { verbs: ['create'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] }, req: res('create', '', 'configmaps'), want: false },
    { name: 'empty resource names allow every name', rule: { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: [] }, req: res('get', '', 'configmaps', '', 'z'), want: true },
    { name: 'a non-resource URL matches exactly', rule: { verbs: ['get'], nonResourceURLs: ['/healthz'] }, req: url('get', '/healthz'), want: true },
    { name: 'a non-resource URL does not match a longer path', rule: { verbs: ['get'], nonResourceURLs: ['/healthz'] }, req: url('get', '/healthz/etcd'), want: false },
    { name: 'a trailing star matches by prefix', rule: { verbs: ['get'], nonResourceURLs: ['/healthz*'] }, req: url('get', '/healthz/etcd'), want: true },
    { name: 'the URL wildcard matches every path', rule: { verbs: ['get'], nonResourceURLs: ['*'] }, req: url('get', '/logs'), want: true },
    { name: 'a resource rule never matches a non-resource request', rule: { verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, req: url('get', '/version'), want: false },
    { name: 'a non-resource rule never matches a resource request', rule: { verbs: ['*'], nonResourceURLs: ['*'] }, req: res('get', '', 'pods'), want: false },
  ];
  for (const c of cases) it(c.name, () => assert.equal(ruleAllows(c.req, c.rule), c.want));
});

describe('covers', () => {
  const cases: { name: string; owner: PolicyRule[]; req: PolicyRule[]; covered: boolean; missing?: string[] }[] = [
    { name: 'full authority covers anything', owner: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], req: [{ verbs: ['get', 'list'], apiGroups: ['apps', ''], resources: ['deployments', 'pods/exec'] }], covered: true },
    { name: 'rules are covered piecewise by several owner rules', owner: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, { verbs: ['list'], apiGroups: [''], resources: ['pods'] }], req: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }], covered: true },
    { name: 'a missing verb is reported', owner: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }], req: [{ verbs: ['get', 'delete'], apiGroups: [''], resources: ['pods'] }], covered: false, missing: ['{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}'] },
    { name: 'a name-restricted owner rule does not cover an unrestricted one', owner: [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'], resourceNames: ['a'] }], req: [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'] }], covered: false },
    { name: 'a name-restricted owner rule covers the same name', owner: [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'], resourceNames: ['a'] }], req: [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'], resourceNames: ['a'] }], covered: true },
    { name: 'a subresource wildcard covers a named subresource', owner: [{ verbs: ['update'], apiGroups: ['apps'], resources: ['*/scale'] }], req: [{ verbs: ['update'], apiGroups: ['apps'], resources: ['deployments/scale'] }], covered: true },
    { name: 'a URL prefix covers a longer URL', owner: [{ verbs: ['get'], nonResourceURLs: ['/api/*'] }], req: [{ verbs: ['get'], nonResourceURLs: ['/api/v1'] }], covered: true },
    { name: 'resource rules do not cover URLs', owner: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], req: [{ verbs: ['get'], nonResourceURLs: ['/logs'] }], covered: false, missing: ['{NonResourceURLs:["/logs"], Verbs:["get"]}'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = covers(c.owner, c.req);
      assert.equal(got.covered, c.covered);
      if (c.missing) assert.deepEqual(compactRules(got.missing).map(compactString), c.missing);
    });
  }

  it('compacting merges the verbs of one group and resource into one rule as upstream prints it', () => {
    const got = covers([], [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }]);
    assert.deepEqual(compactRules(got.missing).map(compactString), ['{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}']);
  });
});
