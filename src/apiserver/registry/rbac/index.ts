/** The rbac.authorization.k8s.io/v1 kinds. */
import type { Strategy } from '../generic/strategy.js';
import { clusterRoleBindingStrategy } from './clusterrolebindings/strategy.js';
import { clusterRoleStrategy } from './clusterroles/strategy.js';
import { roleBindingStrategy } from './rolebindings/strategy.js';
import { roleStrategy } from './roles/strategy.js';

export { clusterRoleBindingStrategy, clusterRoleStrategy, roleBindingStrategy, roleStrategy };

/** ClusterRoles, ClusterRoleBindings, Roles and RoleBindings, in upstream's discovery order. */
export function rbacStrategies(): Strategy[] {
  return [clusterRoleBindingStrategy(), clusterRoleStrategy(), roleBindingStrategy(), roleStrategy()];
}
