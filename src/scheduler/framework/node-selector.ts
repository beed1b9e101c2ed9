/**
 * Node selector and node affinity matching (upstream's component-helpers nodeaffinity): the
 * pod's nodeSelector map AND its required node affinity terms (ORed), and preferred-term weights.
 */
import type { Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PreferredSchedulingTerm } from './types.js';

const INT_RE = /^[-+]?\d+$/;

function requirementMatches(r: NodeSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return has && values.includes(labels[r.key]);
    case 'NotIn':
      return !has || !values.includes(labels[r.key]);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has || values.length !== 1 || !INT_RE.test(values[0]) || !INT_RE.test(labels[r.key])) return false;
      const lv = BigInt(labels[r.key]);
      const rv = BigInt(values[0]);
      return r.operator === 'Gt' ? lv > rv : lv < rv;
    }
    default:
      return false;
  }
}

function fieldMatches(r: NodeSelectorRequirement, nodeName: string): boolean {
  if (r.key !== 'metadata.name') return false;
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return values.length === 1 && values[0] === nodeName;
    case 'NotIn':
      return values.length === 1 && values[0] !== nodeName;
    default:
      return false;
  }
}

function isEmptyTerm(t: NodeSelectorTerm): boolean {
  return (t.matchExpressions?.length ?? 0) === 0 && (t.matchFields?.length ?? 0) === 0;
}

/** Does one node selector term match? An empty term matches nothing. */
export function nodeSelectorTermMatches(t: NodeSelectorTerm, node: Node): boolean {
  if (isEmptyTerm(t)) return false;
  const labels = node.metadata?.labels ?? {};
  for (const r of t.matchExpressions ?? []) if (!requirementMatches(r, labels)) return false;
  const name = node.metadata?.name ?? '';
  for (const r of t.matchFields ?? []) if (!fieldMatches(r, name)) return false;
  return true;
}

/** Does any term of the selector match? */
export function nodeSelectorMatches(sel: NodeSelector, node: Node): boolean {
  for (const t of sel.nodeSelectorTerms ?? []) if (nodeSelectorTermMatches(t, node)) return true;
  return false;
}

/** A pod's required node constraints: spec.nodeSelector and required node affinity (upstream's RequiredNodeAffinity). */
export class RequiredNodeAffinity {
  private readonly labelSelector: Array<[string, string]> | null;
  private readonly required: NodeSelector | null;

  constructor(pod: Pod) {
    const ns = pod.spec?.nodeSelector;
    this.labelSelector = ns && Object.keys(ns).length > 0 ? Object.entries(ns) : null;
    this.required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? null;
  }

  /** True when the pod constrains nothing. */
  get isEmpty(): boolean {
    return this.labelSelector === null && this.required === null;
  }

  /** Does the node satisfy both the nodeSelector and the required affinity? */
  match(node: Node): boolean {
    if (this.labelSelector) {
      const labels = node.metadata?.labels ?? {};
      for (const [k, v] of this.labelSelector) if (labels[k] !== v) return false;
    }
    if (this.required) return nodeSelectorMatches(this.required, node);
    return true;
  }
}

/** The sum of the weights of the preferred terms the node matches (zero-weight and empty terms are skipped). */
export function preferredTermsScore(terms: readonly PreferredSchedulingTerm[], node: Node): number {
  let score = 0;
  for (const t of terms) {
    if (!t.weight) continue;
    if (nodeSelectorTermMatches(t.preference, node)) score += t.weight;
  }
  return score;
}
