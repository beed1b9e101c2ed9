import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../errors.js';
import { validateClusterRole, validateClusterRoleBinding, validateRole, validateRoleBinding, validateRoleRefUpdate } from './rbac.js';

const g = 'rbac.authorization.k8s.io';
const r = (errs: ReturnType<typeof validateRole>) => errs.map(fieldErrorString);
const ref = (kind: string, name = 'view', apiGroup = g) => ({ kind, name, apiGroup });

describe('RBAC validation', () => {
  const cases: { name: string; got: () => string[]; want: string[] }[] = [
    { name: 'a role with a complete resource rule is valid', got: () => r(validateRole({ rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }] })), want: [] },
    { name: 'a rule needs verbs', got: () => r(validateRole({ rules: [{ apiGroups: [''], resources: ['pods'] }] })), want: ['rules[0].verbs: Required value: verbs must contain at least one value'] },
    {
      name: 'a resource rule needs api groups and resources',
      got: () => r(validateClusterRole({ rules: [{ verbs: ['get'] }] })),
      want: ['rules[0].apiGroups: Required value: resource rules must supply at least one api group', 'rules[0].resources: Required value: resource rules must supply at least one resource'],
    },
    { name: 'a ClusterRole may hold non-resource URLs', got: () => r(validateClusterRole({ rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }] })), want: [] },
    { name: 'a Role may not hold non-resource URLs', got: () => r(validateRole({ rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }] })), want: ['rules[0].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs'] },
    {
      name: 'a rule may not mix resources and non-resource URLs',
      got: () => r(validateClusterRole({ rules: [{ verbs: ['get'], nonResourceURLs: ['/x'], resources: ['pods'] }] })),
      want: ['rules[0].nonResourceURLs: Invalid value: ["/x"]: rules cannot apply to both regular resources and non-resource URLs'],
    },
    { name: 'an aggregationRule needs a selector', got: () => r(validateClusterRole({ aggregationRule: {} })), want: ['aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil'] },
    { name: 'a RoleBinding may reference a ClusterRole', got: () => r(validateRoleBinding({ roleRef: ref('ClusterRole'), subjects: [{ kind: 'User', name: 'a', apiGroup: g }] })), want: [] },
    { name: 'a ClusterRoleBinding may not reference a Role', got: () => r(validateClusterRoleBinding({ roleRef: ref('Role') })), want: ['roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"'] },
    { name: 'a roleRef must be in the RBAC group', got: () => r(validateRoleBinding({ roleRef: ref('Role', 'x', 'example.com') })), want: ['roleRef.apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io"'] },
    { name: 'a roleRef needs a name', got: () => r(validateRoleBinding({ roleRef: ref('Role', '') })), want: ['roleRef.name: Required value'] },
    { name: 'a roleRef name is a path segment', got: () => r(validateRoleBinding({ roleRef: ref('Role', 'a/b') })), want: ['roleRef.name: Invalid value: "a/b": may not contain \'/\''] },
    {
      name: 'an unknown subject kind is refused',
      got: () => r(validateRoleBinding({ roleRef: ref('Role'), subjects: [{ kind: 'Robot', name: 'r' }] })),
      want: ['subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"'],
    },
    { name: 'a User subject must name the RBAC group', got: () => r(validateRoleBinding({ roleRef: ref('Role'), subjects: [{ kind: 'User', name: 'u', apiGroup: 'x' }] })), want: ['subjects[0].apiGroup: Unsupported value: "x": supported values: "rbac.authorization.k8s.io"'] },
    { name: 'a ServiceAccount subject must be in the core group', got: () => r(validateRoleBinding({ roleRef: ref('Role'), subjects: [{ kind: 'ServiceAccount', name: 'sa', apiGroup: g }] })), want: ['subjects[0].apiGroup: Unsupported value: "rbac.authorization.k8s.io": supported values: ""'] },
    { name: 'a ServiceAccount subject of a RoleBinding may omit its namespace', got: () => r(validateRoleBinding({ roleRef: ref('Role'), subjects: [{ kind: 'ServiceAccount', name: 'sa' }] })), want: [] },
    { name: 'a ServiceAccount subject of a ClusterRoleBinding needs its namespace', got: () => r(validateClusterRoleBinding({ roleRef: ref('ClusterRole'), subjects: [{ kind: 'ServiceAccount', name: 'sa' }] })), want: ['subjects[0].namespace: Required value'] },
    { name: 'a subject needs a name', got: () => r(validateRoleBinding({ roleRef: ref('Role'), subjects: [{ kind: 'Group', apiGroup: g }] })), want: ['subjects[0].name: Required value'] },
    { name: 'roleRef cannot change on update', got: () => r(validateRoleRefUpdate({ roleRef: ref('ClusterRole', 'edit') }, { roleRef: ref('ClusterRole', 'view') })), want: ['roleRef: Invalid value: {"kind":"ClusterRole","name":"edit","apiGroup":"rbac.authorization.k8s.io"}: cannot change roleRef'] },
    { name: 'an unchanged roleRef is a valid update', got: () => r(validateRoleRefUpdate({ roleRef: ref('ClusterRole') }, { roleRef: ref('ClusterRole') })), want: [] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(c.got(), c.want));
});
