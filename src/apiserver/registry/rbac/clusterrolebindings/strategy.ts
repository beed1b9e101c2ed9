/** rbac.authorization.k8s.io/v1 clusterrolebindings: grant a ClusterRole in every namespace. */
import { validateClusterRoleBinding, validateRoleRefUpdate } from '../../../../api/validation/rbac.js';
import type { Strategy } from '../../generic/strategy.js';
import { bindingTable, defaultBinding, rbacGroup } from '../helpers.js';

/** The clusterrolebindings strategy; roleRef is immutable. */
export function clusterRoleBindingStrategy(): Strategy {
  return {
    info: { group: rbacGroup, version: 'v1', resource: 'clusterrolebindings', singular: 'clusterrolebinding', kind: 'ClusterRoleBinding', namespaced: false },
    nameValidation: 'path-segment',
    defaults: defaultBinding,
    validate: validateClusterRoleBinding,
    validateUpdate: (obj, old) => [...validateClusterRoleBinding(obj), ...validateRoleRefUpdate(obj, old)],
    table: bindingTable(
      'RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.',
    ),
  };
}
