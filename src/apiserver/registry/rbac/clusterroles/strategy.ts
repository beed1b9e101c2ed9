/** rbac.authorization.k8s.io/v1 clusterroles: cluster-wide rules, optionally aggregated from other ClusterRoles. */
import { validateClusterRole } from '../../../../api/validation/rbac.js';
import type { Strategy } from '../../generic/strategy.js';
import { rbacGroup, roleTable } from '../helpers.js';

/** The clusterroles strategy. */
export function clusterRoleStrategy(): Strategy {
  return {
    info: { group: rbacGroup, version: 'v1', resource: 'clusterroles', singular: 'clusterrole', kind: 'ClusterRole', namespaced: false },
    nameValidation: 'path-segment',
    validate: validateClusterRole,
    validateUpdate: (obj) => validateClusterRole(obj),
    table: roleTable,
  };
}
