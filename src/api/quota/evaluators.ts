/**
 * Quota evaluators (upstream's pkg/quota/v1/evaluator/core and apiserver's quota/v1/generic): for
 * each kind, which quota resource names it uses, how much one object uses, and which quota scopes
 * it falls in. Pure functions over plain objects, shared by ResourceQuota admission and the
 * ResourceQuota controller.
 */
import type { GroupResource } from '../errors.js';
import { computePodQOS } from '../defaulting/pod.js';
import { Quantity, tryParseQuantity } from '../quantity.js';
import { addLists, maskList, parseResourceList, type ResourceList } from './resource-list.js';
import { podLimits, podRequests } from './pod-resources.js';

type Obj = Record<string, any>;
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const one = () => Quantity.fromValue(1);

/** One scope requirement of a quota: spec.scopes entries become `Exists` requirements. */
export interface ScopeRequirement {
  scopeName: string;
  operator: string;
  values?: string[];
}

/** What quota needs to know about one kind. */
export interface QuotaEvaluator {
  readonly groupResource: GroupResource;
  /** The quota resource names, out of `names`, that this kind's objects use. */
  matchingResources(names: string[]): string[];
  /** Whether an object is within a scope requirement (kinds without scopes: never). */
  matchesScope(req: ScopeRequirement, obj: Obj): boolean;
  /** What one object uses. `now` decides whether a deleted pod's grace period is over. */
  usage(obj: Obj, now?: Date): ResourceList;
  /** Why the object cannot be admitted under a quota tracking `required`, e.g. `must specify cpu for: c`. */
  constraints(required: string[], obj: Obj): string | undefined;
  /** Whether a write with this operation can change usage. */
  handles(operation: string): boolean;
}

/** `count/<resource>` or `count/<resource>.<group>`. */
export function objectCountName(gr: GroupResource): string {
  return gr.group ? `count/${gr.resource}.${gr.group}` : `count/${gr.resource}`;
}

/** A quota's scopes and scope selector as requirements (upstream's getScopeSelectorsFromQuota). */
export function scopeSelectorsOf(quota: Obj): ScopeRequirement[] {
  const out: ScopeRequirement[] = arr(quota?.spec?.scopes).map((s) => ({ scopeName: String(s), operator: 'Exists' }));
  for (const e of arr(quota?.spec?.scopeSelector?.matchExpressions)) {
    out.push({ scopeName: String(e?.scopeName ?? ''), operator: String(e?.operator ?? ''), values: Array.isArray(e?.values) ? e.values.map(String) : [] });
  }
  return out;
}

/** Whether the quota applies to the object: it limits something the kind uses, and every scope matches. */
export function quotaMatches(quota: Obj, obj: Obj, ev: QuotaEvaluator, hardFrom: 'status' | 'spec' = 'status'): boolean {
  const hard = Object.keys(parseResourceList(hardFrom === 'status' ? quota?.status?.hard : quota?.spec?.hard));
  if (ev.matchingResources(hard).length === 0) return false;
  return scopeSelectorsOf(quota).every((s) => ev.matchesScope(s, obj));
}

const intersect = (names: string[], known: readonly string[]) => names.filter((n) => known.includes(n));

// ---- object counts ------------------------------------------------------------------------------

/** The generic evaluator: one object is one `count/<resource>` (and the legacy alias, if any). */
export function objectCountEvaluator(gr: GroupResource, alias?: string): QuotaEvaluator {
  const names = alias ? [objectCountName(gr), alias] : [objectCountName(gr)];
  return {
    groupResource: gr,
    matchingResources: (input) => intersect(input, names),
    matchesScope: () => false,
    usage: () => Object.fromEntries(names.map((n) => [n, one()])),
    constraints: () => undefined,
    handles: (op) => op === 'CREATE',
  };
}

// ---- pods -------------------------------------------------------------------------------------

const podResources = [
  'count/pods',
  'cpu',
  'memory',
  'ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'pods',
] as const;

/** Quota makes containers name these explicitly (an upstream mistake kept for compatibility). */
const validationSet = new Set(['cpu', 'memory', 'requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory']);

