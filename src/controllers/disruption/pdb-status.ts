/**
 * The pure part of the disruption controller: which pods a PodDisruptionBudget covers, how many it
 * expects and wants healthy, how many are healthy, which eviction records in status.disruptedPods
 * still count, and the status (with its DisruptionAllowed condition) that follows.
 */
import { setStatusCondition } from '../../api/conditions.js';
import { labelSelectorFromObject, selectorMatches } from '../../api/labels/index.js';
import { DISRUPTION_ALLOWED, disruptionAllowedState, SYNC_FAILED } from '../../api/policy/disruption.js';
import type { KObject } from '../../client/rest-client.js';
import { getControllerOf, type OwnerReference } from '../common/controller-ref.js';
import { scaledIntOrPercent } from '../common/intstr.js';
import { isPodReady } from '../common/pods.js';

export { rfc3339 } from '../../base/time.js';
export { setStatusCondition } from '../../api/conditions.js';
export { scaledIntOrPercent } from '../common/intstr.js';
export { isPodReady } from '../common/pods.js';

/** How long an eviction recorded in status.disruptedPods counts before the pod must be gone (upstream's DeletionTimeout). */
export const DELETION_TIMEOUT_MS = 2 * 60_000;
/** How long a DisruptionTarget pod condition may stay on a pod that is not deleted (upstream's stalePodDisruptionTimeout). */
export const STALE_POD_DISRUPTION_TIMEOUT_MS = 2 * 60_000;

/** A controller's identity and desired replica count. */
export interface ControllerScale {
  uid: string;
  replicas: number;
}

/**
 * Finds the controller a pod's controller reference points at and its scale: undefined when it
 * does not exist (or is another object with the same name); throws when it cannot be asked.
 */
export type ControllerFinder = (ref: OwnerReference, namespace: string) => ControllerScale | undefined | Promise<ControllerScale | undefined>;

/**
 * Does the PDB's selector match these labels? policy/v1: `{}` matches every pod, a missing
 * selector none; an invalid selector matches nothing (validation should have refused it).
 */
export function pdbSelects(pdb: KObject, labels: Record<string, string> | undefined): boolean {
  try {
    return selectorMatches(labelSelectorFromObject(pdb.spec?.selector), labels ?? {});
  } catch {
    return false;
  }
}

/** The pods (of any namespace given) the PDB covers: those of its namespace its selector matches. */
export function podsForPdb(pdb: KObject, pods: KObject[]): KObject[] {
  const ns = pdb.metadata?.namespace;
  return pods.filter((p) => p.metadata?.namespace === ns && pdbSelects(pdb, p.metadata?.labels));
}

/** True when the PDB's numbers depend on its pods' controllers' scale (a percentage or maxUnavailable). */
export function usesScale(pdb: KObject): boolean {
  const s = pdb.spec ?? {};
  if (s.maxUnavailable !== undefined && s.maxUnavailable !== null) return true;
  return typeof s.minAvailable === 'string';
}

export interface ExpectedPodCount {
  expectedCount: number;
  desiredHealthy: number;
  /** Names of matched pods without a controller: left out of the scale (upstream warns, not fails). */
  unmanagedPods: string[];
}

/**
 * The sum of the scales of the distinct controllers of `pods` (upstream's getExpectedScale). Pods
 * without a controller are listed as unmanaged; a controller that cannot be found is an error.
 */
export async function expectedScale(pods: KObject[], find: ControllerFinder): Promise<{ expectedCount: number; unmanagedPods: string[] }> {
  const scales = new Map<string, number>();
  const unmanagedPods: string[] = [];
  for (const pod of pods) {
    const ref = getControllerOf(pod);
    if (!ref) {
      unmanagedPods.push(pod.metadata?.name);
      continue;
    }
    if (scales.has(ref.uid)) continue;
    const found = await find(ref, pod.metadata?.namespace ?? '');
    if (!found) throw new Error(`found no controllers for pod ${JSON.stringify(pod.metadata?.name)}`);
    scales.set(found.uid, found.replicas);
  }
  let expectedCount = 0;
  for (const n of scales.values()) expectedCount += n;
  return { expectedCount, unmanagedPods };
}

/**
 * expectedPods and desiredHealthy for the PDB over its matched pods (upstream's
 * getExpectedPodCount): an integer minAvailable counts the pods themselves; a percentage
 * minAvailable or any maxUnavailable scales against the controllers' replicas, rounding up.
 */
export async function expectedPodCount(pdb: KObject, pods: KObject[], find: ControllerFinder): Promise<ExpectedPodCount> {
  const { minAvailable, maxUnavailable } = pdb.spec ?? {};
  if (maxUnavailable !== undefined && maxUnavailable !== null) {
    const { expectedCount, unmanagedPods } = await expectedScale(pods, find);
    const desiredHealthy = Math.max(0, expectedCount - scaledIntOrPercent(maxUnavailable, expectedCount, true));
    return { expectedCount, desiredHealthy, unmanagedPods };
  }
  if (typeof minAvailable === 'number') return { expectedCount: pods.length, desiredHealthy: minAvailable, unmanagedPods: [] };
  if (typeof minAvailable === 'string') {
    const { expectedCount, unmanagedPods } = await expectedScale(pods, find);
    return { expectedCount, desiredHealthy: scaledIntOrPercent(minAvailable, expectedCount, true), unmanagedPods };
  }
  return { expectedCount: 0, desiredHealthy: 0, unmanagedPods: [] };
}

export interface DisruptedPodMap {
  /** The entries of status.disruptedPods that still count. */
  disruptedPods: Record<string, string>;
  /** When the earliest kept entry expires (ms), so the PDB is looked at again then. */
  recheckAtMs?: number;
  /** Pods whose eviction expired without the pod being deleted (upstream's NotDeleted event). */
  notDeleted: KObject[];
}

