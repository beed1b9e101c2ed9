/**
 * Validation of rbac.authorization.k8s.io/v1 kinds (upstream's pkg/apis/rbac/validation), with
 * upstream's messages. Names of roles and bindings are path segments, validated generically.
 */
import { field, type FieldError } from '../errors.js';
import { isDNS1123Subdomain, isPathSegmentName } from './identifiers.js';
import { child, index, list, semanticEqual, validateLabelSelector, type Obj } from './helpers.js';

const rbacGroupName = 'rbac.authorization.k8s.io';

/** Upstream's ValidatePolicyRule; `namespaced` for Roles (no nonResourceURLs there). */
export function validatePolicyRule(rule: Obj, namespaced: boolean, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (list(rule?.verbs).length === 0) errs.push(field.required(child(path, 'verbs'), 'verbs must contain at least one value'));
  const urls = list(rule?.nonResourceURLs);
  if (urls.length > 0) {
    if (namespaced) errs.push(field.invalid(child(path, 'nonResourceURLs'), urls, 'namespaced rules cannot apply to non-resource URLs'));
    if (list(rule?.apiGroups).length > 0 || list(rule?.resources).length > 0 || list(rule?.resourceNames).length > 0) {
      errs.push(field.invalid(child(path, 'nonResourceURLs'), urls, 'rules cannot apply to both regular resources and non-resource URLs'));
    }
    return errs;
  }
  if (list(rule?.apiGroups).length === 0) errs.push(field.required(child(path, 'apiGroups'), 'resource rules must supply at least one api group'));
  if (list(rule?.resources).length === 0) errs.push(field.required(child(path, 'resources'), 'resource rules must supply at least one resource'));
  return errs;
}

function validateRules(rules: unknown, namespaced: boolean): FieldError[] {
  return list(rules).flatMap((r, i) => validatePolicyRule(r, namespaced, index('rules', i)));
}

/** A Role's rules. */
export function validateRole(role: Obj): FieldError[] {
  return validateRules(role.rules, true);
}

/** A ClusterRole's rules and aggregationRule. */
export function validateClusterRole(role: Obj): FieldError[] {
  const errs = validateRules(role.rules, false);
  const agg = role.aggregationRule;
  if (agg !== undefined && agg !== null) {
    const sels = list(agg.clusterRoleSelectors);
    if (sels.length === 0) errs.push(field.required('aggregationRule.clusterRoleSelectors', 'at least one clusterRoleSelector required if aggregationRule is non-nil'));
    sels.forEach((s, i) => errs.push(...validateLabelSelector(s, index('aggregationRule.clusterRoleSelectors', i))));
  }
  return errs;
}

/** Upstream's ValidateRoleBindingSubject; `namespaced` for RoleBindings. */
export function validateRoleBindingSubject(s: Obj, namespaced: boolean, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = typeof s?.name === 'string' ? s.name : '';
  if (!name) errs.push(field.required(child(path, 'name'), ''));
  switch (s?.kind) {
    case 'ServiceAccount':
      if (name) for (const m of isDNS1123Subdomain(name)) errs.push(field.invalid(child(path, 'name'), name, m));
      if (s.apiGroup) errs.push(field.notSupported(child(path, 'apiGroup'), s.apiGroup, ['']));
      if (!namespaced && !s.namespace) errs.push(field.required(child(path, 'namespace'), ''));
      break;
    case 'User':
    case 'Group':
      if (s.apiGroup !== rbacGroupName) errs.push(field.notSupported(child(path, 'apiGroup'), s.apiGroup ?? '', [rbacGroupName]));
      break;
    default:
      errs.push(field.notSupported(child(path, 'kind'), s?.kind ?? '', ['ServiceAccount', 'User', 'Group']));
  }
  return errs;
}

function validateRoleRef(ref: Obj | undefined, kinds: string[]): FieldError[] {
  const errs: FieldError[] = [];
  const apiGroup = ref?.apiGroup ?? '';
  if (apiGroup !== rbacGroupName) errs.push(field.notSupported('roleRef.apiGroup', apiGroup, [rbacGroupName]));
  const kind = ref?.kind ?? '';
  if (!kinds.includes(kind)) errs.push(field.notSupported('roleRef.kind', kind, kinds));
  const name = typeof ref?.name === 'string' ? ref.name : '';
  if (!name) errs.push(field.required('roleRef.name', ''));
  else for (const m of isPathSegmentName(name)) errs.push(field.invalid('roleRef.name', name, m));
  return errs;
}

/** A RoleBinding: roleRef to a Role or ClusterRole, and its subjects. */
export function validateRoleBinding(rb: Obj): FieldError[] {
  const errs = validateRoleRef(rb.roleRef, ['Role', 'ClusterRole']);
  list(rb.subjects).forEach((s, i) => errs.push(...validateRoleBindingSubject(s, true, index('subjects', i))));
  return errs;
}

/** A ClusterRoleBinding: roleRef to a ClusterRole; service-account subjects name their namespace. */
export function validateClusterRoleBinding(crb: Obj): FieldError[] {
  const errs = validateRoleRef(crb.roleRef, ['ClusterRole']);
  list(crb.subjects).forEach((s, i) => errs.push(...validateRoleBindingSubject(s, false, index('subjects', i))));
  return errs;
}

/** roleRef may not change (upstream's ValidateRoleBindingUpdate / ValidateClusterRoleBindingUpdate). */
export function validateRoleRefUpdate(obj: Obj, old: Obj): FieldError[] {
  return semanticEqual(obj.roleRef, old.roleRef) ? [] : [field.invalid('roleRef', obj.roleRef, 'cannot change roleRef')];
}
