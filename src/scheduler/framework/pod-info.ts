/**
 * A pod with everything the plugins need pre-parsed (upstream's framework.PodInfo): requests,
 * host ports, images and affinity terms with compiled selectors. Built once per pod object and
 * memoised, so the per-node hot path never re-parses a quantity or a selector.
 */
import { everything, labelSelectorFromObject, nothing, selectorMatches, type LabelSelector } from '../../api/labels/label-selector.js';
import { computePodRequests, type Resource } from './resources.js';
import type { Pod, PodAffinityTerm, WeightedPodAffinityTerm } from './types.js';

/**
 * A selector compiled for fast matching: selectors made only of equality and exists
 * requirements (matchLabels, the common case) compare straight against the labels; anything
 * else defers to selectorMatches. Plain data plus one shared function, not a closure per
 * selector, so the matching call site stays monomorphic across thousands of pods.
 */
export interface LabelMatcher {
  /** 0 nothing, 1 everything, 2 equality/exists only, 3 general. */
  readonly kind: 0 | 1 | 2 | 3;
  readonly keys: readonly string[];
  /** The required value per key; undefined for `exists`. */
  readonly values: ReadonlyArray<string | undefined>;
  readonly selector: LabelSelector;
}

/** Compile a selector into a {@link LabelMatcher}. */
export function compileLabelMatcher(sel: LabelSelector): LabelMatcher {
  if (sel.nothing) return { kind: 0, keys: [], values: [], selector: sel };
  const reqs = sel.requirements;
  if (reqs.length === 0) return { kind: 1, keys: [], values: [], selector: sel };
  const simple = reqs.every((r) => ((r.operator === '=' || r.operator === '==' || r.operator === 'in') && r.values.length === 1) || r.operator === 'exists');
  if (!simple) return { kind: 3, keys: [], values: [], selector: sel };
  return { kind: 2, keys: reqs.map((r) => r.key), values: reqs.map((r) => (r.operator === 'exists' ? undefined : r.values[0])), selector: sel };
}

const hasOwn = Object.prototype.hasOwnProperty;

/** Does the compiled selector match these labels? */
export function labelsMatch(m: LabelMatcher, labels: Record<string, string>): boolean {
  switch (m.kind) {
    case 0:
      return false;
    case 1:
      return true;
    case 2: {
      const keys = m.keys;
      const values = m.values;
      for (let i = 0; i < keys.length; i++) {
        const want = values[i];
        if (want === undefined) {
          if (!hasOwn.call(labels, keys[i])) return false;
        } else if (labels[keys[i]] !== want) return false;
      }
      return true;
    }
    default:
      return selectorMatches(m.selector, labels);
  }
}

/** A compiled pod (anti-)affinity term. */
export interface AffinityTerm {
  /** Namespaces listed by the term, or the pod's own when neither namespaces nor namespaceSelector is set. */
  namespaces: ReadonlySet<string>;
  selector: LabelSelector;
  /** `selector` compiled. */
  matches: LabelMatcher;
  topologyKey: string;
  /** `nothing` when the term has no namespaceSelector; `everything` for `{}`. */
  namespaceSelector: LabelSelector;
}

/** A compiled preferred term with its weight. */
export interface WeightedAffinityTerm extends AffinityTerm {
  weight: number;
}

/** A host port a pod claims. */
export interface HostPort {
  ip: string;
  protocol: string;
  port: number;
}

/** Looks up a namespace's labels, for terms with a namespaceSelector. */
export type NamespaceLabels = (namespace: string) => Record<string, string> | undefined;

const EMPTY_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_TERMS: readonly never[] = Object.freeze([]) as readonly never[];

/** Upstream's normalizedImageName: a name without a tag gets `:latest`. */
export function normalizedImageName(name: string): string {
  if (name.lastIndexOf(':') <= name.lastIndexOf('/')) return `${name}:latest`;
  return name;
}

/** A pod and its parsed scheduling data. */
export class PodInfo {
  readonly pod: Pod;
  /** Cache key: the UID, or namespace/name for objects without one. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly priority: number;
  /** Requests as the Fit filter counts them. */
  readonly requests: Resource;
  /** Requests with 100m / 200Mi defaults for containers that omit cpu / memory, for scoring. */
  readonly nonZeroRequests: Resource;
  readonly hostPorts: readonly HostPort[];
  /** Normalized image names of init and app containers. */
  readonly images: readonly string[];
  readonly requiredAffinityTerms: readonly AffinityTerm[];
  readonly requiredAntiAffinityTerms: readonly AffinityTerm[];
  readonly preferredAffinityTerms: readonly WeightedAffinityTerm[];
  readonly preferredAntiAffinityTerms: readonly WeightedAffinityTerm[];
  /** Selector parse errors from the affinity terms, if any. */
  readonly parseError: string | undefined;
  /** status.startTime in milliseconds since the epoch; +Infinity ("now") while unset, as upstream's GetPodStartTime. */
  readonly startTime: number;