/** Native resources have no domain, or the kubernetes.io domain. */
function isNativeResource(name: string): boolean {
  return !name.includes('/') || name.includes('kubernetes.io/');
}
/** An extended resource, e.g. `example.com/gpu` (quota tracks it as `requests.example.com/gpu`). */
export function isExtendedResourceName(name: string): boolean {
  return !isNativeResource(name) && !name.startsWith('requests.');
}
function isExtendedQuotaName(name: string): boolean {
  return !isNativeResource(name) && name.startsWith('requests.');
}

/** What a set of requests and limits uses (upstream's podComputeUsageHelper). */
export function computeUsage(requests: ResourceList, limits: ResourceList): ResourceList {
  const r: ResourceList = { pods: one() };
  for (const res of ['cpu', 'memory', 'ephemeral-storage']) {
    if (requests[res]) {
      r[res] = requests[res];
      r[`requests.${res}`] = requests[res];
    }
    if (limits[res]) r[`limits.${res}`] = limits[res];
  }
  for (const [name, q] of Object.entries(requests)) {
    if (name.startsWith('hugepages-')) {
      r[name] = q;
      r[`requests.${name}`] = q;
    }
    if (isExtendedResourceName(name)) r[`requests.${name}`] = q;
  }
  return r;
}

/**
 * Whether a pod is charged for compute: not terminal, and not deleted past its grace period
 * (upstream's QuotaV1Pod).
 */
export function podChargesCompute(pod: Obj, now = new Date()): boolean {
  const phase = pod?.status?.phase;
  if (phase === 'Failed' || phase === 'Succeeded') return false;
  const ts = pod?.metadata?.deletionTimestamp;
  const grace = pod?.metadata?.deletionGracePeriodSeconds;
  if (ts && typeof grace === 'number') {
    const end = Date.parse(ts) + grace * 1000;
    if (now.getTime() > end) return false;
  }
  return true;
}

function isTerminating(pod: Obj): boolean {
  const ads = pod?.spec?.activeDeadlineSeconds;
  return typeof ads === 'number' && ads >= 0;
}

function crossNamespaceAffinity(pod: Obj): boolean {
  const aff = pod?.spec?.affinity ?? {};
  const cross = (t: Obj) => (Array.isArray(t?.namespaces) && t.namespaces.length > 0) || (t?.namespaceSelector !== undefined && t?.namespaceSelector !== null);
  for (const kind of ['podAffinity', 'podAntiAffinity']) {
    const a = aff[kind] ?? {};
    if (arr(a.requiredDuringSchedulingIgnoredDuringExecution).some(cross)) return true;
    if (arr(a.preferredDuringSchedulingIgnoredDuringExecution).some((w) => cross(w?.podAffinityTerm))) return true;
  }
  return false;
}

/** A PriorityClass requirement against the pod's priorityClassName, as a label selector would match it. */
function priorityClassMatches(req: ScopeRequirement, pod: Obj): boolean {
  const name: string = pod?.spec?.priorityClassName ?? '';
  const has = name !== '';
  const values = req.values ?? [];
  switch (req.operator) {
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'In':
      return has && values.includes(name);
    case 'NotIn':
      return !has || !values.includes(name);
    default:
      return false;
  }
}

/** Whether a pod is within a quota scope (upstream's podMatchesScopeFunc). */
export function podMatchesScope(req: ScopeRequirement, pod: Obj): boolean {
  switch (req.scopeName) {
    case 'Terminating':
      return isTerminating(pod);
    case 'NotTerminating':
      return !isTerminating(pod);
    case 'BestEffort':
      return computePodQOS(pod) === 'BestEffort';
    case 'NotBestEffort':
      return computePodQOS(pod) !== 'BestEffort';
    case 'PriorityClass':
      return priorityClassMatches(req, pod);
    case 'CrossNamespacePodAffinity':
      return crossNamespaceAffinity(pod);
    default:
      return false;
  }
}

/** What a pod uses: `count/pods` always; compute only while it is charged (upstream's PodUsageFunc). */
export function podUsage(pod: Obj, now = new Date()): ResourceList {
  const r: ResourceList = { 'count/pods': one() };
  if (!podChargesCompute(pod, now)) return r;
  return addLists(r, computeUsage(podRequests(pod, { overhead: true }), podLimits(pod, { overhead: true })));
}

