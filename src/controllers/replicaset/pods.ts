/**
 * Pure pod helpers the ReplicaSet controller decides with: which pods count (active, ready,
 * available), the order extra pods are deleted in, and the pod a template stamps out.
 */
import type { KObject } from '../../client/rest-client.js';
import type { OwnerReference } from '../common/controller-ref.js';

/** The annotation that lowers or raises a pod's deletion preference (upstream's PodDeletionCost). */
export const POD_DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';

/** Not terminated and not being deleted (upstream's IsPodActive). */
export function isPodActive(pod: KObject): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata?.deletionTimestamp;
}

function readyCondition(pod: KObject): KObject | undefined {
  const conds = pod.status?.conditions;
  return Array.isArray(conds) ? conds.find((c: KObject) => c?.type === 'Ready') : undefined;
}

/** The Ready condition is True. */
export function isPodReady(pod: KObject): boolean {
  return readyCondition(pod)?.status === 'True';
}

/**
 * Ready for at least `minReadySeconds` (upstream's IsPodAvailable): with 0 any ready pod is
 * available; otherwise the Ready condition must have turned True more than that long ago.
 */
export function isPodAvailable(pod: KObject, minReadySeconds: number, nowMs: number): boolean {
  if (!isPodReady(pod)) return false;
  if (!minReadySeconds) return true;
  const t = Date.parse(readyCondition(pod)?.lastTransitionTime ?? '');
  return Number.isFinite(t) && t + minReadySeconds * 1000 < nowMs;
}

const phaseOrdinal: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function deletionCost(pod: KObject): number {
  const v = Number(pod.metadata?.annotations?.[POD_DELETION_COST_ANNOTATION]);
  return Number.isInteger(v) ? v : 0;
}

function maxRestarts(pod: KObject): number {
  let max = 0;
  for (const s of pod.status?.containerStatuses ?? []) max = Math.max(max, Number(s?.restartCount ?? 0));
  return max;
}

/** A timestamp in ms, with a missing one sorting as "newest" (upstream's afterOrZero treats zero as latest). */
function timeOrInfinity(ts: string | undefined): number {
  const t = Date.parse(ts ?? '');
  return Number.isFinite(t) ? t : Infinity;
}

/**
 * Sorts pods so the ones to delete first come first (upstream's ActivePodsWithRanks): unassigned
 * before assigned; Pending before Unknown before Running; not ready before ready; lower
 * deletion cost first; more pods of the same owner on the node first; ready more recently first;
 * more restarts first; newer before older.
 */
export function comparePodsForDeletion(a: KObject, b: KObject, rankA = 0, rankB = 0): number {
  const na = !!a.spec?.nodeName;
  const nb = !!b.spec?.nodeName;
  if (na !== nb) return na ? 1 : -1;
  const pa = phaseOrdinal[a.status?.phase] ?? 0;
  const pb = phaseOrdinal[b.status?.phase] ?? 0;
  if (pa !== pb) return pa - pb;
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return ra ? 1 : -1;
  const ca = deletionCost(a);
  const cb = deletionCost(b);
  if (ca !== cb) return ca - cb;
  if (rankA !== rankB) return rankB - rankA;
  if (ra && rb) {
    const ta = timeOrInfinity(readyCondition(a)?.lastTransitionTime);
    const tb = timeOrInfinity(readyCondition(b)?.lastTransitionTime);
    if (ta !== tb) return tb - ta > 0 ? 1 : -1;
  }
  const xa = maxRestarts(a);
  const xb = maxRestarts(b);
  if (xa !== xb) return xb - xa;
  const ta = timeOrInfinity(a.metadata?.creationTimestamp);
  const tb = timeOrInfinity(b.metadata?.creationTimestamp);
  if (ta !== tb) return tb - ta > 0 ? 1 : -1;
  return 0;
}

/**
 * The `count` pods to delete first. A pod's rank is how many of `related` (the owner's pods,
 * including its own) share its node, so doubled-up nodes are relieved first.
 */
export function podsToDelete(pods: KObject[], related: KObject[], count: number): KObject[] {
  if (count >= pods.length) return [...pods];
  const onNode = new Map<string, number>();
  for (const p of related) {
    const n = p.spec?.nodeName;
    if (n && isPodActive(p)) onNode.set(n, (onNode.get(n) ?? 0) + 1);
  }
  const rank = (p: KObject) => (p.spec?.nodeName ? (onNode.get(p.spec.nodeName) ?? 0) : 0);
  return pods
    .map((p) => ({ p, r: rank(p) }))
    .sort((x, y) => comparePodsForDeletion(x.p, y.p, x.r, y.r))
    .slice(0, count)
    .map((x) => x.p);
}

/**
 * The pod a controller creates from its template (upstream's GetPodFromTemplate): labels,
 * annotations and finalizers from the template, `generateName` `<owner>-`, the controller
 * reference, and the template's spec.
 */
export function podFromTemplate(template: KObject | undefined, ownerName: string, controllerRef: OwnerReference): KObject {
  const tm = template?.metadata ?? {};
  const metadata: KObject = { generateName: `${ownerName}-`, ownerReferences: [controllerRef] };
  if (tm.labels) metadata.labels = { ...tm.labels };
  if (tm.annotations) metadata.annotations = { ...tm.annotations };
  if (Array.isArray(tm.finalizers) && tm.finalizers.length) metadata.finalizers = [...tm.finalizers];
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec: structuredClone(template?.spec ?? {}) };
}

/**
 * Run `count` calls in batches of 1, 2, 4, ... (upstream's slowStartBatch), stopping after the
 * first batch with a failure so a broken template costs one request, not hundreds.
 */
export async function slowStartBatch(count: number, initialBatchSize: number, fn: () => Promise<void>): Promise<{ successes: number; error?: unknown }> {
  let remaining = count;
  let successes = 0;
  for (let size = Math.min(remaining, initialBatchSize); size > 0; size = Math.min(2 * size, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: size }, () => fn()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += size - failed.length;
    if (failed.length) return { successes, error: failed[0]!.reason };
    remaining -= size;
  }
  return { successes };
}
