import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil } from '../../base/sleep.js';
import { setLogLevel } from '../../base/log.js';
import { SharedInformerFactory } from '../../client/informer.js';
import type { KObject, ResourceRef, RestClient } from '../../client/rest-client.js';
import { StatusError } from '../../api/errors.js';
import { aggregatedRules, ClusterRoleAggregationController, clusterRolesResource } from './clusterrole-aggregation-controller.js';
import { startRBACTestServer, type RBACTestServer } from './testdata/rbac-server.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');

const cr = (name: string, labels: Record<string, string>, rules: KObject[], aggregationRule?: KObject): KObject => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name, labels },
  rules,
  ...(aggregationRule ? { aggregationRule } : {}),
});
const get = (res: string) => ({ verbs: ['get'], apiGroups: [''], resources: [res] });
const sel = (...labels: string[]) => ({ clusterRoleSelectors: labels.map((l) => ({ matchLabels: { [l]: 'true' } })) });

describe('aggregatedRules', () => {
  const cases: { name: string; role: KObject; all: KObject[]; want: KObject[] }[] = [
    { name: 'a role matching nothing aggregates no rules', role: cr('agg', {}, [], sel('a')), all: [cr('x', { b: 'true' }, [get('pods')])], want: [] },
    {
      name: 'matched roles contribute in name order and duplicates appear once',
      role: cr('agg', {}, [], sel('a')),
      all: [cr('zz', { a: 'true' }, [get('secrets'), get('pods')]), cr('aa', { a: 'true' }, [get('pods')])],
      want: [get('pods'), get('secrets')],
    },
    {
      name: 'selectors are taken in order',
      role: cr('agg', {}, [], sel('second', 'first')),
      all: [cr('a', { first: 'true' }, [get('a')]), cr('b', { second: 'true' }, [get('b')])],
      want: [get('b'), get('a')],
    },
    { name: 'a role never aggregates itself', role: cr('agg', { a: 'true' }, [get('stale')], sel('a')), all: [cr('agg', { a: 'true' }, [get('stale')])], want: [] },
    {
      name: 'matchExpressions select too',
      role: cr('agg', {}, [], { clusterRoleSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['x', 'y'] }] }] }),
      all: [cr('p', { tier: 'y' }, [get('pods')]), cr('q', { tier: 'z' }, [get('nodes')])],
      want: [get('pods')],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(aggregatedRules(c.role, c.all), c.want));
});

