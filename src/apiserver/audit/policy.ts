/**
 * Upstream's audit Policy (`audit.k8s.io/v1`, `kind: Policy`): ordered rules, the first match decides
 * the level of a request's events; no match means level None (not audited).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export type AuditLevel = 'None' | 'Metadata' | 'Request' | 'RequestResponse';
export type AuditStage = 'RequestReceived' | 'ResponseStarted' | 'ResponseComplete' | 'Panic';

export const auditLevels: readonly AuditLevel[] = ['None', 'Metadata', 'Request', 'RequestResponse'];
export const auditStages: readonly AuditStage[] = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'];

/** Resources of one API group a rule applies to. */
export interface AuditGroupResources {
  /** '' is the core group. */
  group?: string;
  /** Empty: every resource of the group. Forms: `pods`, `pods/log`, `*`, `*\/status`, `pods/*`. */
  resources?: string[];
  /** Empty: every object. */
  resourceNames?: string[];
}

export interface AuditPolicyRule {
  level: AuditLevel;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: AuditGroupResources[];
  /** '' selects cluster-scoped resources. */
  namespaces?: string[];
  /** Paths, `*`, or prefixes ending in `*`. */
  nonResourceURLs?: string[];
  omitStages?: AuditStage[];
  omitManagedFields?: boolean;
}

export interface AuditPolicy {
  rules: AuditPolicyRule[];
  omitStages?: AuditStage[];
  omitManagedFields?: boolean;
}

/** What a rule is matched against: the authenticated user and the request's attributes. */
export interface AuditAttributes {
  user: { username: string; groups: string[] };
  verb: string;
  isResourceRequest: boolean;
  /** The URL path (non-resource requests). */
  path: string;
  apiGroup: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
}

/** The outcome of evaluating a policy for one request. */
export interface AuditDecision {
  level: AuditLevel;
  /** Policy-wide and rule stages together. */
  omitStages: AuditStage[];
  omitManagedFields: boolean;
}

/** Read and validate a policy file. Throws an Error naming the file and the problem. */
export function loadAuditPolicy(path: string): AuditPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`audit policy ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseAuditPolicy(text);
  } catch (err) {
    throw new Error(`audit policy ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Parse and validate the text (YAML or JSON) of an audit Policy. Throws an Error on any problem. */
