/** rbac.authorization.k8s.io/v1 roles: namespaced rules. */
import { validateRole } from '../../../../api/validation/rbac.js';
import type { Strategy } from '../../generic/strategy.js';
import { rbacGroup, roleTable } from '../helpers.js';

/** The roles strategy. */
export function roleStrategy(): Strategy {
  return {
    info: { group: rbacGroup, version: 'v1', resource: 'roles', singular: 'role', kind: 'Role', namespaced: true },
    nameValidation: 'path-segment',
    validate: validateRole,
    validateUpdate: (obj) => validateRole(obj),
    table: roleTable,
  };
}
