/**
 * The default roles and bindings every cluster starts with (upstream's
 * plugin/pkg/auth/authorizer/rbac/bootstrappolicy), trimmed to the resources k8ts serves and
 * extended with the identities of k8ts's own components, and their reconciliation on server start.
 */
import { StatusError } from '../../../api/errors.js';
import { logger } from '../../../base/log.js';
import type { StoreLookup } from '../../admission/index.js';
import type { KObject } from '../../registry/generic/strategy.js';
import { covers, rbacGroup, type PolicyRule } from './rules.js';

const log = logger('rbac-bootstrap');

/** The label every bootstrap object carries. */
export const bootstrapLabel = { 'kubernetes.io/bootstrapping': 'rbac-defaults' } as const;
/** Objects with this annotation set to "true" are brought back in line on every start. */
export const autoUpdateAnnotation = 'rbac.authorization.kubernetes.io/autoupdate';
/** Label keys that pull a ClusterRole's rules into admin, edit and view. */
export const aggregateToAdmin = 'rbac.authorization.k8s.io/aggregate-to-admin';
export const aggregateToEdit = 'rbac.authorization.k8s.io/aggregate-to-edit';
export const aggregateToView = 'rbac.authorization.k8s.io/aggregate-to-view';

const read = ['get', 'list', 'watch'];
const write = ['create', 'update', 'patch', 'delete', 'deletecollection'];
const readWrite = [...read, ...write];

const core = '';
const apps = 'apps';
const batch = 'batch';
const autoscaling = 'autoscaling';
const policy = 'policy';
const networking = 'networking.k8s.io';
const coordination = 'coordination.k8s.io';
const discovery = 'discovery.k8s.io';
const eventsGroup = 'events.k8s.io';
const authorization = 'authorization.k8s.io';
const authentication = 'authentication.k8s.io';
const certificates = 'certificates.k8s.io';
const storage = 'storage.k8s.io';
const scheduling = 'scheduling.k8s.io';

function rule(verbs: string[], groups: string[], resources: string[], names?: string[]): PolicyRule {
  const r: PolicyRule = { verbs, apiGroups: groups, resources };
  if (names?.length) r.resourceNames = names;
  return r;
}
function urls(verbs: string[], u: string[]): PolicyRule {
  return { verbs, nonResourceURLs: u };
}
/** Upstream's eventsRule: recording events through either API. */
const eventsRule = (): PolicyRule => rule(['create', 'update', 'patch'], [core, eventsGroup], ['events']);

function clusterRole(name: string, rules: PolicyRule[], extra: { labels?: Record<string, string>; aggregateFrom?: string } = {}): KObject {
  const obj: KObject = {
    apiVersion: `${rbacGroup}/v1`,
    kind: 'ClusterRole',
    metadata: { name, labels: { ...bootstrapLabel, ...extra.labels }, annotations: { [autoUpdateAnnotation]: 'true' } },
    rules,
  };
  if (extra.aggregateFrom) obj.aggregationRule = { clusterRoleSelectors: [{ matchLabels: { [extra.aggregateFrom]: 'true' } }] };
  return obj;
}

