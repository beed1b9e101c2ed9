/**
 * Authorization: the attributes of a request (who, verb, what) and the authorizers that decide on
 * them, tried in order as upstream's union authorizer does. The first allow or deny wins; when no
 * authorizer has an opinion the request is forbidden.
 */
import type { UserInfo } from './authenticator.js';

/** Upstream's authorizer.Attributes. */
export interface AuthorizationAttributes {
  user: UserInfo;
  /** get, list, watch, create, update, patch, delete, deletecollection; impersonate, bind, escalate...; or an HTTP verb (lower case) for non-resource paths. */
  verb: string;
  isResourceRequest: boolean;
  /** The request path, for non-resource requests. */
  path: string;
  namespace: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  name: string;
}

export type Decision = 'allow' | 'deny' | 'noOpinion';

export interface AuthorizationResult {
  decision: Decision;
  /** Why, for the Forbidden message and SubjectAccessReview status.reason. */
  reason?: string;
}

export interface Authorizer {
  authorize(a: AuthorizationAttributes): AuthorizationResult | Promise<AuthorizationResult>;
}

/** A resource rule as SelfSubjectRulesReview reports it. */
export interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

export interface NonResourceRule {
  verbs: string[];
  nonResourceURLs?: string[];
}

export interface RulesResult {
  resourceRules: ResourceRule[];
  nonResourceRules: NonResourceRule[];
  incomplete: boolean;
  evaluationError?: string;
}

/** Lists what a user may do in a namespace (upstream's authorizer.RuleResolver, for `kubectl auth can-i --list`). */
export interface RuleResolver {
  rulesFor(user: UserInfo, namespace: string): RulesResult | Promise<RulesResult>;
}

export const systemMasters = 'system:masters';

/** Members of system:masters may do anything (upstream's privileged-groups authorizer, ahead of RBAC). */
export const privilegedGroupsAuthorizer: Authorizer = {
  authorize: (a) => (a.user.groups.includes(systemMasters) ? { decision: 'allow' } : { decision: 'noOpinion' }),
};

/** Everyone may do anything: a library server with authorization off. */
export const alwaysAllow: Authorizer & RuleResolver = {
  authorize: () => ({ decision: 'allow' }),
  rulesFor: () => ({
    resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
    nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
    incomplete: false,
  }),
};

/** Asks each authorizer in turn; the first allow or deny decides. */
export class UnionAuthorizer implements Authorizer, RuleResolver {
  constructor(private readonly chain: (Authorizer & Partial<RuleResolver>)[]) {}

  async authorize(a: AuthorizationAttributes): Promise<AuthorizationResult> {
    const reasons: string[] = [];
    for (const z of this.chain) {
      const r = await z.authorize(a);
      if (r.decision !== 'noOpinion') return r;
      if (r.reason) reasons.push(r.reason);
    }
    return { decision: 'noOpinion', reason: reasons.join(', ') || undefined };
  }

  async rulesFor(user: UserInfo, namespace: string): Promise<RulesResult> {
    const out: RulesResult = { resourceRules: [], nonResourceRules: [], incomplete: false };
    const errs: string[] = [];
    for (const z of this.chain) {
      // An authorizer that lists no rules (system:masters is added below) contributes none.
      if (!z.rulesFor) continue;
      const r = await z.rulesFor(user, namespace);
      out.resourceRules.push(...r.resourceRules);
      out.nonResourceRules.push(...r.nonResourceRules);
      if (r.incomplete) out.incomplete = true;
      if (r.evaluationError) errs.push(r.evaluationError);
    }
    if (user.groups.includes(systemMasters)) {
      out.resourceRules.unshift({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] });
      out.nonResourceRules.unshift({ verbs: ['*'], nonResourceURLs: ['*'] });
    }
    if (errs.length) out.evaluationError = errs.join(', ');
    return out;
  }
}

/** `pods "x"`-less resource text of a forbidden message: "pods/exec". */
function resourceText(a: AuthorizationAttributes): string {
  return a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
}

/**
 * Upstream's forbidden message (apiserver/pkg/endpoints/handlers/responsewriters.forbiddenMessage):
 * `User "alice" cannot list resource "pods" in API group "" in the namespace "default"`.
 */
export function forbiddenMessage(a: AuthorizationAttributes): string {
  const who = `User "${a.user.username}"`;
  if (!a.isResourceRequest) return `${who} cannot ${a.verb} path "${a.path}"`;
  const where = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return `${who} cannot ${a.verb} resource "${resourceText(a)}" in API group "${a.apiGroup}" ${where}`;
}