/** The pod evaluator. Pods are charged on create only: their resources do not change on update. */
export const podEvaluator: QuotaEvaluator = {
  groupResource: { group: '', resource: 'pods' },
  matchingResources(input) {
    const out = intersect(input, podResources);
    for (const n of input) {
      if (n.startsWith('hugepages-') || n.startsWith('requests.hugepages-') || isExtendedQuotaName(n)) out.push(n);
    }
    return [...new Set(out)];
  },
  matchesScope: podMatchesScope,
  usage: podUsage,
  constraints(required, pod) {
    const need = required.filter((r) => validationSet.has(r));
    if (need.length === 0) return undefined;
    const missing = new Map<string, Set<string>>();
    for (const c of [...arr(pod?.spec?.containers), ...arr(pod?.spec?.initContainers)]) {
      const have = computeUsage(parseResourceList(c?.resources?.requests), parseResourceList(c?.resources?.limits));
      for (const r of need) {
        if (have[r]) continue;
        if (!missing.has(r)) missing.set(r, new Set());
        missing.get(r)!.add(String(c?.name ?? ''));
      }
    }
    if (missing.size === 0) return undefined;
    const parts = [...missing.keys()].sort().map((r) => `${r} for: ${[...missing.get(r)!].sort().join(',')}`);
    return `must specify ${parts.join('; ')}`;
  },
  handles: (op) => op === 'CREATE',
};

// ---- services ---------------------------------------------------------------------------------

const serviceResources = ['count/services', 'services', 'services.nodeports', 'services.loadbalancers'] as const;

/** What a service uses: one service, its node ports, and a load balancer (upstream's serviceEvaluator.Usage). */
export function serviceUsage(svc: Obj): ResourceList {
  const ports = arr(svc?.spec?.ports);
  const r: ResourceList = {
    'count/services': one(),
    services: one(),
    'services.loadbalancers': Quantity.fromValue(0),
    'services.nodeports': Quantity.fromValue(0),
  };
  const type = svc?.spec?.type;
  if (type === 'NodePort') r['services.nodeports'] = Quantity.fromValue(ports.length);
  if (type === 'LoadBalancer') {
    // Without node port allocation only explicitly set node ports count.
    const n = svc?.spec?.allocateLoadBalancerNodePorts === false ? ports.filter((p) => p?.nodePort).length : ports.length;
    r['services.nodeports'] = Quantity.fromValue(n);
    r['services.loadbalancers'] = one();
  }
  return r;
}

/** The service evaluator: create and update (the type can change). */
export const serviceEvaluator: QuotaEvaluator = {
  groupResource: { group: '', resource: 'services' },
  matchingResources: (input) => intersect(input, serviceResources),
  matchesScope: () => false,
  usage: serviceUsage,
  constraints: () => undefined,
  handles: (op) => op === 'CREATE' || op === 'UPDATE',
};

/** Service types quota tells apart (upstream's GetQuotaServiceType). */
export function quotaServiceType(svc: Obj): string {
  const t = svc?.spec?.type;
  return t === 'NodePort' || t === 'LoadBalancer' ? t : '';
}

// ---- persistent volume claims -----------------------------------------------------------------

const pvcResources = ['count/persistentvolumeclaims', 'persistentvolumeclaims', 'requests.storage'] as const;
const storageClassSuffix = '.storageclass.storage.k8s.io/';

function pvcStorageClass(pvc: Obj): string {
  return pvc?.spec?.storageClassName ?? pvc?.metadata?.annotations?.['volume.beta.kubernetes.io/storage-class'] ?? '';
}

