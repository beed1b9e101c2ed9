/**
 * The RBAC authorizer (upstream's plugin/pkg/auth/authorizer/rbac): allows a request when a
 * binding that names the user, one of its groups or its service account grants a rule that
 * matches; otherwise it has no opinion (RBAC never denies). Roles and bindings come from watch-fed
 * caches, and bindings are indexed by subject, so a decision is a few map lookups.
 */
import type { StoreLookup } from '../../admission/index.js';
import type { KObject } from '../../registry/generic/strategy.js';
import type { UserInfo } from '../authenticator.js';
import type { AuthorizationAttributes, AuthorizationResult, Authorizer, NonResourceRule, ResourceRule, RuleResolver, RulesResult } from '../authorizer.js';
import { StoreCache, type CacheEvent } from '../store-cache.js';
import { rbacGroup, ruleAllows, rulesOf, type PolicyRule } from './rules.js';

const saPrefix = 'system:serviceaccount:';

/** Index key of a user name (service accounts are users `system:serviceaccount:<ns>:<name>`). */
const userKey = (name: string): string => `u:${name}`;
const groupKey = (name: string): string => `g:${name}`;

/** Bindings by subject key. */
type SubjectIndex = Map<string, Set<KObject>>;

/** The subject's index key, or undefined when it can never match (an unknown kind, a namespace-less SA in a ClusterRoleBinding). */
function subjectKey(s: KObject, bindingNamespace: string): string | undefined {
  if (!s || typeof s.name !== 'string') return undefined;
  switch (s.kind) {
    case 'User':
      return userKey(s.name);
    case 'Group':
      return groupKey(s.name);
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace;
      return ns ? userKey(`${saPrefix}${ns}:${s.name}`) : undefined;
    }
    default:
      return undefined;
  }
}

/** Whether `s` names this user (upstream's appliesToUser). */
function subjectApplies(s: KObject, user: UserInfo, bindingNamespace: string): boolean {
  switch (s?.kind) {
    case 'User':
      return s.name === user.username;
    case 'Group':
      return user.groups.includes(s.name);
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace;
      return !!ns && user.username === `${saPrefix}${ns}:${s.name}`;
    }
    default:
      return false;
  }
}

/** Upstream's describeSubject. */
function describeSubject(s: KObject, bindingNamespace: string): string {
  if (s.kind === 'ServiceAccount') return `ServiceAccount ${JSON.stringify(`${s.name}/${s.namespace || bindingNamespace}`)}`;
  return `${s.kind} ${JSON.stringify(s.name)}`;
}

/** Upstream's binding describers, for "RBAC: allowed by ...". */
function describeBinding(b: KObject, s: KObject): string {
  const ns = b.metadata?.namespace ?? '';
  const what = ns ? `RoleBinding ${JSON.stringify(`${b.metadata?.name}/${ns}`)}` : `ClusterRoleBinding ${JSON.stringify(b.metadata?.name)}`;
  return `${what} of ${b.roleRef?.kind} ${JSON.stringify(b.roleRef?.name)} to ${describeSubject(s, ns)}`;
}

/** An allow whose reason (rarely read: audit, SubjectAccessReview) is only built when asked for. */
class Allowed implements AuthorizationResult {
  readonly decision = 'allow' as const;
  constructor(
    private readonly binding: KObject,
    private readonly user: UserInfo,
  ) {}
  get reason(): string {
    const ns = this.binding.metadata?.namespace ?? '';
    const s = (this.binding.subjects as KObject[]).find((x) => subjectApplies(x, this.user, ns))!;
    return `RBAC: allowed by ${describeBinding(this.binding, s)}`;
  }
}

function addTo(index: SubjectIndex, key: string, b: KObject): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(b);
}

function removeFrom(index: SubjectIndex, key: string, b: KObject): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(b);
  if (set.size === 0) index.delete(key);
}

/** RBAC over the four rbac.authorization.k8s.io/v1 resources. */
export class RBACAuthorizer implements Authorizer, RuleResolver {
  readonly roles: StoreCache;
  readonly clusterRoles: StoreCache;
  readonly roleBindings: StoreCache;
  readonly clusterRoleBindings: StoreCache;
  /** ClusterRoleBindings by subject key. */
  private readonly crbIndex: SubjectIndex = new Map();
  /** RoleBindings by namespace, then subject key. */
  private readonly rbIndex = new Map<string, SubjectIndex>();
  /** Resolves once all four caches hold their initial state. */
  readonly synced: Promise<void>;

  constructor(lookup: StoreLookup) {
    const store = (resource: string) => {
      const s = lookup(rbacGroup, resource);
      if (!s) throw new Error(`RBAC authorizer: no store for ${resource}.${rbacGroup}`);
      return s;
    };
    this.roles = new StoreCache(store('roles'));
    this.clusterRoles = new StoreCache(store('clusterroles'));
    this.roleBindings = new StoreCache(store('rolebindings'));
    this.clusterRoleBindings = new StoreCache(store('clusterrolebindings'));
    this.clusterRoleBindings.onEvent((ev) => this.reindex(ev, () => this.crbIndex));
    this.roleBindings.onEvent((ev) =>
      this.reindex(ev, (ns) => {
        let idx = this.rbIndex.get(ns);
        if (!idx) this.rbIndex.set(ns, (idx = new Map()));
        return idx;
      }),
    );
    this.synced = Promise.all([this.roles.synced, this.clusterRoles.synced, this.roleBindings.synced, this.clusterRoleBindings.synced]).then(() => undefined);
  }