export function parseAuditPolicy(text: string): AuditPolicy {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new Error(`not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(doc)) throw new Error('the file must hold one audit Policy object');
  if (doc.kind !== 'Policy') throw new Error(`kind: must be "Policy", got ${JSON.stringify(doc.kind ?? '')}`);
  if (doc.apiVersion !== 'audit.k8s.io/v1') throw new Error(`apiVersion: must be "audit.k8s.io/v1", got ${JSON.stringify(doc.apiVersion ?? '')}`);
  const rules = doc.rules ?? [];
  if (!Array.isArray(rules)) throw new Error('rules: must be a list');
  const policy: AuditPolicy = { rules: rules.map((r, i) => parseRule(r, `rules[${i}]`)) };
  if (doc.omitStages !== undefined) policy.omitStages = stages(doc.omitStages, 'omitStages');
  if (doc.omitManagedFields !== undefined) policy.omitManagedFields = bool(doc.omitManagedFields, 'omitManagedFields');
  return policy;
}

function parseRule(r: unknown, at: string): AuditPolicyRule {
  if (!isObject(r)) throw new Error(`${at}: must be an object`);
  if (r.level === undefined || r.level === '') throw new Error(`${at}.level: Required value`);
  if (!auditLevels.includes(r.level as AuditLevel)) {
    throw new Error(`${at}.level: Unsupported value: ${JSON.stringify(r.level)}: supported values: ${auditLevels.map((l) => `"${l}"`).join(', ')}`);
  }
  const rule: AuditPolicyRule = { level: r.level as AuditLevel };
  for (const f of ['users', 'userGroups', 'verbs', 'namespaces', 'nonResourceURLs'] as const) {
    if (r[f] !== undefined && r[f] !== null) rule[f] = strings(r[f], `${at}.${f}`);
  }
  if (r.resources !== undefined && r.resources !== null) {
    if (!Array.isArray(r.resources)) throw new Error(`${at}.resources: must be a list`);
    rule.resources = r.resources.map((g, i) => parseGroupResources(g, `${at}.resources[${i}]`));
  }
  if (r.omitStages !== undefined) rule.omitStages = stages(r.omitStages, `${at}.omitStages`);
  if (r.omitManagedFields !== undefined) rule.omitManagedFields = bool(r.omitManagedFields, `${at}.omitManagedFields`);
  if (rule.nonResourceURLs?.length && (rule.resources?.length || rule.namespaces?.length)) {
    throw new Error(`${at}.nonResourceURLs: Invalid value: rules cannot apply to both regular resources and non-resource URLs`);
  }
  for (const [i, u] of (rule.nonResourceURLs ?? []).entries()) {
    if (u === '') throw new Error(`${at}.nonResourceURLs[${i}]: Required value: non-resource URL cannot be empty`);
    if (u !== '*' && !u.startsWith('/')) throw new Error(`${at}.nonResourceURLs[${i}]: Invalid value: "${u}": non-resource URL rules must begin with a '/' character`);
    if (u.slice(0, -1).includes('*')) throw new Error(`${at}.nonResourceURLs[${i}]: Invalid value: "${u}": non-resource URL wildcards ('*') must be the final character of the rule`);
  }
  return rule;
}

function parseGroupResources(g: unknown, at: string): AuditGroupResources {
  if (!isObject(g)) throw new Error(`${at}: must be an object with group, resources, resourceNames`);
  const out: AuditGroupResources = {};
  if (g.group !== undefined && g.group !== null) {
    if (typeof g.group !== 'string') throw new Error(`${at}.group: must be a string`);
    if (g.group.includes('/')) throw new Error(`${at}.group: Invalid value: "${g.group}": a group name, without a version`);
    out.group = g.group;
  }
  if (g.resources !== undefined && g.resources !== null) out.resources = strings(g.resources, `${at}.resources`);
  if (g.resourceNames !== undefined && g.resourceNames !== null) out.resourceNames = strings(g.resourceNames, `${at}.resourceNames`);
  for (const [i, res] of (out.resources ?? []).entries()) {
    const parts = res.split('/');
    if (res === '' || parts.length > 2 || parts.some((p) => p === '')) throw new Error(`${at}.resources[${i}]: Invalid value: "${res}": use "resource", "resource/subresource", "*", "*/subresource" or "resource/*"`);
  }
  if (out.resourceNames?.length && !out.resources?.length) throw new Error(`${at}.resourceNames: Invalid value: resourceNames require resources to be named too`);
  return out;
}

function strings(v: unknown, at: string): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new Error(`${at}: must be a list of strings`);
  return v as string[];
}
function stages(v: unknown, at: string): AuditStage[] {
  const list = strings(v, at);
  for (const s of list) {
    if (!auditStages.includes(s as AuditStage)) throw new Error(`${at}: Unsupported value: "${s}": supported values: ${auditStages.map((x) => `"${x}"`).join(', ')}`);
  }
  return list as AuditStage[];
}
function bool(v: unknown, at: string): boolean {
  if (typeof v !== 'boolean') throw new Error(`${at}: must be true or false`);
  return v;
}
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The rule that decides `attrs`: the first matching one, or undefined (level None). */
export function matchingRule(policy: AuditPolicy, attrs: AuditAttributes): AuditPolicyRule | undefined {
  return policy.rules.find((r) => ruleMatches(r, attrs));
}

/** The level and omitted stages of a request under `policy`. */
export function evaluatePolicy(policy: AuditPolicy, attrs: AuditAttributes): AuditDecision {
  const rule = matchingRule(policy, attrs);
  if (!rule) return { level: 'None', omitStages: [], omitManagedFields: false };
  const omit = new Set([...(policy.omitStages ?? []), ...(rule.omitStages ?? [])]);
  return { level: rule.level, omitStages: [...omit], omitManagedFields: rule.omitManagedFields ?? policy.omitManagedFields ?? false };
}

/** Whether one rule applies to a request (every stated condition must hold). */
export function ruleMatches(r: AuditPolicyRule, a: AuditAttributes): boolean {
  if (r.users?.length && !r.users.includes(a.user.username)) return false;
  if (r.userGroups?.length && !a.user.groups.some((g) => r.userGroups!.includes(g))) return false;
  if (r.verbs?.length && !r.verbs.includes(a.verb)) return false;
  if (r.namespaces?.length || r.resources?.length) return matchesResource(r, a);
  if (r.nonResourceURLs?.length) return matchesNonResource(r.nonResourceURLs, a);
  return true;
}

function matchesResource(r: AuditPolicyRule, a: AuditAttributes): boolean {
  if (!a.isResourceRequest) return false;
  if (r.namespaces?.length && !r.namespaces.includes(a.namespace)) return false;
  if (!r.resources?.length) return true;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  for (const gr of r.resources) {
    if ((gr.group ?? '') !== a.apiGroup) continue;
    if (!gr.resources?.length) return true;
    if (gr.resourceNames?.length && !gr.resourceNames.includes(a.name)) continue;
    for (const res of gr.resources) {
      if (res === '*' || res === combined) return true;
      if (a.subresource && res.startsWith('*/') && res.slice(2) === a.subresource) return true;
      if (res.endsWith('/*') && res.slice(0, -2) === a.resource) return true;
    }
  }
  return false;
}

function matchesNonResource(urls: string[], a: AuditAttributes): boolean {
  if (a.isResourceRequest) return false;
  for (const u of urls) {
    if (u === '*' || u === a.path) return true;
    if (u.endsWith('*') && a.path.startsWith(u.slice(0, -1))) return true;
  }
  return false;
}
