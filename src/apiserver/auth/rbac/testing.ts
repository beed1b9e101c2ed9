/** Test fixtures: in-memory RBAC stores and a lookup over them (used by tests only). */
import { SqliteBackend } from '../../../storage/sqlite/sqlite-backend.js';
import type { StoreLookup } from '../../admission/index.js';
import { Store } from '../../registry/generic/store.js';
import type { KObject } from '../../registry/generic/strategy.js';
import { rbacStrategies } from '../../registry/rbac/index.js';

/** Stores for the four RBAC kinds over one in-memory backend. */
export function rbacTestStores(): { lookup: StoreLookup; close(): Promise<void> } {
  const backend = SqliteBackend.open({ path: ':memory:' });
  const stores = new Map<string, Store>();
  for (const s of rbacStrategies()) stores.set(`${s.info.group}/${s.info.resource}`, new Store(s, backend));
  return { lookup: (g, r) => stores.get(`${g}/${r}`), close: () => backend.close() };
}

const g = 'rbac.authorization.k8s.io';

/** A ClusterRole or Role object. */
export function role(name: string, rules: KObject[], namespace?: string): KObject {
  return namespace
    ? { apiVersion: `${g}/v1`, kind: 'Role', metadata: { name, namespace }, rules }
    : { apiVersion: `${g}/v1`, kind: 'ClusterRole', metadata: { name }, rules };
}

/** A RoleBinding (with namespace) or ClusterRoleBinding. */
export function binding(name: string, roleKind: 'Role' | 'ClusterRole', roleName: string, subjects: KObject[], namespace?: string): KObject {
  return {
    apiVersion: `${g}/v1`,
    kind: namespace ? 'RoleBinding' : 'ClusterRoleBinding',
    metadata: namespace ? { name, namespace } : { name },
    roleRef: { apiGroup: g, kind: roleKind, name: roleName },
    subjects,
  };
}