  /** Has any pod (anti-)affinity term (upstream's PodsWithAffinity membership). */
  readonly hasAffinity: boolean;
  readonly hasRequiredAntiAffinity: boolean;
  /** Is the pod being deleted? */
  readonly terminating: boolean;

  /**
   * Parse `pod`. With `base`, reuse its parsed data instead: `pod` is a copy of `base.pod` whose
   * scheduling inputs are unchanged (e.g. spec.nodeName set when the scheduler assumes it).
   * Both paths assign fields in the same order, so every PodInfo shares one object shape.
   */
  constructor(pod: Pod, base?: PodInfo) {
    this.pod = pod;
    if (base) {
      this.key = base.key;
      this.namespace = base.namespace;
      this.name = base.name;
      this.labels = base.labels;
      this.priority = base.priority;
      this.requests = base.requests;
      this.nonZeroRequests = base.nonZeroRequests;
      this.hostPorts = base.hostPorts;
      this.images = base.images;
      this.requiredAffinityTerms = base.requiredAffinityTerms;
      this.requiredAntiAffinityTerms = base.requiredAntiAffinityTerms;
      this.preferredAffinityTerms = base.preferredAffinityTerms;
      this.preferredAntiAffinityTerms = base.preferredAntiAffinityTerms;
      this.parseError = base.parseError;
      this.startTime = base.startTime;
      this.hasAffinity = base.hasAffinity;
      this.hasRequiredAntiAffinity = base.hasRequiredAntiAffinity;
      this.terminating = !!pod.metadata?.deletionTimestamp;
      return;
    }
    const meta = pod.metadata ?? {};
    this.key = meta.uid || `${meta.namespace ?? 'default'}/${meta.name ?? ''}`;
    this.namespace = meta.namespace ?? 'default';
    this.name = meta.name ?? '';
    this.labels = meta.labels ?? EMPTY_LABELS;
    const spec = pod.spec ?? {};
    this.priority = spec.priority ?? 0;
    this.requests = computePodRequests(pod, false);
    this.nonZeroRequests = computePodRequests(pod, true);
    const ports: HostPort[] = [];
    const images: string[] = [];
    for (const c of spec.initContainers ?? []) {
      if (c.image) images.push(normalizedImageName(c.image));
      if (c.restartPolicy === 'Always') collectPorts(c.ports, ports);
    }
    for (const c of spec.containers ?? []) {
      if (c.image) images.push(normalizedImageName(c.image));
      collectPorts(c.ports, ports);
    }
    this.hostPorts = ports.length ? ports : NO_TERMS;
    this.images = images;
    const errors: string[] = [];
    const aff = spec.affinity;
    this.requiredAffinityTerms = compileTerms(this, aff?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution, errors);
    this.requiredAntiAffinityTerms = compileTerms(this, aff?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution, errors);
    this.preferredAffinityTerms = compileWeighted(this, aff?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution, errors);
    this.preferredAntiAffinityTerms = compileWeighted(this, aff?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution, errors);
    this.parseError = errors.length ? errors.join('; ') : undefined;
    const st = pod.status?.startTime;
    const t = st ? Date.parse(st) : NaN;
    this.startTime = Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
    this.hasAffinity =
      this.requiredAffinityTerms.length + this.requiredAntiAffinityTerms.length + this.preferredAffinityTerms.length + this.preferredAntiAffinityTerms.length > 0;
    this.hasRequiredAntiAffinity = this.requiredAntiAffinityTerms.length > 0;
    this.terminating = !!meta.deletionTimestamp;
  }

  /** The node the pod is bound (or assumed) to. */
  get nodeName(): string {
    return this.pod.spec?.nodeName ?? '';
  }
}

function collectPorts(list: Array<{ containerPort: number; hostPort?: number; hostIP?: string; protocol?: string }> | undefined, out: HostPort[]): void {
  if (!list) return;
  for (const p of list) {
    if (!p.hostPort || p.hostPort <= 0) continue;
    out.push({ ip: p.hostIP || '0.0.0.0', protocol: p.protocol || 'TCP', port: p.hostPort });
  }
}

function compileSelector(obj: PodAffinityTerm['labelSelector'], errors: string[]): LabelSelector {
  try {
    return labelSelectorFromObject(obj);
  } catch (e) {
    errors.push((e as Error).message);
    return nothing;
  }
}

