import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthorizationAttributes } from '../authorizer.js';
import type { UserInfo } from '../authenticator.js';
import { autoUpdateAnnotation, bootstrapPolicy, reconcileBootstrapPolicy } from './bootstrap-policy.js';
import { RBACAuthorizer } from './rbac-authorizer.js';
import { binding, rbacTestStores } from './testing.js';

const u = (username: string, ...groups: string[]): UserInfo => ({ username, groups: [...groups, 'system:authenticated'] });
const viewer = u('vera');
const editor = u('eddie');
const adminUser = u('ada');
const master = u('root', 'system:masters');
const anon: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] };

function res(user: UserInfo, verb: string, group: string, resource: string, namespace = 'app', subresource = ''): AuthorizationAttributes {
  return { user, verb, isResourceRequest: true, path: '', namespace, apiGroup: group, apiVersion: 'v1', resource, subresource, name: '' };
}
function url(user: UserInfo, path: string): AuthorizationAttributes {
  return { user, verb: 'get', isResourceRequest: false, path, namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '' };
}

describe('bootstrap policy', () => {
  const t = rbacTestStores();
  const z = new RBACAuthorizer(t.lookup);
  const store = (r: string) => t.lookup('rbac.authorization.k8s.io', r)!;

  before(async () => {
    await reconcileBootstrapPolicy(t.lookup);
    await store('rolebindings').create('app', binding('v', 'ClusterRole', 'view', [{ kind: 'User', name: 'vera' }], 'app'));
    await store('rolebindings').create('app', binding('e', 'ClusterRole', 'edit', [{ kind: 'User', name: 'eddie' }], 'app'));
    await store('rolebindings').create('app', binding('a', 'ClusterRole', 'admin', [{ kind: 'User', name: 'ada' }], 'app'));
    z.start();
    await z.synced;
  });
  after(async () => {
    z.stop();
    await t.close();
  });

  it('marks every object with the bootstrapping label and the autoupdate annotation', () => {
    const p = bootstrapPolicy();
    for (const o of [...p.clusterRoles, ...p.clusterRoleBindings]) {
      assert.equal(o.metadata.labels['kubernetes.io/bootstrapping'], 'rbac-defaults', o.metadata.name);
      assert.equal(o.metadata.annotations[autoUpdateAnnotation], 'true', o.metadata.name);
    }
  });

  it('makes admin, edit and view aggregated ClusterRoles', () => {
    const p = bootstrapPolicy();
    for (const name of ['admin', 'edit', 'view']) {
      const r = p.clusterRoles.find((x) => x.metadata.name === name)!;
      assert.deepEqual(r.aggregationRule, { clusterRoleSelectors: [{ matchLabels: { [`rbac.authorization.k8s.io/aggregate-to-${name}`]: 'true' } }] });
    }
  });

  const cases: { name: string; a: AuthorizationAttributes; allow: boolean }[] = [
    { name: 'view can read pods', a: res(viewer, 'get', '', 'pods'), allow: true },
    { name: 'view can read pod logs', a: res(viewer, 'get', '', 'pods', 'app', 'log'), allow: true },
    { name: 'view cannot read secrets', a: res(viewer, 'get', '', 'secrets'), allow: false },
    { name: 'view cannot exec into pods', a: res(viewer, 'create', '', 'pods', 'app', 'exec'), allow: false },
    { name: 'view cannot delete pods', a: res(viewer, 'delete', '', 'pods'), allow: false },
    { name: 'edit can create deployments', a: res(editor, 'create', 'apps', 'deployments'), allow: true },
    { name: 'edit can read secrets', a: res(editor, 'get', '', 'secrets'), allow: true },
    { name: 'edit can scale deployments', a: res(editor, 'update', 'apps', 'deployments', 'app', 'scale'), allow: true },
    { name: 'edit inherits view and can list endpointslices', a: res(editor, 'list', 'discovery.k8s.io', 'endpointslices'), allow: true },
    { name: 'edit cannot edit roles', a: res(editor, 'update', 'rbac.authorization.k8s.io', 'roles'), allow: false },
    { name: 'edit cannot create rolebindings', a: res(editor, 'create', 'rbac.authorization.k8s.io', 'rolebindings'), allow: false },
    { name: 'admin can create rolebindings in its namespace', a: res(adminUser, 'create', 'rbac.authorization.k8s.io', 'rolebindings'), allow: true },
    { name: 'admin can create local subject access reviews', a: res(adminUser, 'create', 'authorization.k8s.io', 'localsubjectaccessreviews'), allow: true },
    { name: 'admin inherits edit and view', a: res(adminUser, 'watch', 'batch', 'cronjobs'), allow: true },
    { name: 'admin cannot create rolebindings in another namespace', a: res(adminUser, 'create', 'rbac.authorization.k8s.io', 'rolebindings', 'other'), allow: false },
    { name: 'system:masters is cluster-admin everywhere', a: res(master, 'delete', 'example.com', 'widgets', ''), allow: true },
    { name: 'an authenticated user may discover APIs', a: url(viewer, '/apis/apps/v1'), allow: true },
    { name: 'an authenticated user may review its own access', a: res(viewer, 'create', 'authorization.k8s.io', 'selfsubjectaccessreviews', ''), allow: true },
    { name: 'an anonymous user may read the version', a: url(anon, '/version'), allow: true },
    { name: 'an anonymous user may check health', a: url(anon, '/readyz'), allow: true },
    { name: 'an anonymous user may not discover APIs', a: url(anon, '/api'), allow: false },
    { name: 'kube-proxy may watch endpointslices', a: res(u('system:kube-proxy'), 'watch', 'discovery.k8s.io', 'endpointslices', ''), allow: true },
    { name: 'kube-proxy may not read secrets', a: res(u('system:kube-proxy'), 'get', '', 'secrets'), allow: false },
    { name: 'the scheduler may bind pods', a: res(u('system:kube-scheduler'), 'create', '', 'pods', 'app', 'binding'), allow: true },
    { name: 'the scheduler may patch pod status', a: res(u('system:kube-scheduler'), 'patch', '', 'pods', 'app', 'status'), allow: true },
    { name: 'the scheduler may point a persistent volume at a claim (system:volume-scheduler)', a: res(u('system:kube-scheduler'), 'update', '', 'persistentvolumes', ''), allow: true },
    { name: 'the scheduler may annotate a claim with its selected node', a: res(u('system:kube-scheduler'), 'patch', '', 'persistentvolumeclaims', 'app'), allow: true },
    { name: 'the scheduler may not delete persistent volumes', a: res(u('system:kube-scheduler'), 'delete', '', 'persistentvolumes', ''), allow: false },
    { name: 'the controller manager may create replicasets', a: res(u('system:kube-controller-manager'), 'create', 'apps', 'replicasets'), allow: true },
    { name: 'the controller manager may delete anything (garbage collector)', a: res(u('system:kube-controller-manager'), 'delete', 'example.com', 'widgets'), allow: true },
    { name: 'the controller manager may escalate clusterroles (aggregation)', a: res(u('system:kube-controller-manager'), 'escalate', 'rbac.authorization.k8s.io', 'clusterroles', ''), allow: true },
    { name: 'bootstrappers may create node client CSRs', a: res(u('system:bootstrap:abc', 'system:bootstrappers'), 'create', 'certificates.k8s.io', 'certificatesigningrequests', '', 'nodeclient'), allow: true },
    { name: 'the DNS server may list services', a: res(u('system:k8ts-dns'), 'list', '', 'services', ''), allow: true },
    { name: 'the cloud controller may update service status', a: res(u('system:k8ts-cloud-controller'), 'update', '', 'services', 'app', 'status'), allow: true },
  ];
  for (const c of cases) it(c.name, () => assert.equal(z.authorize(c.a).decision, c.allow ? 'allow' : 'noOpinion'));

  it('writes nothing when reconciled again', async () => {
    const before = (await store('clusterroles').get({ namespace: '', name: 'system:node' })).metadata.resourceVersion;
    await reconcileBootstrapPolicy(t.lookup);
    assert.equal((await store('clusterroles').get({ namespace: '', name: 'system:node' })).metadata.resourceVersion, before);
  });

  it('adds back missing rules and subjects to autoupdate objects, keeping additions, and leaves others alone', async () => {
    const cr = structuredClone(await store('clusterroles').get({ namespace: '', name: 'system:discovery' }));
    cr.rules = [{ verbs: ['get'], nonResourceURLs: ['/metrics'] }];
    await store('clusterroles').update({ namespace: '', name: 'system:discovery' }, cr);
    const crb = structuredClone(await store('clusterrolebindings').get({ namespace: '', name: 'system:basic-user' }));
    crb.subjects = [];
    await store('clusterrolebindings').update({ namespace: '', name: 'system:basic-user' }, crb);
    const pinned = structuredClone(await store('clusterroles').get({ namespace: '', name: 'system:public-info-viewer' }));
    pinned.metadata.annotations[autoUpdateAnnotation] = 'false';
    pinned.rules = [{ verbs: ['get'], nonResourceURLs: ['/version'] }];
    await store('clusterroles').update({ namespace: '', name: 'system:public-info-viewer' }, pinned);

    await reconcileBootstrapPolicy(t.lookup);
    const rules = (await store('clusterroles').get({ namespace: '', name: 'system:discovery' })).rules;
    assert.deepEqual(rules[0], { verbs: ['get'], nonResourceURLs: ['/metrics'] });
    assert.ok(rules[1].nonResourceURLs.includes('/apis/*'));
    assert.deepEqual((await store('clusterrolebindings').get({ namespace: '', name: 'system:basic-user' })).subjects, [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:authenticated' }]);
    assert.deepEqual((await store('clusterroles').get({ namespace: '', name: 'system:public-info-viewer' })).rules, [{ verbs: ['get'], nonResourceURLs: ['/version'] }]);
  });
});