/** What a claim uses: one claim and its storage request (or the larger allocated size), also per storage class. */
export function pvcUsage(pvc: Obj): ResourceList {
  const r: ResourceList = { 'count/persistentvolumeclaims': one(), persistentvolumeclaims: one() };
  const cls = pvcStorageClass(pvc);
  if (cls) r[`${cls}${storageClassSuffix}persistentvolumeclaims`] = one();
  let storage = tryParseQuantity(pvc?.spec?.resources?.requests?.storage);
  const allocated = tryParseQuantity(pvc?.status?.allocatedResources?.storage);
  if (allocated && (!storage || allocated.cmp(storage) > 0)) storage = allocated;
  if (storage) {
    r['requests.storage'] = storage;
    if (cls) r[`${cls}${storageClassSuffix}requests.storage`] = storage;
  }
  return r;
}

/** The persistentvolumeclaims evaluator: create and update (claims can grow). */
export const pvcEvaluator: QuotaEvaluator = {
  groupResource: { group: '', resource: 'persistentvolumeclaims' },
  matchingResources(input) {
    const out = intersect(input, pvcResources);
    for (const n of input) {
      if (n.includes(storageClassSuffix) && (n.endsWith('/requests.storage') || n.endsWith('/persistentvolumeclaims'))) out.push(n);
    }
    return [...new Set(out)];
  },
  matchesScope: () => false,
  usage: pvcUsage,
  constraints: () => undefined,
  handles: (op) => op === 'CREATE' || op === 'UPDATE',
};

// ---- registry ---------------------------------------------------------------------------------

/** Kinds quota never charges: virtual resources and events (upstream's ignoredResources). */
const ignored = new Set([
  '/events',
  'events.k8s.io/events',
  '/bindings',
  '/componentstatuses',
  'authentication.k8s.io/tokenreviews',
  'authentication.k8s.io/selfsubjectreviews',
  'authorization.k8s.io/subjectaccessreviews',
  'authorization.k8s.io/selfsubjectaccessreviews',
  'authorization.k8s.io/localsubjectaccessreviews',
  'authorization.k8s.io/selfsubjectrulesreviews',
]);

/** Legacy names that count objects of these core kinds. */
const legacyAliases: Record<string, string> = {
  configmaps: 'configmaps',
  secrets: 'secrets',
  resourcequotas: 'resourcequotas',
  replicationcontrollers: 'replicationcontrollers',
};

/** Whether quota ignores the kind. */
export function isIgnoredResource(gr: GroupResource): boolean {
  return ignored.has(`${gr.group}/${gr.resource}`);
}

/** The evaluator for a kind: pods, services and claims have their own, every other kind is counted. */
export function evaluatorFor(gr: GroupResource): QuotaEvaluator | undefined {
  if (isIgnoredResource(gr)) return undefined;
  if (gr.group === '') {
    if (gr.resource === 'pods') return podEvaluator;
    if (gr.resource === 'services') return serviceEvaluator;
    if (gr.resource === 'persistentvolumeclaims') return pvcEvaluator;
    const alias = legacyAliases[gr.resource];
    if (alias) return objectCountEvaluator(gr, alias);
  }
  return objectCountEvaluator(gr);
}

/**
 * A quota's usage recomputed from the objects of its namespace (upstream's CalculateUsage): for
 * every evaluator tracking a hard resource, the summed usage of the objects in the quota's scopes.
 * `list` gives the namespace's objects of a kind, or undefined when they are not known; those
 * resources are left out of the result (the caller keeps the previous figure).
 */
export function calculateUsage(
  quota: Obj,
  evaluators: QuotaEvaluator[],
  list: (gr: GroupResource) => Obj[] | undefined,
  now = new Date(),
): ResourceList {
  const hardNames = Object.keys(parseResourceList(quota?.spec?.hard));
  const scopes = scopeSelectorsOf(quota);
  const matched = new Set<string>();
  let total: ResourceList = {};
  for (const ev of evaluators) {
    const names = ev.matchingResources(hardNames);
    if (names.length === 0) continue;
    const items = list(ev.groupResource);
    if (!items) continue;
    let used: ResourceList = Object.fromEntries(names.map((n) => [n, Quantity.fromValue(0)]));
    for (const it of items) {
      if (scopes.every((s) => ev.matchesScope(s, it))) used = addLists(used, ev.usage(it, now));
    }
    total = addLists(total, used);
    for (const n of names) matched.add(n);
  }
  return maskList(total, matched);
}
