import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../../api/errors.js';
import { rbacTestStores } from '../../auth/rbac/testing.js';
import { rbacStrategies } from './index.js';

const g = 'rbac.authorization.k8s.io';

describe('RBAC strategies', () => {
  const t = rbacTestStores();
  after(() => t.close());
  const store = (r: string) => t.lookup(g, r)!;

  it('serves the four kinds with upstream scopes', () => {
    assert.deepEqual(
      rbacStrategies().map((s) => [s.info.resource, s.info.kind, s.info.namespaced]),
      [
        ['clusterrolebindings', 'ClusterRoleBinding', false],
        ['clusterroles', 'ClusterRole', false],
        ['rolebindings', 'RoleBinding', true],
        ['roles', 'Role', true],
      ],
    );
  });

  it('defaults the roleRef and User/Group subject API group on create', async () => {
    const rb = await store('rolebindings').create('dev', {
      metadata: { name: 'b' },
      roleRef: { kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'User', name: 'alice' }, { kind: 'Group', name: 'devs' }, { kind: 'ServiceAccount', name: 'default' }],
    });
    assert.equal(rb.roleRef.apiGroup, g);
    assert.deepEqual(rb.subjects.map((s: any) => s.apiGroup), [g, g, undefined]);
  });

  it('refuses to change a binding\'s roleRef with upstream\'s message', async () => {
    const cur = await store('rolebindings').get({ namespace: 'dev', name: 'b' });
    await assert.rejects(store('rolebindings').update({ namespace: 'dev', name: 'b' }, { ...structuredClone(cur), roleRef: { apiGroup: g, kind: 'ClusterRole', name: 'edit' } }), (e: unknown) => {
      assert.ok(e instanceof StatusError && e.code === 422);
      assert.match(e.message, /^RoleBinding\.rbac\.authorization\.k8s\.io "b" is invalid: roleRef: Invalid value: .*: cannot change roleRef$/);
      return true;
    });
  });

  it('allows role names with colons, as path segments', async () => {
    const cr = await store('clusterroles').create('', { metadata: { name: 'system:thing' }, rules: [] });
    assert.equal(cr.metadata.name, 'system:thing');
  });

  const now = new Date('2026-01-01T01:00:00Z');
  const created = '2026-01-01T00:00:00Z';
  const tableCases: { name: string; resource: string; obj: any; columns: string[]; cells: unknown[] }[] = [
    { name: 'roles list NAME and CREATED AT', resource: 'roles', obj: { metadata: { name: 'r', creationTimestamp: created } }, columns: ['Name', 'Created At'], cells: ['r', created] },
    { name: 'clusterroles list NAME and CREATED AT', resource: 'clusterroles', obj: { metadata: { name: 'view', creationTimestamp: created } }, columns: ['Name', 'Created At'], cells: ['view', created] },
    {
      name: 'rolebindings list NAME ROLE AGE and wide USERS GROUPS SERVICEACCOUNTS',
      resource: 'rolebindings',
      obj: {
        metadata: { name: 'b', namespace: 'dev', creationTimestamp: created },
        roleRef: { kind: 'ClusterRole', name: 'view' },
        subjects: [{ kind: 'User', name: 'a' }, { kind: 'User', name: 'b' }, { kind: 'Group', name: 'g' }, { kind: 'ServiceAccount', name: 'sa', namespace: 'dev' }],
      },
      columns: ['Name', 'Role', 'Age', 'Users', 'Groups', 'ServiceAccounts'],
      cells: ['b', 'ClusterRole/view', '60m', 'a, b', 'g', 'dev/sa'],
    },
    {
      name: 'clusterrolebindings show the role as Kind/name',
      resource: 'clusterrolebindings',
      obj: { metadata: { name: 'cluster-admin', creationTimestamp: created }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'Group', name: 'system:masters' }] },
      columns: ['Name', 'Role', 'Age', 'Users', 'Groups', 'ServiceAccounts'],
      cells: ['cluster-admin', 'ClusterRole/cluster-admin', '60m', '', 'system:masters', ''],
    },
  ];
  for (const c of tableCases) {
    it(c.name, () => {
      const s = rbacStrategies().find((x) => x.info.resource === c.resource)!;
      assert.deepEqual(s.table!.columns.map((col) => col.name), c.columns);
      assert.deepEqual(s.table!.cells(c.obj, now), c.cells);
      if (c.columns.length === 6) assert.deepEqual(s.table!.columns.map((col) => col.priority), [0, 0, 0, 1, 1, 1]);
    });
  }
});