/**
 * The eviction records that still stand (upstream's buildDisruptedPodMap): an entry is dropped once
 * its pod is gone or being deleted, or when it is older than {@link DELETION_TIMEOUT_MS}.
 */
export function buildDisruptedPodMap(pdb: KObject, pods: KObject[], nowMs: number): DisruptedPodMap {
  const recorded: Record<string, unknown> = pdb.status?.disruptedPods ?? {};
  const out: DisruptedPodMap = { disruptedPods: {}, notDeleted: [] };
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    const at = recorded[pod.metadata?.name];
    if (at === undefined || at === null) continue;
    const t = Date.parse(String(at));
    // An unparsable time cannot expire: drop it rather than keep the pod unhealthy forever.
    if (!Number.isFinite(t)) continue;
    const expires = t + DELETION_TIMEOUT_MS;
    if (expires < nowMs) {
      out.notDeleted.push(pod);
      continue;
    }
    out.disruptedPods[pod.metadata.name] = String(at);
    if (out.recheckAtMs === undefined || expires < out.recheckAtMs) out.recheckAtMs = expires;
  }
  return out;
}

/** Ready pods that are neither being deleted nor recently evicted (upstream's countHealthyPods). */
export function countHealthyPods(pods: KObject[], disruptedPods: Record<string, string>, nowMs: number): number {
  let n = 0;
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    const at = disruptedPods[pod.metadata?.name];
    if (at !== undefined && Date.parse(at) + DELETION_TIMEOUT_MS > nowMs) continue;
    if (isPodReady(pod)) n++;
  }
  return n;
}

/** What a sync found. */
export interface PdbCounts {
  currentHealthy: number;
  desiredHealthy: number;
  expectedCount: number;
  disruptedPods: Record<string, string>;
}

/** disruptionsAllowed: healthy pods above the desired number; 0 while no pods are expected. */
export function disruptionsAllowed(c: Pick<PdbCounts, 'currentHealthy' | 'desiredHealthy' | 'expectedCount'>): number {
  const n = c.currentHealthy - c.desiredHealthy;
  return c.expectedCount <= 0 || n <= 0 ? 0 : n;
}

const sameMap = (a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined) => {
  const ka = Object.keys(a ?? {});
  const kb = Object.keys(b ?? {});
  return ka.length === kb.length && ka.every((k) => String(a![k]) === String((b ?? {})[k]));
};

/**
 * The status the PDB should have, or undefined when its current status already says so (upstream's
 * updatePdbStatus with ConditionsAreUpToDate).
 */
export function desiredPdbStatus(pdb: KObject, c: PdbCounts, nowMs: number): KObject | undefined {
  const allowed = disruptionsAllowed(c);
  const generation = pdb.metadata?.generation ?? 0;
  const st = pdb.status ?? {};
  const cond = (st.conditions ?? []).find((x: KObject) => x?.type === DISRUPTION_ALLOWED);
  const want = disruptionAllowedState(allowed);
  const upToDate =
    (st.currentHealthy ?? 0) === c.currentHealthy &&
    (st.desiredHealthy ?? 0) === c.desiredHealthy &&
    (st.expectedPods ?? 0) === c.expectedCount &&
    (st.disruptionsAllowed ?? 0) === allowed &&
    sameMap(st.disruptedPods, c.disruptedPods) &&
    (st.observedGeneration ?? 0) === generation &&
    cond !== undefined &&
    cond.status === want.status &&
    cond.reason === want.reason;
  if (upToDate) return undefined;
  const status: KObject = {
    observedGeneration: generation,
    disruptionsAllowed: allowed,
    currentHealthy: c.currentHealthy,
    desiredHealthy: c.desiredHealthy,
    expectedPods: c.expectedCount,
  };
  if (Object.keys(c.disruptedPods).length) status.disruptedPods = { ...c.disruptedPods };
  status.conditions = setStatusCondition(st.conditions, { type: DISRUPTION_ALLOWED, ...want, message: '', observedGeneration: generation }, nowMs);
  return status;
}

/**
 * The status written when a sync fails (upstream's failSafe): no disruptions allowed and the
 * condition False with reason SyncFailed and the error; everything else is left as it was.
 */
export function failSafeStatus(pdb: KObject, err: unknown, nowMs: number): KObject {
  const st: KObject = { ...(pdb.status ?? {}) };
  st.disruptionsAllowed = 0;
  st.conditions = setStatusCondition(
    st.conditions,
    { type: DISRUPTION_ALLOWED, status: 'False', reason: SYNC_FAILED, message: err instanceof Error ? err.message : String(err), observedGeneration: st.observedGeneration ?? 0 },
    nowMs,
  );
  return st;
}

/**
 * Milliseconds until a DisruptionTarget condition on a live pod is stale (0: now), or undefined
 * when the pod has none to clear (upstream's nonTerminatingPodHasStaleDisruptionCondition).
 * Conditions set by the kubelet and pods already terminal or being deleted are left alone.
 */
export function staleDisruptionConditionIn(pod: KObject, nowMs: number, timeoutMs = STALE_POD_DISRUPTION_TIMEOUT_MS): number | undefined {
  if (pod.metadata?.deletionTimestamp) return undefined;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const conds: KObject[] = Array.isArray(pod.status?.conditions) ? pod.status.conditions : [];
  const c = conds.find((x) => x?.type === 'DisruptionTarget');
  if (!c || c.status !== 'True' || c.reason === 'TerminationByKubelet') return undefined;
  const t = Date.parse(c.lastTransitionTime ?? '');
  if (!Number.isFinite(t)) return 0;
  return Math.max(0, t + timeoutMs - nowMs);
}
