/**
 * Taint, toleration and node-selector matching for controllers that reason about nodes (node
 * lifecycle, DaemonSet). Controllers may not import the scheduler, so these small rules live here.
 */
import type { KObject } from '../../client/rest-client.js';

/** A node taint (`spec.taints[]`). */
export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

/** A pod toleration (`spec.tolerations[]`). */
export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

/** Well-known taint keys the node lifecycle controller manages. */
export const TaintNodeNotReady = 'node.kubernetes.io/not-ready';
export const TaintNodeUnreachable = 'node.kubernetes.io/unreachable';
export const TaintNodeUnschedulable = 'node.kubernetes.io/unschedulable';
export const TaintNodeMemoryPressure = 'node.kubernetes.io/memory-pressure';
export const TaintNodeDiskPressure = 'node.kubernetes.io/disk-pressure';
export const TaintNodePIDPressure = 'node.kubernetes.io/pid-pressure';
export const TaintNodeNetworkUnavailable = 'node.kubernetes.io/network-unavailable';

/** Whether one toleration tolerates the taint (upstream's Toleration.ToleratesTaint). */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? 'Equal') {
    case 'Exists':
      return true;
    case 'Equal':
    case '':
      // An empty key with Equal is invalid; it tolerates nothing.
      return !!t.key && (t.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

/** The tolerations that tolerate the taint. */
export function tolerationsFor(tolerations: readonly Toleration[] | undefined, taint: Taint): Toleration[] {
  return (tolerations ?? []).filter((t) => toleratesTaint(t, taint));
}

/** Whether some toleration tolerates the taint. */
export function tolerationsTolerateTaint(tolerations: readonly Toleration[] | undefined, taint: Taint): boolean {
  return (tolerations ?? []).some((t) => toleratesTaint(t, taint));
}

/** Whether the taint is the same taint (key and effect identify it). */
export function sameTaint(a: Taint, b: Taint): boolean {
  return a.key === b.key && a.effect === b.effect;
}

function requirementMatches(req: KObject, value: string | undefined): boolean {
  const values: string[] = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      if (value === undefined || values.length !== 1) return false;
      const a = Number.parseInt(value, 10);
      const b = Number.parseInt(values[0]!, 10);
      if (Number.isNaN(a) || Number.isNaN(b)) return false;
      return req.operator === 'Gt' ? a > b : a < b;
    }
    default:
      return false;
  }
}

/** Whether a NodeSelectorTerm matches (all its expressions and fields); an empty term matches nothing. */
export function nodeSelectorTermMatches(term: KObject, node: KObject): boolean {
  const exprs: KObject[] = term.matchExpressions ?? [];
  const fields: KObject[] = term.matchFields ?? [];
  if (!exprs.length && !fields.length) return false;
  const labels: Record<string, string> = node.metadata?.labels ?? {};
  for (const e of exprs) if (!requirementMatches(e, Object.hasOwn(labels, e.key) ? labels[e.key] : undefined)) return false;
  for (const f of fields) {
    // metadata.name is the only supported field.
    if (f.key !== 'metadata.name') return false;
    if (!requirementMatches(f, node.metadata?.name)) return false;
  }
  return true;
}

/**
 * Whether the pod's node selector and required node affinity both admit the node (upstream's
 * GetRequiredNodeAffinity(pod).Match(node)).
 */
export function podFitsNodeSelectorAndAffinity(podSpec: KObject | undefined, node: KObject): boolean {
  const labels: Record<string, string> = node.metadata?.labels ?? {};
  for (const [k, v] of Object.entries((podSpec?.nodeSelector ?? {}) as Record<string, string>)) if (labels[k] !== v) return false;
  const terms: KObject[] | undefined = podSpec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms === undefined) return true;
  return terms.some((t) => nodeSelectorTermMatches(t, node));
}