function clusterRoleBinding(role: string, subjects: KObject[], name = role): KObject {
  return {
    apiVersion: `${rbacGroup}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: { ...bootstrapLabel }, annotations: { [autoUpdateAnnotation]: 'true' } },
    roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: role },
    subjects,
  };
}

const user = (name: string): KObject => ({ kind: 'User', apiGroup: rbacGroup, name });
const group = (name: string): KObject => ({ kind: 'Group', apiGroup: rbacGroup, name });

/** The rules of the aggregate-to-view/edit/admin roles (upstream's, for the kinds k8ts serves). */
function aggregateRoles(): KObject[] {
  const view = [
    rule(read, [core], ['pods', 'replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'configmaps']),
    rule(read, [core], ['limitranges', 'resourcequotas', 'bindings', 'events', 'pods/status', 'resourcequotas/status', 'namespaces/status', 'replicationcontrollers/status', 'pods/log']),
    // Reading namespaces at namespace scope means reading *this* namespace.
    rule(read, [core], ['namespaces']),
    rule(read, [discovery], ['endpointslices']),
    rule(read, [apps], ['controllerrevisions', 'statefulsets', 'statefulsets/status', 'statefulsets/scale', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/status', 'deployments/scale', 'replicasets', 'replicasets/status', 'replicasets/scale']),
    rule(read, [autoscaling], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status']),
    rule(read, [batch], ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status']),
    rule(read, [policy], ['poddisruptionbudgets', 'poddisruptionbudgets/status']),
    rule(read, [networking], ['ingresses', 'ingresses/status', 'networkpolicies']),
  ];
  const edit = [
    // Reading these can escalate (secrets, exec), so only edit has them.
    rule(read, [core], ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'secrets', 'services/proxy']),
    rule(['impersonate'], [core], ['serviceaccounts']),
    rule(write, [core], ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy']),
    rule(['create'], [core], ['pods/eviction']),
    rule(write, [core], ['configmaps', 'events', 'persistentvolumeclaims', 'replicationcontrollers', 'replicationcontrollers/scale', 'secrets', 'serviceaccounts', 'services', 'services/proxy']),
    rule(['create'], [core], ['serviceaccounts/token']),
    rule(write, [apps], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'replicasets', 'replicasets/scale', 'statefulsets', 'statefulsets/scale']),
    rule(write, [autoscaling], ['horizontalpodautoscalers']),
    rule(write, [batch], ['cronjobs', 'jobs']),
    rule(write, [policy], ['poddisruptionbudgets']),
    rule(write, [networking], ['ingresses', 'networkpolicies']),
  ];
  const admin = [rule(['create'], [authorization], ['localsubjectaccessreviews']), rule(readWrite, [rbacGroup], ['rolebindings', 'roles'])];
  return [
    clusterRole('system:aggregate-to-admin', admin, { labels: { [aggregateToAdmin]: 'true' } }),
    clusterRole('system:aggregate-to-edit', edit, { labels: { [aggregateToEdit]: 'true' } }),
    clusterRole('system:aggregate-to-view', view, { labels: { [aggregateToView]: 'true' } }),
  ];
}

/** Leader election on one named lease (create cannot be narrowed by name). */
const leaseRules = (name: string): PolicyRule[] => [rule(['create'], [coordination], ['leases']), rule(['get', 'update'], [coordination], ['leases'], [name])];

/** Upstream's default policy objects plus k8ts's component identities. */
export function bootstrapPolicy(): { clusterRoles: KObject[]; clusterRoleBindings: KObject[]; roles: KObject[]; roleBindings: KObject[] } {
  const clusterRoles: KObject[] = [
    clusterRole('cluster-admin', [rule(['*'], ['*'], ['*']), urls(['*'], ['*'])]),
    clusterRole('admin', [], { aggregateFrom: aggregateToAdmin }),
    clusterRole('edit', [], { aggregateFrom: aggregateToEdit, labels: { [aggregateToAdmin]: 'true' } }),
    clusterRole('view', [], { aggregateFrom: aggregateToView, labels: { [aggregateToEdit]: 'true' } }),
    ...aggregateRoles(),
    clusterRole('system:discovery', [urls(['get'], ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'])]),
    clusterRole('system:basic-user', [rule(['create'], [authorization], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']), rule(['create'], [authentication], ['selfsubjectreviews'])]),
    clusterRole('system:public-info-viewer', [urls(['get'], ['/healthz', '/livez', '/readyz', '/version', '/version/'])]),
    clusterRole('system:node-proxier', [
      rule(['list', 'watch'], [core], ['services', 'endpoints']),
      rule(read, [core], ['nodes']),
      rule(['list', 'watch'], [discovery], ['endpointslices']),
      eventsRule(),
    ]),
    clusterRole('system:kube-scheduler', [
      eventsRule(),
      ...leaseRules('kube-scheduler'),
      rule(read, [core], ['nodes']),
      rule(['get', 'list', 'watch', 'delete'], [core], ['pods']),
      rule(['create'], [core], ['pods/binding', 'bindings']),
      rule(['patch', 'update'], [core], ['pods/status']),
      rule(read, [core], ['services', 'replicationcontrollers', 'namespaces', 'persistentvolumeclaims', 'persistentvolumes']),
      rule(read, [apps], ['replicasets', 'statefulsets']),
      rule(read, [policy], ['poddisruptionbudgets']),
      rule(read, [storage], ['csinodes', 'csidrivers', 'csistoragecapacities', 'storageclasses']),
      rule(read, [scheduling], ['priorityclasses']),
      rule(['create'], [authentication], ['tokenreviews']),
      rule(['create'], [authorization], ['subjectaccessreviews']),
    ]),
    // The scheduler binds WaitForFirstConsumer claims to volumes (upstream's system:volume-scheduler).
    clusterRole('system:volume-scheduler', [
      rule(['get', 'list', 'watch', 'update', 'patch'], [core], ['persistentvolumes']),
      rule(read, [storage], ['storageclasses']),
      rule(['get', 'list', 'watch', 'update', 'patch'], [core], ['persistentvolumeclaims']),
    ]),
    clusterRole('system:kube-controller-manager', kubeControllerManagerRules()),
    clusterRole('system:node', [
      rule(['create', 'get', 'list', 'watch', 'update', 'patch', 'delete'], [core], ['nodes']),
      rule(['update', 'patch'], [core], ['nodes/status']),
      rule(read, [core], ['services', 'endpoints']),
      rule(read, [discovery], ['endpointslices']),
      rule(read, [core], ['pods']),
      rule(['create', 'delete'], [core], ['pods']),
      rule(['update', 'patch'], [core], ['pods/status']),
      rule(['create'], [core], ['pods/eviction']),
      rule(['get'], [core], ['secrets', 'configmaps', 'persistentvolumeclaims', 'persistentvolumes']),
      // Volume expansion: the kubelet records a claim's new size (upstream's ExpandPersistentVolumes rule).
      rule(['get', 'update', 'patch'], [core], ['persistentvolumeclaims/status']),
      rule(['create'], [core], ['serviceaccounts/token']),
      eventsRule(),
      rule(['get', 'create', 'update', 'patch', 'delete'], [coordination], ['leases']),
      rule(['create', 'get', 'list', 'watch'], [certificates], ['certificatesigningrequests']),
      rule(['create'], [authentication], ['tokenreviews']),
      rule(['create'], [authorization], ['subjectaccessreviews', 'localsubjectaccessreviews']),
      rule(read, [storage], ['csinodes', 'csidrivers']),
    ]),
    clusterRole('system:node-bootstrapper', [rule(['create', 'get', 'list', 'watch'], [certificates], ['certificatesigningrequests'])]),
    clusterRole('system:certificates.k8s.io:certificatesigningrequests:nodeclient', [rule(['create'], [certificates], ['certificatesigningrequests/nodeclient'])]),
    clusterRole('system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', [rule(['create'], [certificates], ['certificatesigningrequests/selfnodeclient'])]),
    clusterRole('system:k8ts-dns', [rule(['list', 'watch'], [core], ['services', 'namespaces']), rule(['list', 'watch'], [discovery], ['endpointslices'])]),
    clusterRole('system:k8ts-cloud-controller', [
      rule(['get', 'list', 'watch', 'update', 'patch'], [core], ['services']),
      rule(['update', 'patch'], [core], ['services/status']),
      rule(['get', 'list', 'watch'], [core], ['nodes']),
      eventsRule(),
      ...leaseRules('cloud-controller-manager'),
    ]),
  ];
  const clusterRoleBindings: KObject[] = [
    clusterRoleBinding('cluster-admin', [group('system:masters')]),
    clusterRoleBinding('system:discovery', [group('system:authenticated')]),
    clusterRoleBinding('system:basic-user', [group('system:authenticated')]),
    clusterRoleBinding('system:public-info-viewer', [group('system:authenticated'), group('system:unauthenticated')]),
    clusterRoleBinding('system:node-proxier', [user('system:kube-proxy')]),
    clusterRoleBinding('system:kube-scheduler', [user('system:kube-scheduler')]),
    clusterRoleBinding('system:volume-scheduler', [user('system:kube-scheduler')]),
    clusterRoleBinding('system:kube-controller-manager', [user('system:kube-controller-manager')]),
    // As upstream: bound to no one; the node authorizer grants nodes their access.
    clusterRoleBinding('system:node', []),
    clusterRoleBinding('system:node-bootstrapper', [group('system:bootstrappers')]),
    clusterRoleBinding('system:certificates.k8s.io:certificatesigningrequests:nodeclient', [group('system:bootstrappers')]),
    clusterRoleBinding('system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', [group('system:nodes')]),
    clusterRoleBinding('system:k8ts-dns', [user('system:k8ts-dns')]),
    clusterRoleBinding('system:k8ts-cloud-controller', [user('system:k8ts-cloud-controller')]),
  ];
  fillAggregatedRules(clusterRoles);
  return { clusterRoles, clusterRoleBindings, roles: [], roleBindings: [] };
}

/**
 * All controllers of k8ts's controller manager run as one identity, so this role is the union of
 * what they need: the garbage collector and namespace controller read, patch and delete any
 * resource; the others create what they own; the aggregation controller updates ClusterRoles.
 */
function kubeControllerManagerRules(): PolicyRule[] {
  return [
    rule(['get', 'list', 'watch', 'update', 'patch', 'delete', 'deletecollection'], ['*'], ['*']),
    rule(['create'], [core], ['pods', 'pods/binding', 'pods/eviction', 'endpoints', 'events', 'configmaps', 'secrets', 'serviceaccounts', 'serviceaccounts/token', 'services', 'persistentvolumeclaims']),
    rule(['create'], [apps], ['controllerrevisions', 'replicasets', 'deployments', 'statefulsets', 'daemonsets']),
    rule(['create'], [batch], ['jobs']),
    rule(['create'], [discovery], ['endpointslices']),
    rule(['create'], [eventsGroup], ['events']),
    rule(['create'], [coordination], ['leases']),
    rule(['create'], [authentication], ['tokenreviews']),
    rule(['create'], [authorization], ['subjectaccessreviews']),
    rule(['create'], [certificates], ['certificatesigningrequests']),
    rule(['approve', 'sign'], [certificates], ['signers']),
    // The ClusterRole aggregation controller writes rules it does not itself hold.
    rule(['escalate'], [rbacGroup], ['clusterroles']),
  ];
}

/** Whether a ClusterRole's labels match one of the selectors (matchLabels and matchExpressions). */
export function selectorsMatch(selectors: unknown, labels: Record<string, string> | undefined): boolean {
  if (!Array.isArray(selectors)) return false;
  const l = labels ?? {};
  return selectors.some((sel: KObject) => {
    if (!sel || typeof sel !== 'object') return false;
    const ml = (sel.matchLabels ?? {}) as Record<string, string>;
    const exprs: KObject[] = Array.isArray(sel.matchExpressions) ? sel.matchExpressions : [];
    // An empty selector matches nothing here (upstream refuses to aggregate everything by accident).
    if (Object.keys(ml).length === 0 && exprs.length === 0) return false;
    for (const [k, v] of Object.entries(ml)) if (l[k] !== v) return false;
    for (const e of exprs) {
      const vals: string[] = Array.isArray(e.values) ? e.values : [];
      const has = Object.prototype.hasOwnProperty.call(l, e.key);
      if (e.operator === 'In' && !(has && vals.includes(l[e.key]))) return false;
      if (e.operator === 'NotIn' && has && vals.includes(l[e.key])) return false;
      if (e.operator === 'Exists' && !has) return false;
      if (e.operator === 'DoesNotExist' && has) return false;
    }
    return true;
  });
}

/** Give the aggregated bootstrap roles their rules up front, so they work before the aggregation controller runs. */
function fillAggregatedRules(roles: KObject[]): void {
  for (let changed = true; changed; ) {
    changed = false;
    for (const r of roles) {
      if (!r.aggregationRule) continue;
      const want: PolicyRule[] = [];
      const seen = new Set<string>();
      for (const src of roles) {
        if (src === r || !selectorsMatch(r.aggregationRule.clusterRoleSelectors, src.metadata.labels)) continue;
        for (const rr of src.rules as PolicyRule[]) {
          const k = JSON.stringify(rr);
          if (!seen.has(k)) {
            seen.add(k);
            want.push(rr);
          }
        }
      }
      if (JSON.stringify(want) !== JSON.stringify(r.rules)) {
        r.rules = want;
        changed = true;
      }
    }
  }
}

function isNotFound(e: unknown): boolean {
  return e instanceof StatusError && e.code === 404;
}

/** Add to `into` the labels/annotations of `from` it lacks; true if anything was added. */
function mergeMissing(into: Record<string, string>, from: Record<string, string> | undefined): boolean {
  let changed = false;
  for (const [k, v] of Object.entries(from ?? {})) {
    if (!(k in into)) {
      into[k] = v;
      changed = true;
    }
  }
  return changed;
}

/** The reconciled object, or undefined when the live one already holds everything (upstream's additive reconcile). */
function reconcile(live: KObject, want: KObject): KObject | undefined {
  if (live.metadata?.annotations?.[autoUpdateAnnotation] !== 'true') return undefined;
  const next = structuredClone(live);
  const meta = next.metadata;
  let changed = mergeMissing((meta.labels ??= {}), want.metadata.labels);
  changed = mergeMissing((meta.annotations ??= {}), want.metadata.annotations) || changed;
  if (want.kind === 'ClusterRole' || want.kind === 'Role') {
    if (want.aggregationRule) {
      // Rules of an aggregated role belong to the aggregation controller; only the selectors are ours.
      if (JSON.stringify(next.aggregationRule) !== JSON.stringify(want.aggregationRule)) {
        next.aggregationRule = structuredClone(want.aggregationRule);
        changed = true;
      }
    } else {
      const liveRules: PolicyRule[] = Array.isArray(next.rules) ? next.rules : [];
      const missing = (want.rules as PolicyRule[]).filter((r) => !covers(liveRules, [r]).covered);
      if (missing.length) {
        next.rules = [...liveRules, ...structuredClone(missing)];
        changed = true;
      }
    }
  } else {
    const liveSubjects: KObject[] = Array.isArray(next.subjects) ? next.subjects : [];
    const key = (s: KObject) => `${s.kind}|${s.apiGroup ?? ''}|${s.namespace ?? ''}|${s.name}`;
    const have = new Set(liveSubjects.map(key));
    const missing = (want.subjects as KObject[]).filter((s) => !have.has(key(s)));
    if (missing.length) {
      next.subjects = [...liveSubjects, ...structuredClone(missing)];
      changed = true;
    }
  }
  return changed ? next : undefined;
}

/**
 * Create the bootstrap policy objects that are missing and add what is missing to those marked
 * `rbac.authorization.kubernetes.io/autoupdate: "true"` (rules, subjects, labels), as upstream's
 * apiserver does on start. Writes go through the stores without a user (no admission checks).
 */
export async function reconcileBootstrapPolicy(lookup: StoreLookup, policy = bootstrapPolicy()): Promise<void> {
  const sets: [string, KObject[]][] = [
    ['clusterroles', policy.clusterRoles],
    ['clusterrolebindings', policy.clusterRoleBindings],
    ['roles', policy.roles],
    ['rolebindings', policy.roleBindings],
  ];
  let created = 0;
  let updated = 0;
  for (const [resource, objs] of sets) {
    const store = lookup(rbacGroup, resource);
    if (!store) throw new Error(`bootstrap policy: no store for ${resource}.${rbacGroup}`);
    // All at once: the store commits the writes of one turn together (one sync instead of dozens).
    await Promise.all(
      objs.map(async (want) => {
        const ns: string = want.metadata.namespace ?? '';
        const name: string = want.metadata.name;
        let live: KObject | undefined;
        try {
          live = await store.get({ namespace: ns, name });
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
        try {
          if (!live) {
            await store.create(ns, structuredClone(want));
            created++;
            return;
          }
          const next = reconcile(live, want);
          if (next) {
            await store.update({ namespace: ns, name }, next);
            updated++;
            log.info('reconciled bootstrap policy object', { resource, name });
          }
        } catch (e) {
          // Another server created or changed it at the same time: it will be reconciled on its next start.
          if (e instanceof StatusError && (e.code === 409 || e.code === 404)) return;
          throw e;
        }
      }),
    );
  }
  if (created || updated) log.info('reconciled bootstrap RBAC policy', { created, updated });
}
