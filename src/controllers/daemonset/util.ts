/**
 * Pure DaemonSet rules (upstream's pkg/controller/daemon/util and the parts of daemon_controller
 * that decide where daemon pods run): template hashing, the tolerations daemon pods always get,
 * node eligibility, and the node affinity that pins a pod to its node.
 */
import { contentHash } from '../common/hash.js';
import type { KObject } from '../../client/rest-client.js';
import {
  podFitsNodeSelectorAndAffinity,
  TaintNodeDiskPressure,
  TaintNodeMemoryPressure,
  TaintNodeNetworkUnavailable,
  TaintNodeNotReady,
  TaintNodePIDPressure,
  TaintNodeUnreachable,
  TaintNodeUnschedulable,
  tolerationsTolerateTaint,
  type Taint,
  type Toleration,
} from '../common/taints.js';

/** Label carrying the hash of the template a daemon pod was made from. */
export const CONTROLLER_REVISION_HASH_LABEL = 'controller-revision-hash';

/**
 * The controller-revision-hash of a template and collision count: FNV-1a over the canonical
 * JSON, its decimal digits mapped to consonants and digits (as upstream's SafeEncodeString) so
 * it never spells words.
 */
export function templateHash(template: KObject | undefined, collisionCount?: number): string {
  return contentHash(template ?? {}, collisionCount);
}

/** Tolerations upstream adds to every daemon pod (AddOrUpdateDaemonPodTolerations). */
export function daemonPodTolerations(spec: KObject | undefined): Toleration[] {
  const want: Toleration[] = [
    { key: TaintNodeNotReady, operator: 'Exists', effect: 'NoExecute' },
    { key: TaintNodeUnreachable, operator: 'Exists', effect: 'NoExecute' },
    { key: TaintNodeDiskPressure, operator: 'Exists', effect: 'NoSchedule' },
    { key: TaintNodeMemoryPressure, operator: 'Exists', effect: 'NoSchedule' },
    { key: TaintNodePIDPressure, operator: 'Exists', effect: 'NoSchedule' },
    { key: TaintNodeUnschedulable, operator: 'Exists', effect: 'NoSchedule' },
  ];
  if (spec?.hostNetwork) want.push({ key: TaintNodeNetworkUnavailable, operator: 'Exists', effect: 'NoSchedule' });
  const out: Toleration[] = [...(spec?.tolerations ?? [])];
  for (const w of want) {
    // Same key, operator, value and effect: the automatic one (no tolerationSeconds) replaces it.
    const i = out.findIndex((t) => t.key === w.key && (t.operator ?? 'Equal') === w.operator && (t.value ?? '') === '' && t.effect === w.effect);
    if (i >= 0) out[i] = w;
    else out.push(w);
  }
  return out;
}

/** The node a daemon pod is meant for: its nodeName, or the name its node affinity pins. */
export function targetNodeName(pod: KObject): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  const terms: KObject[] = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const t of terms) {
    for (const f of t.matchFields ?? []) if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0];
  }
  return undefined;
}

/**
 * The pod spec's affinity with its required node affinity replaced by one term pinning
 * `nodeName` through matchFields (upstream's ReplaceDaemonSetPodNodeNameNodeAffinity).
 */
export function pinToNode(affinity: KObject | undefined, nodeName: string): KObject {
  const term = { matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] };
  const na = affinity?.nodeAffinity ?? {};
  return { ...affinity, nodeAffinity: { ...na, requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [term] } } };
}

/**
 * Whether a daemon pod should be created on the node (`shouldRun`) and whether one already there
 * may stay (`shouldContinueRunning`): the selector and affinity must match, and every NoExecute
 * taint must be tolerated; untolerated NoSchedule taints only block new pods.
 */
export function nodeShouldRunDaemonPod(node: KObject, ds: KObject): { shouldRun: boolean; shouldContinueRunning: boolean } {
  const spec = ds.spec?.template?.spec ?? {};
  const no = { shouldRun: false, shouldContinueRunning: false };
  if (spec.nodeName && spec.nodeName !== node.metadata?.name) return no;
  if (!podFitsNodeSelectorAndAffinity(spec, node)) return no;
  const tolerations = daemonPodTolerations(spec);
  let shouldRun = true;
  for (const taint of (node.spec?.taints ?? []) as Taint[]) {
    if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
    if (tolerationsTolerateTaint(tolerations, taint)) continue;
    if (taint.effect === 'NoExecute') return no;
    shouldRun = false;
  }
  return { shouldRun, shouldContinueRunning: true };
}

/** A maxUnavailable (int or percent string) resolved against the desired count (percentages round up); 1 when unset. */
export function resolveMaxUnavailable(value: unknown, desired: number): number {
  if (value === undefined || value === null) return 1;
  if (typeof value === 'string' && value.endsWith('%')) return Math.ceil((Number.parseInt(value, 10) * desired) / 100);
  return Number(value);
}

export { isPodReady } from '../common/pods.js';

/** Ready for at least minReadySeconds. */
export function isPodAvailable(pod: KObject, minReadySeconds: number, nowMs: number): boolean {
  const c = pod.status?.conditions?.find((x: KObject) => x.type === 'Ready' && x.status === 'True');
  if (!c) return false;
  if (minReadySeconds <= 0) return true;
  const t = Date.parse(c.lastTransitionTime ?? '');
  return !Number.isNaN(t) && t + minReadySeconds * 1000 <= nowMs;
}