describe('ClusterRoleAggregationController against an in-process API server with RBAC', () => {
  let srv: RBACTestServer;
  let kcm: RestClient;
  let informers: SharedInformerFactory;
  const ctrl = new ClusterRoleAggregationController({ workers: 2 });
  const ssar: ResourceRef = { group: 'authorization.k8s.io', version: 'v1', resource: 'selfsubjectaccessreviews', namespaced: false };
  const rolebindings: ResourceRef = { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'rolebindings', namespaced: true };

  before(async () => {
    srv = await startRBACTestServer();
    // The controller runs as the controller manager, not as system:masters: its bootstrap role must suffice.
    kcm = await srv.clientFor('system:kube-controller-manager');
    informers = new SharedInformerFactory(kcm);
    await ctrl.start({ client: kcm, informers, recorder: () => ({}) as any });
  });
  after(async () => {
    await ctrl.stop();
    await informers.shutdown();
    await srv.stop();
  });

  const rulesOf = async (name: string) => (await srv.admin.get(clusterRolesResource, '', name)).rules ?? [];
  const has = (rules: KObject[], resource: string) => rules.some((r) => r.resources?.includes(resource));

  it('pulls a new aggregate-to-view role into view, and through the chain into edit and admin', async () => {
    await srv.admin.create(clusterRolesResource, undefined, cr('widgets-view', { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' }, [{ verbs: ['get', 'list'], apiGroups: ['example.com'], resources: ['widgets'] }]));
    for (const name of ['view', 'edit', 'admin']) await pollUntil(async () => has(await rulesOf(name), 'widgets'), { timeoutMs: 10000, what: `${name} has widgets` });
    assert.ok(has(await rulesOf('view'), 'pods'), 'view keeps its own aggregated rules');
  });

  it('removes the rules again when the contributing role goes away', async () => {
    await srv.admin.delete(clusterRolesResource, undefined, 'widgets-view');
    for (const name of ['view', 'edit', 'admin']) await pollUntil(async () => !has(await rulesOf(name), 'widgets'), { timeoutMs: 10000, what: `${name} lost widgets` });
  });

  it('keeps a custom aggregated role in line with label changes', async () => {
    await srv.admin.create(clusterRolesResource, undefined, cr('monitoring', {}, [], sel('example.com/aggregate-to-monitoring')));
    await srv.admin.create(clusterRolesResource, undefined, cr('metrics-reader', {}, [{ verbs: ['get'], nonResourceURLs: ['/metrics'] }]));
    const cur = await srv.admin.get(clusterRolesResource, '', 'metrics-reader');
    await srv.admin.update(clusterRolesResource, { ...cur, metadata: { ...cur.metadata, labels: { 'example.com/aggregate-to-monitoring': 'true' } } });
    await pollUntil(async () => (await rulesOf('monitoring')).some((r: KObject) => r.nonResourceURLs?.includes('/metrics')), { timeoutMs: 10000 });
  });

  it('lets a namespace admin grant view but not cluster-admin, with upstream\'s message', async () => {
    await srv.admin.create({ group: '', version: 'v1', resource: 'namespaces', namespaced: false }, undefined, { metadata: { name: 'team' } });
    await srv.admin.create(rolebindings, 'team', { metadata: { name: 'alice-admin' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' }, subjects: [{ kind: 'User', name: 'alice' }] });
    const alice = await srv.clientFor('alice');
    await pollUntil(async () => (await alice.create(ssar, undefined, { spec: { resourceAttributes: { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', namespace: 'team' } } })).status.allowed, { timeoutMs: 5000 });
    await alice.create(rolebindings, 'team', { metadata: { name: 'bob-view' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'bob' }] });
    await assert.rejects(
      alice.create(rolebindings, 'team', { metadata: { name: 'bob-root' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'User', name: 'bob' }] }),
      (e: unknown) => {
        assert.ok(e instanceof StatusError && e.code === 403, String(e));
        assert.match(e.message, /^rolebindings\.rbac\.authorization\.k8s\.io "bob-root" is forbidden: user "alice" \(groups=\["system:authenticated"\]\) is attempting to grant RBAC permissions not currently held:\n\{APIGroups:\["\*"\], Resources:\["\*"\], Verbs:\["\*"\]\}\n\{NonResourceURLs:\["\*"\], Verbs:\["\*"\]\}$/);
        return true;
      },
    );
    const bob = await srv.clientFor('bob');
    await pollUntil(async () => (await bob.create(ssar, undefined, { spec: { resourceAttributes: { verb: 'list', resource: 'pods', namespace: 'team' } } })).status.allowed, { timeoutMs: 5000 });
    const secrets = await bob.create(ssar, undefined, { spec: { resourceAttributes: { verb: 'get', resource: 'secrets', namespace: 'team' } } });
    assert.equal(secrets.status.allowed, false);
  });

  it('forbids a user without bindings with upstream\'s message', async () => {
    const carol = await srv.clientFor('carol');
    await assert.rejects(carol.list({ group: '', version: 'v1', resource: 'pods', namespaced: true }, 'team'), (e: unknown) => {
      assert.ok(e instanceof StatusError && e.code === 403);
      assert.equal(e.message, 'pods is forbidden: User "carol" cannot list resource "pods" in API group "" in the namespace "team"');
      return true;
    });
  });
});