/** Compile one v1 PodAffinityTerm for `owner` (whose namespace is the default). */
export function compileAffinityTerm(owner: { namespace: string }, t: PodAffinityTerm, errors: string[] = []): AffinityTerm {
  const nsSel = t.namespaceSelector === undefined || t.namespaceSelector === null ? nothing : compileSelector(t.namespaceSelector, errors);
  const namespaces = new Set<string>(t.namespaces ?? []);
  if (namespaces.size === 0 && (t.namespaceSelector === undefined || t.namespaceSelector === null)) namespaces.add(owner.namespace);
  const selector = compileSelector(t.labelSelector, errors);
  return { namespaces, selector, matches: compileLabelMatcher(selector), topologyKey: t.topologyKey, namespaceSelector: nsSel };
}

// Replicas of one workload carry identical terms; sharing one compiled term keeps matching cache-friendly.
const termCache = new Map<string, AffinityTerm | WeightedAffinityTerm>();
const TERM_CACHE_LIMIT = 10_000;

function cachedTerm<T extends AffinityTerm>(key: string, build: () => T, errors: string[]): T {
  const hit = termCache.get(key) as T | undefined;
  if (hit) return hit;
  const before = errors.length;
  const t = build();
  // Terms that failed to parse are not shared, so every pod reports its own error.
  if (errors.length === before) {
    if (termCache.size >= TERM_CACHE_LIMIT) termCache.clear();
    termCache.set(key, t);
  }
  return t;
}

function compileTerms(owner: { namespace: string }, terms: PodAffinityTerm[] | undefined, errors: string[]): readonly AffinityTerm[] {
  if (!terms || terms.length === 0) return NO_TERMS;
  return terms.map((t) => cachedTerm(`${owner.namespace}\u0000${JSON.stringify(t)}`, () => compileAffinityTerm(owner, t, errors), errors));
}

function compileWeighted(owner: { namespace: string }, terms: WeightedPodAffinityTerm[] | undefined, errors: string[]): readonly WeightedAffinityTerm[] {
  if (!terms || terms.length === 0) return NO_TERMS;
  return terms.map((t) =>
    cachedTerm(`${owner.namespace}\u0000w\u0000${JSON.stringify(t)}`, () => ({ ...compileAffinityTerm(owner, t.podAffinityTerm, errors), weight: t.weight }), errors),
  );
}

/**
 * Does `pod` fall under `term` — in one of its namespaces (or one its namespaceSelector picks)
 * and matching its label selector? (upstream's AffinityTerm.Matches)
 */
export function affinityTermMatches(term: AffinityTerm, pod: PodInfo, nsLabels?: NamespaceLabels): boolean {
  let nsOk = term.namespaces.has(pod.namespace);
  if (!nsOk && !term.namespaceSelector.nothing) {
    if (term.namespaceSelector === everything || term.namespaceSelector.requirements.length === 0) nsOk = true;
    else {
      const labels = nsLabels?.(pod.namespace);
      nsOk = labels !== undefined && selectorMatches(term.namespaceSelector, labels);
    }
  }
  return nsOk && labelsMatch(term.matches, pod.labels);
}

/** Does `pod` match every term? False for no terms (upstream's podMatchesAllAffinityTerms). */
export function podMatchesAllAffinityTerms(terms: readonly AffinityTerm[], pod: PodInfo, nsLabels?: NamespaceLabels): boolean {
  if (terms.length === 0) return false;
  for (const t of terms) if (!affinityTermMatches(t, pod, nsLabels)) return false;
  return true;
}

const infos = new WeakMap<Pod, PodInfo>();

/** The PodInfo for a pod object, built on first use. Pod objects are treated as immutable: an update is a new object. */
export function podInfoFor(pod: Pod): PodInfo {
  let pi = infos.get(pod);
  if (pi === undefined) {
    pi = new PodInfo(pod);
    infos.set(pod, pi);
  }
  return pi;
}

/**
 * The PodInfo for `pod`, a changed copy of `base.pod` (e.g. with spec.nodeName set when the
 * scheduler assumes it) whose scheduling inputs are unchanged: the parsed data is reused.
 */
export function derivePodInfo(base: PodInfo, pod: Pod): PodInfo {
  const pi = new PodInfo(pod, base);
  infos.set(pod, pi);
  return pi;
}

/** The pod's cache key (UID, else namespace/name). */
export function podKey(pod: Pod): string {
  const m = pod.metadata ?? {};
  return m.uid || `${m.namespace ?? 'default'}/${m.name ?? ''}`;
}
