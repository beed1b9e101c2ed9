/**
 * RBAC policy rules and how a request matches them (upstream's rbac/v1 helpers and RuleAllows),
 * plus the "covers" check escalation prevention uses.
 */
import type { AuthorizationAttributes } from '../authorizer.js';

/** rbac/v1 PolicyRule. */
export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** The rbac.authorization.k8s.io group name. */
export const rbacGroup = 'rbac.authorization.k8s.io';

/** A verb is `*` or listed. */
export function verbMatches(rule: PolicyRule, verb: string): boolean {
  for (const v of rule.verbs ?? []) if (v === '*' || v === verb) return true;
  return false;
}

/** An API group is `*` or listed. */
export function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  for (const g of rule.apiGroups ?? []) if (g === '*' || g === group) return true;
  return false;
}

/**
 * `*` matches every resource and subresource; `pods/exec` only itself; a star followed by `/scale`
 * matches that subresource of any resource. As upstream, `pods/*` is no wildcard: it matches nothing real.
 */
export function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  for (const r of rule.resources ?? []) {
    if (r === '*' || r === combined) return true;
    if (subresource && r.length === subresource.length + 2 && r.startsWith('*/') && r.endsWith(subresource)) return true;
  }
  return false;
}

/** Empty resourceNames allow every name; otherwise the (non-empty) request name must be listed. */
export function resourceNameMatches(rule: PolicyRule, name: string): boolean {
  const names = rule.resourceNames ?? [];
  if (names.length === 0) return true;
  for (const n of names) if (n === name) return true;
  return false;
}

/** `*`, an exact path, or a trailing-`*` prefix such as `/healthz/*`. */
export function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs ?? []) {
    if (u === '*' || u === path) return true;
    if (u.endsWith('*') && path.startsWith(u.replace(/\*+$/, ''))) return true;
  }
  return false;
}

/** The request attributes a rule is matched against. */
export type RuleRequest = Pick<AuthorizationAttributes, 'verb' | 'isResourceRequest' | 'path' | 'apiGroup' | 'resource' | 'subresource' | 'name'>;

/** Upstream's RuleAllows. */
export function ruleAllows(a: RuleRequest, rule: PolicyRule): boolean {
  if (a.isResourceRequest) {
    const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    return verbMatches(rule, a.verb) && apiGroupMatches(rule, a.apiGroup) && resourceMatches(rule, combined, a.subresource) && resourceNameMatches(rule, a.name);
  }
  return verbMatches(rule, a.verb) && nonResourceURLMatches(rule, a.path);
}

// ---- covers ------------------------------------------------------------------------------------

const has = (list: string[] | undefined, v: string): boolean => !!list && list.includes(v);
const hasAll = (list: string[] | undefined, vs: string[] | undefined): boolean => (vs ?? []).every((v) => has(list, v));

/** Upstream's BreakdownRule: one rule per group × resource × name × verb (or url × verb). */
export function breakdownRule(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  const verbs = rule.verbs ?? [];
  for (const g of rule.apiGroups ?? []) {
    for (const r of rule.resources ?? []) {
      for (const v of verbs) {
        if (rule.resourceNames?.length) for (const n of rule.resourceNames) out.push({ apiGroups: [g], resources: [r], resourceNames: [n], verbs: [v] });
        else out.push({ apiGroups: [g], resources: [r], verbs: [v] });
      }
    }
  }
  for (const u of rule.nonResourceURLs ?? []) for (const v of verbs) out.push({ nonResourceURLs: [u], verbs: [v] });
  return out;
}

function resourceCoversAll(owner: string[] | undefined, requested: string[] | undefined): boolean {
  if (has(owner, '*')) return true;
  for (const r of requested ?? []) {
    if (has(owner, r)) continue;
    // `*/status` in the owner covers `pods/status`.
    const slash = r.indexOf('/');
    if (slash >= 0 && has(owner, `*${r.slice(slash)}`)) continue;
    return false;
  }
  return true;
}

function nonResourceURLCovers(owner: string, requested: string): boolean {
  if (owner === requested) return true;
  return owner.endsWith('*') && requested.startsWith(owner.replace(/\*+$/, ''));
}

/** Upstream's ruleCovers: `owner` grants everything the rule `sub` does. */
export function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  const verbs = has(owner.verbs, '*') || hasAll(owner.verbs, sub.verbs);
  const groups = has(owner.apiGroups, '*') || hasAll(owner.apiGroups, sub.apiGroups);
  const resources = resourceCoversAll(owner.resources, sub.resources);
  const urls = (sub.nonResourceURLs ?? []).every((u) => (owner.nonResourceURLs ?? []).some((o) => nonResourceURLCovers(o, u)));
  const names = !owner.resourceNames?.length || (!!sub.resourceNames?.length && hasAll(owner.resourceNames, sub.resourceNames));
  return verbs && groups && resources && urls && names;
}

/** Upstream's Covers: whether `owner` holds every rule of `requested`, and which broken-down rules it lacks. */
export function covers(owner: PolicyRule[], requested: PolicyRule[]): { covered: boolean; missing: PolicyRule[] } {
  const missing: PolicyRule[] = [];
  for (const r of requested) {
    for (const sub of breakdownRule(r)) {
      if (!owner.some((o) => ruleCovers(o, sub))) missing.push(sub);
    }
  }
  return { covered: missing.length === 0, missing };
}

/** Upstream's CompactRules: simple single group/resource rules differing only in verbs become one. */
export function compactRules(rules: PolicyRule[]): PolicyRule[] {
  const simple = new Map<string, PolicyRule>();
  const out: PolicyRule[] = [];
  for (const r of rules) {
    if (!r.resourceNames?.length && !r.nonResourceURLs?.length && r.apiGroups?.length === 1 && r.resources?.length === 1) {
      const k = `${r.apiGroups[0]}\u0000${r.resources[0]}`;
      const have = simple.get(k);
      if (have) {
        for (const v of r.verbs) if (!have.verbs.includes(v)) have.verbs.push(v);
      } else {
        const c: PolicyRule = { apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] };
        simple.set(k, c);
        out.push(c);
      }
    } else out.push(r);
  }
  return out;
}

/** Go's `%q` of a []string: `["a" "b"]`. */
function goQuoteList(v: string[]): string {
  return `[${v.map((s) => JSON.stringify(s)).join(' ')}]`;
}

/** Upstream's CompactString: `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`. */
export function compactString(r: PolicyRule): string {
  const parts: string[] = [];
  if (r.apiGroups?.length) parts.push(`APIGroups:${goQuoteList(r.apiGroups)}`);
  if (r.resources?.length) parts.push(`Resources:${goQuoteList(r.resources)}`);
  if (r.nonResourceURLs?.length) parts.push(`NonResourceURLs:${goQuoteList(r.nonResourceURLs)}`);
  if (r.resourceNames?.length) parts.push(`ResourceNames:${goQuoteList(r.resourceNames)}`);
  if (r.verbs?.length) parts.push(`Verbs:${goQuoteList(r.verbs)}`);
  return `{${parts.join(', ')}}`;
}

/** The rules of a role object (`rules` as stored; never mutated). */
export function rulesOf(role: { rules?: unknown } | undefined): PolicyRule[] {
  return Array.isArray(role?.rules) ? (role.rules as PolicyRule[]) : [];
}