  start(): this {
    this.roles.start();
    this.clusterRoles.start();
    this.roleBindings.start();
    this.clusterRoleBindings.start();
    return this;
  }

  stop(): void {
    this.roles.stop();
    this.clusterRoles.stop();
    this.roleBindings.stop();
    this.clusterRoleBindings.stop();
  }

  private reindex(ev: CacheEvent, indexFor: (ns: string) => SubjectIndex): void {
    // The index holds the cached objects themselves: drop the one the cache held (ev.old), not the event's copy.
    const drop = ev.old ?? (ev.type === 'DELETED' ? ev.object : undefined);
    if (drop) {
      const ns = drop.metadata?.namespace ?? '';
      const idx = indexFor(ns);
      for (const s of Array.isArray(drop.subjects) ? drop.subjects : []) {
        const k = subjectKey(s, ns);
        if (k) removeFrom(idx, k, drop);
      }
      if (ns && idx.size === 0) this.rbIndex.delete(ns);
    }
    if (ev.type !== 'DELETED') {
      const b = ev.object;
      const ns = b.metadata?.namespace ?? '';
      const idx = indexFor(ns);
      for (const s of Array.isArray(b.subjects) ? b.subjects : []) {
        const k = subjectKey(s, ns);
        if (k) addTo(idx, k, b);
      }
    }
  }

  /** The rules a binding's roleRef grants; undefined (with `err`) when the role is missing. */
  private roleRules(b: KObject, errs?: string[]): PolicyRule[] {
    const ref = b.roleRef ?? {};
    if (ref.kind === 'ClusterRole') {
      const r = this.clusterRoles.get(undefined, ref.name);
      if (r) return rulesOf(r);
      errs?.push(`clusterrole.rbac.authorization.k8s.io ${JSON.stringify(ref.name)} not found`);
      return [];
    }
    if (ref.kind === 'Role') {
      const r = this.roles.get(b.metadata?.namespace, ref.name);
      if (r) return rulesOf(r);
      errs?.push(`role.rbac.authorization.k8s.io ${JSON.stringify(ref.name)} not found`);
      return [];
    }
    return [];
  }

  /** Every binding that applies to the user: cluster-wide ones, then those of `namespace`. */
  private *bindingsFor(user: UserInfo, namespace: string): Generator<[KObject, KObject]> {
    const indexes: SubjectIndex[] = [this.crbIndex];
    const nsIdx = namespace ? this.rbIndex.get(namespace) : undefined;
    if (nsIdx) indexes.push(nsIdx);
    for (const idx of indexes) {
      if (idx.size === 0) continue;
      const seen = new Set<KObject>();
      const keys = [userKey(user.username), ...user.groups.map(groupKey)];
      for (const k of keys) {
        const set = idx.get(k);
        if (!set) continue;
        for (const b of set) {
          if (seen.has(b)) continue;
          seen.add(b);
          const ns = b.metadata?.namespace ?? '';
          const s = (b.subjects as KObject[]).find((x) => subjectApplies(x, user, ns));
          if (s) yield [b, s];
        }
      }
    }
  }

  authorize(a: AuthorizationAttributes): AuthorizationResult {
    // The hot path: plain loops over the few bindings indexed under the user's name and groups.
    let errs: string[] | undefined;
    const nsIdx = a.namespace ? this.rbIndex.get(a.namespace) : undefined;
    for (const idx of nsIdx ? [this.crbIndex, nsIdx] : [this.crbIndex]) {
      if (idx.size === 0) continue;
      let seen: Set<KObject> | undefined;
      for (let i = -1; i < a.user.groups.length; i++) {
        const set = idx.get(i < 0 ? userKey(a.user.username) : groupKey(a.user.groups[i]));
        if (!set) continue;
        for (const b of set) {
          if (seen?.has(b)) continue;
          (seen ??= new Set()).add(b);
          const rules = this.roleRules(b, (errs ??= []));
          for (const rule of rules) {
            if (!ruleAllows(a, rule)) continue;
            return new Allowed(b, a.user);
          }
        }
      }
    }
    if (!errs?.length) return { decision: 'noOpinion' };
    return { decision: 'noOpinion', reason: `RBAC: ${errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`}` };
  }

  /** Every rule the user holds in `namespace` (cluster-wide ones included), as SelfSubjectRulesReview lists them. */
  rulesFor(user: UserInfo, namespace: string): RulesResult {
    const errs: string[] = [];
    const resourceRules: ResourceRule[] = [];
    const nonResourceRules: NonResourceRule[] = [];
    for (const r of this.policyRulesFor(user, namespace, errs)) {
      if (r.resources?.length) {
        const rr: ResourceRule = { verbs: [...r.verbs], apiGroups: [...(r.apiGroups ?? [])], resources: [...r.resources] };
        if (r.resourceNames?.length) rr.resourceNames = [...r.resourceNames];
        resourceRules.push(rr);
      }
      if (r.nonResourceURLs?.length) nonResourceRules.push({ verbs: [...r.verbs], nonResourceURLs: [...r.nonResourceURLs] });
    }
    const out: RulesResult = { resourceRules, nonResourceRules, incomplete: errs.length > 0 };
    if (errs.length) out.evaluationError = errs.join(', ');
    return out;
  }

  /** The user's policy rules in `namespace` (shared objects: do not mutate). Missing roles are reported in `errs`. */
  policyRulesFor(user: UserInfo, namespace: string, errs: string[] = []): PolicyRule[] {
    const out: PolicyRule[] = [];
    for (const [b] of this.bindingsFor(user, namespace)) out.push(...this.roleRules(b, errs));
    return out;
  }
}
