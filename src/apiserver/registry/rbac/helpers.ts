/** Defaulting and table cells the four rbac.authorization.k8s.io/v1 kinds share. */
import type { KObject, TableColumn } from '../generic/strategy.js';
import { age, ageColumn, ageDescription, col, nameColumn } from '../strategy-helpers.js';

/** The RBAC API group. */
export const rbacGroup = 'rbac.authorization.k8s.io';

/** Upstream's SetDefaults_RoleBinding/ClusterRoleBinding and SetDefaults_Subject. */
export function defaultBinding(obj: KObject): void {
  if (obj.roleRef && typeof obj.roleRef === 'object' && !obj.roleRef.apiGroup) obj.roleRef.apiGroup = rbacGroup;
  if (!Array.isArray(obj.subjects)) return;
  for (const s of obj.subjects) {
    if (s && typeof s === 'object' && !s.apiGroup && (s.kind === 'User' || s.kind === 'Group')) s.apiGroup = rbacGroup;
  }
}

/** NAME, CREATED AT: how kubectl lists Roles and ClusterRoles. */
export const roleTable = {
  columns: [nameColumn(), col('Created At', 'date', ageDescription)] as TableColumn[],
  cells: (obj: KObject): unknown[] => [obj.metadata?.name ?? '', obj.metadata?.creationTimestamp ?? null],
};

/** Users, groups and service accounts of a binding (upstream's SubjectsStrings). */
export function subjectsStrings(subjects: unknown): { users: string[]; groups: string[]; sas: string[] } {
  const out = { users: [] as string[], groups: [] as string[], sas: [] as string[] };
  for (const s of Array.isArray(subjects) ? subjects : []) {
    if (s?.kind === 'User') out.users.push(s.name);
    else if (s?.kind === 'Group') out.groups.push(s.name);
    else if (s?.kind === 'ServiceAccount') out.sas.push(s.namespace ? `${s.namespace}/${s.name}` : s.name);
  }
  return out;
}

/** NAME ROLE AGE, wide USERS GROUPS SERVICEACCOUNTS: how kubectl lists bindings. */
export function bindingTable(roleRefDescription: string) {
  return {
    columns: [
      nameColumn(),
      col('Role', 'string', roleRefDescription),
      ageColumn(),
      col('Users', 'string', 'Users in the roleBinding', 1),
      col('Groups', 'string', 'Groups in the roleBinding', 1),
      col('ServiceAccounts', 'string', 'ServiceAccounts in the roleBinding', 1),
    ] as TableColumn[],
    cells: (obj: KObject, now: Date): unknown[] => {
      const s = subjectsStrings(obj.subjects);
      return [obj.metadata?.name ?? '', `${obj.roleRef?.kind ?? ''}/${obj.roleRef?.name ?? ''}`, age(obj, now), s.users.join(', '), s.groups.join(', '), s.sas.join(', ')];
    },
  };
}
