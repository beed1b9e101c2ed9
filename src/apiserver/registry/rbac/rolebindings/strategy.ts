/** rbac.authorization.k8s.io/v1 rolebindings: grant a Role or ClusterRole within one namespace. */
import { validateRoleBinding, validateRoleRefUpdate } from '../../../../api/validation/rbac.js';
import type { Strategy } from '../../generic/strategy.js';
import { bindingTable, defaultBinding, rbacGroup } from '../helpers.js';

/** The rolebindings strategy; roleRef is immutable. */
export function roleBindingStrategy(): Strategy {
  return {
    info: { group: rbacGroup, version: 'v1', resource: 'rolebindings', singular: 'rolebinding', kind: 'RoleBinding', namespaced: true },
    nameValidation: 'path-segment',
    defaults: defaultBinding,
    validate: validateRoleBinding,
    validateUpdate: (obj, old) => [...validateRoleBinding(obj), ...validateRoleRefUpdate(obj, old)],
    table: bindingTable(
      'RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.',
    ),
  };
}
