/**
 * RBAC escalation prevention (upstream's policy-based storage of the rbac registry): a user may
 * only write a Role or ClusterRole whose rules it already holds, unless it may `escalate` it, and
 * may only bind a role whose rules it holds, unless it may `bind` it. Validate only.
 */
import { errors, StatusError } from '../../api/errors.js';
import type { UserInfo } from '../auth/authenticator.js';
import { systemMasters, type Authorizer, type RuleResolver } from '../auth/authorizer.js';
import { compactRules, compactString, covers, rbacGroup, rulesOf, type PolicyRule } from '../auth/rbac/rules.js';
import type { KObject } from '../registry/generic/strategy.js';
import type { AdmissionAttributes, AdmissionPlugin } from './index.js';

const fullAuthority: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

/** Go's `%q` of a []string. */
const goQuoteList = (v: string[]): string => `[${v.map((s) => JSON.stringify(s)).join(' ')}]`;

/** Upstream's ConfirmNoEscalation message, or undefined when the user holds every rule. */
async function escalationMessage(resolver: RuleResolver, user: UserInfo, namespace: string, rules: PolicyRule[]): Promise<string | undefined> {
  const held = await resolver.rulesFor(user, namespace);
  const owner: PolicyRule[] = [...held.resourceRules, ...held.nonResourceRules];
  const got = covers(owner, rules);
  if (got.covered) return undefined;
  const missing = [...new Set(compactRules(got.missing).map(compactString))].sort();
  let msg = `user ${JSON.stringify(user.username)} (groups=${goQuoteList(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${missing.join('\n')}`;
  if (held.evaluationError) msg += `; resolution errors: [${held.evaluationError}]`;
  return msg;
}

async function allowed(z: Authorizer, user: UserInfo, verb: string, namespace: string, resource: string, name: string): Promise<boolean> {
  const r = await z.authorize({ user, verb, isResourceRequest: true, path: '', namespace, apiGroup: rbacGroup, apiVersion: 'v1', resource, subresource: '', name });
  return r.decision === 'allow';
}

/** Changes beyond the garbage collector's fields (ownerReferences, finalizers) that need the checks again. */
function policyChanged(obj: KObject, old: KObject | undefined): boolean {
  if (!old) return true;
  const view = (o: KObject) => JSON.stringify([o.rules ?? [], o.aggregationRule ?? null, o.roleRef ?? null, o.subjects ?? [], o.metadata?.labels ?? {}, o.metadata?.annotations ?? {}]);
  return view(obj) !== view(old);
}

const roleResources = new Set(['roles', 'clusterroles']);
const bindingResources = new Set(['rolebindings', 'clusterrolebindings']);

/** The escalation check for writes of RBAC objects; `resolver` is the server's authorizer chain. */
export function rbacEscalation(resolver: RuleResolver & Authorizer): AdmissionPlugin {
  // Writes of other groups are answered synchronously (no promise for the chain to await).
  const check = async (a: AdmissionAttributes): Promise<void> => {
    if (a.operation !== 'CREATE' && a.operation !== 'UPDATE') return;
    const user = a.user;
    if (!user || user.groups.includes(systemMasters)) return;
    const resource = a.store.gr.resource;
    if (!roleResources.has(resource) && !bindingResources.has(resource)) return;
    if (a.operation === 'UPDATE' && !policyChanged(a.object, a.oldObject)) return;
    const name: string = a.object.metadata?.name ?? '';
    const namespace: string = a.store.strategy.info.namespaced ? (a.object.metadata?.namespace ?? '') : '';

    if (roleResources.has(resource)) {
      if (await allowed(resolver, user, 'escalate', namespace, resource, name)) return;
      const msg = await escalationMessage(resolver, user, namespace, rulesOf(a.object));
      if (msg) throw errors.forbidden(a.store.gr, name, msg);
      // An aggregationRule can gather anything, so setting or changing one needs full authority.
      if (resource === 'clusterroles' && (a.object.aggregationRule || a.oldObject?.aggregationRule)) {
        if (await escalationMessage(resolver, user, '', fullAuthority)) throw errors.forbidden(a.store.gr, name, 'must have cluster-admin privileges to use the aggregationRule');
      }
      return;
    }

    const ref = a.object.roleRef ?? {};
    const refResource = ref.kind === 'Role' ? 'roles' : ref.kind === 'ClusterRole' ? 'clusterroles' : '';
    if (!refResource) return; // validation refuses it
    if (await allowed(resolver, user, 'bind', namespace, refResource, ref.name ?? '')) return;
    const store = a.lookup(rbacGroup, refResource);
    if (!store) throw errors.internal(`no store for ${refResource}.${rbacGroup}`);
    let role: KObject;
    try {
      role = await store.get({ namespace: refResource === 'roles' ? namespace : '', name: ref.name ?? '' });
    } catch (e) {
      if (e instanceof StatusError) throw e;
      throw errors.internal(String(e));
    }
    const msg = await escalationMessage(resolver, user, namespace, rulesOf(role));
    if (msg) throw errors.forbidden(a.store.gr, name, msg);
  };
  return {
    name: 'RBACEscalation',
    validate(a: AdmissionAttributes): Promise<void> | void {
      if (a.store.gr.group !== rbacGroup || a.subresource !== '') return;
      return check(a);
    },
  };
}
