/**
 * Pure Deployment arithmetic and bookkeeping (upstream's pkg/controller/deployment/util): the pod
 * template hash, surge/unavailable fenceposts, new-ReplicaSet sizing, proportional scaling,
 * revision annotations and status conditions.
 */
import { canonicalJSON, contentHash } from '../common/hash.js';
import type { KObject } from '../../client/rest-client.js';
import { scaledIntOrPercent } from '../common/intstr.js';
import { rfc3339 } from '../../base/time.js';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

/** Condition reasons, as upstream spells them. */
export const Reasons = {
  FailedRSCreate: 'FailedRSCreate',
  NewRSCreated: 'NewReplicaSetCreated',
  FoundNewRS: 'FoundNewReplicaSet',
  NewRSAvailable: 'NewReplicaSetAvailable',
  ReplicaSetUpdated: 'ReplicaSetUpdated',
  TimedOut: 'ProgressDeadlineExceeded',
  Paused: 'DeploymentPaused',
  Resumed: 'DeploymentResumed',
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
} as const;

/** Deployment annotations that are not copied to its ReplicaSets. */
const annotationsNotCopied = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  'deprecated.deployment.rollback.to',
]);




/**
 * The pod-template-hash of a template (and collision count): FNV-1a over the template's canonical
 * JSON, its decimal digits mapped onto the safe alphabet as upstream does.
 */
export function computeHash(template: KObject | undefined, collisionCount?: number): string {
  return contentHash(template ?? {}, collisionCount);
}

/** The template without the pod-template-hash label, for comparisons. */
function withoutHash(t: KObject | undefined): KObject {
  const c = structuredClone(t ?? {});
  const labels = c.metadata?.labels;
  if (labels) {
    delete labels[POD_TEMPLATE_HASH_LABEL];
    if (!Object.keys(labels).length) delete c.metadata.labels;
  }
  if (c.metadata && !Object.keys(c.metadata).length) delete c.metadata;
  return c;
}

/** Templates equal apart from the pod-template-hash label (upstream's EqualIgnoreHash). */
export function equalIgnoreHash(a: KObject | undefined, b: KObject | undefined): boolean {
  return canonicalJSON(withoutHash(a)) === canonicalJSON(withoutHash(b));
}

/** An IntOrString scaled against `total`: percentages round up or down as asked. */
export const scaledValue = scaledIntOrPercent;

export const replicasOf = (o: KObject | undefined): number => Number(o?.spec?.replicas ?? (o ? 1 : 0));
const isRolling = (d: KObject) => (d.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';

/** Surge rounds up, unavailable rounds down; both zero means one may be unavailable (upstream's ResolveFenceposts). */
export function resolveFenceposts(maxSurge: number | string | undefined, maxUnavailable: number | string | undefined, desired: number): { surge: number; unavailable: number } {
  const surge = scaledValue(maxSurge ?? 0, desired, true);
  let unavailable = scaledValue(maxUnavailable ?? 0, desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

/** How many pods above spec.replicas a rolling update may run. */
export function maxSurge(d: KObject): number {
  if (!isRolling(d)) return 0;
  const ru = d.spec?.strategy?.rollingUpdate ?? {};
  return resolveFenceposts(ru.maxSurge, ru.maxUnavailable, replicasOf(d)).surge;
}

/** How many pods below spec.replicas a rolling update may leave unavailable (never more than replicas). */
export function maxUnavailable(d: KObject): number {
  const replicas = replicasOf(d);
  if (!isRolling(d) || replicas === 0) return 0;
  const ru = d.spec?.strategy?.rollingUpdate ?? {};
  return Math.min(resolveFenceposts(ru.maxSurge, ru.maxUnavailable, replicas).unavailable, replicas);
}

export const sumSpecReplicas = (rss: (KObject | undefined)[]) => rss.reduce((n, rs) => n + (rs ? replicasOf(rs) : 0), 0);
export const sumStatus = (rss: (KObject | undefined)[], field: string) => rss.reduce((n, rs) => n + Number(rs?.status?.[field] ?? 0), 0);

/** The size the new ReplicaSet may grow to now (upstream's NewRSNewReplicas). */
export function newRSNewReplicas(d: KObject, allRSs: (KObject | undefined)[], newRS: KObject): number {
  if (!isRolling(d)) return replicasOf(d);
  const current = sumSpecReplicas(allRSs);
  const maxTotal = replicasOf(d) + maxSurge(d);
  if (current >= maxTotal) return replicasOf(newRS);
  const up = Math.min(maxTotal - current, replicasOf(d) - replicasOf(newRS));
  return replicasOf(newRS) + up;
}

function intAnnotation(rs: KObject, name: string): number | undefined {
  const v = rs.metadata?.annotations?.[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isInteger(n) ? n : undefined;
}

/** The revision annotation as a number (0 when missing or malformed). */
export function revisionOf(o: KObject | undefined): number {
  return (o && intAnnotation(o, REVISION_ANNOTATION)) ?? 0;
}

export function desiredReplicasAnnotation(rs: KObject): number | undefined {
  return intAnnotation(rs, DESIRED_REPLICAS_ANNOTATION);
}

/** True when desired/max-replicas annotations differ from these values. */
export function replicasAnnotationsNeedUpdate(rs: KObject, desired: number, max: number): boolean {
  const a = rs.metadata?.annotations ?? {};
  return a[DESIRED_REPLICAS_ANNOTATION] !== String(desired) || a[MAX_REPLICAS_ANNOTATION] !== String(max);
}

/** Set desired/max-replicas on a (copied) ReplicaSet; true if anything changed. */
export function setReplicasAnnotations(rs: KObject, desired: number, max: number): boolean {
  if (!replicasAnnotationsNeedUpdate(rs, desired, max)) return false;
  const a = ((rs.metadata ??= {}).annotations ??= {});
  a[DESIRED_REPLICAS_ANNOTATION] = String(desired);
  a[MAX_REPLICAS_ANNOTATION] = String(max);
  return true;
}

/**
 * Stamp a (copied) new ReplicaSet with the deployment's annotations and its revision (upstream's
 * SetNewReplicaSetAnnotations). A ReplicaSet brought back by a rollback gets the new, higher
 * revision, and its old one is remembered in revision-history. True if anything changed.
 */
export function setNewReplicaSetAnnotations(d: KObject, rs: KObject, newRevision: number, exists: boolean): boolean {
  const a = ((rs.metadata ??= {}).annotations ??= {});
  let changed = false;
  for (const [k, v] of Object.entries<string>(d.metadata?.annotations ?? {})) {
    if (annotationsNotCopied.has(k) || a[k] === v) continue;
    a[k] = v;
    changed = true;
  }
  const old = a[REVISION_ANNOTATION];
  const oldN = old === undefined ? 0 : Number(old);
  if (old !== undefined && !Number.isInteger(oldN)) return changed;
  if (oldN < newRevision) {
    a[REVISION_ANNOTATION] = String(newRevision);
    changed = true;
    if (old !== undefined) a[REVISION_HISTORY_ANNOTATION] = a[REVISION_HISTORY_ANNOTATION] ? `${a[REVISION_HISTORY_ANNOTATION]},${old}` : old;
  }
  if (!exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d) + maxSurge(d))) changed = true;
  return changed;
}

/** Upstream's getReplicaSetFraction: this ReplicaSet's share of a resize, relative to its size. */
function replicaSetFraction(rs: KObject, d: KObject): number {
  if (replicasOf(d) === 0) return -replicasOf(rs);
  const deploymentReplicas = replicasOf(d) + maxSurge(d);
  const annotated = intAnnotation(rs, MAX_REPLICAS_ANNOTATION) ?? Number(d.status?.replicas ?? 0);
  if (!annotated) return 0;
  return Math.round((replicasOf(rs) * deploymentReplicas) / annotated) - replicasOf(rs);
}

/** How many replicas this ReplicaSet gains (or loses) in a proportional resize (upstream's GetProportion). */
export function proportion(rs: KObject | undefined, d: KObject, toAdd: number, added: number): number {
  if (!rs || replicasOf(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const fraction = replicaSetFraction(rs, d);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

const created = (rs: KObject) => Date.parse(rs.metadata?.creationTimestamp ?? '') || 0;

/** Oldest first; ties by name (upstream's ReplicaSetsByCreationTimestamp). */
export function byCreation(a: KObject, b: KObject): number {
  return created(a) - created(b) || String(a.metadata?.name).localeCompare(String(b.metadata?.name));
}

/** Lowest revision first; ties by creation (upstream's ReplicaSetsByRevision). */
export function byRevision(a: KObject, b: KObject): number {
  return revisionOf(a) - revisionOf(b) || byCreation(a, b);
}

/** Largest first; ties newer first (scaling up) or older first (scaling down). */
export function bySize(newerFirst: boolean): (a: KObject, b: KObject) => number {
  return (a, b) => replicasOf(b) - replicasOf(a) || (newerFirst ? byCreation(b, a) : byCreation(a, b));
}

/** ReplicaSets with spec.replicas > 0. */
export function activeReplicaSets(rss: (KObject | undefined)[]): KObject[] {
  return rss.filter((rs): rs is KObject => !!rs && replicasOf(rs) > 0);
}

/** The oldest ReplicaSet whose template equals the deployment's, ignoring the hash label (upstream's FindNewReplicaSet). */
export function findNewReplicaSet(d: KObject, rss: KObject[]): KObject | undefined {
  return [...rss].sort(byCreation).find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
}

// ---- conditions ----

export { rfc3339 };

export function getCondition(status: KObject | undefined, type: string): KObject | undefined {
  return (status?.conditions ?? []).find((c: KObject) => c.type === type);
}

export function newCondition(type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string, nowMs: number): KObject {
  const t = rfc3339(nowMs);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

/**
 * Set a condition on a status in place (upstream's SetDeploymentCondition): no-op when status and
 * reason are unchanged; the transition time is kept while the status stays the same.
 */
export function setCondition(status: KObject, cond: KObject): void {
  const cur = getCondition(status, cond.type);
  if (cur && cur.status === cond.status && cur.reason === cond.reason) return;
  const c = { ...cond };
  if (cur && cur.status === c.status) c.lastTransitionTime = cur.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((x: KObject) => x.type !== c.type), c];
}

export function removeCondition(status: KObject, type: string): void {
  if (!status.conditions) return;
  status.conditions = status.conditions.filter((c: KObject) => c.type !== type);
}

export const hasProgressDeadline = (d: KObject) => d.spec?.progressDeadlineSeconds !== undefined && d.spec?.progressDeadlineSeconds !== null && d.spec.progressDeadlineSeconds !== 2147483647;

/** Every replica updated and available, and the spec observed (upstream's DeploymentComplete). */
export function deploymentComplete(d: KObject, s: KObject): boolean {
  const r = replicasOf(d);
  return (s.updatedReplicas ?? 0) === r && (s.replicas ?? 0) === r && (s.availableReplicas ?? 0) === r && (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
}

/** Some sign of progress between the recorded status and a new one (upstream's DeploymentProgressing). */
export function deploymentProgressing(d: KObject, s: KObject): boolean {
  const o = d.status ?? {};
  const oldOld = (o.replicas ?? 0) - (o.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (s.updatedReplicas ?? 0) > (o.updatedReplicas ?? 0) || newOld < oldOld || (s.readyReplicas ?? 0) > (o.readyReplicas ?? 0) || (s.availableReplicas ?? 0) > (o.availableReplicas ?? 0);
}

/** No progress for progressDeadlineSeconds since the Progressing condition last changed (upstream's DeploymentTimedOut). */
export function deploymentTimedOut(d: KObject, s: KObject, nowMs: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s, 'Progressing');
  if (!c) return false;
  if (c.reason === Reasons.NewRSAvailable) return false;
  if (c.reason === Reasons.TimedOut) return true;
  const from = Date.parse(c.lastUpdateTime ?? '');
  return Number.isFinite(from) && from + d.spec.progressDeadlineSeconds * 1000 < nowMs;
}

/**
 * Counts and the Available condition from the ReplicaSets (upstream's calculateStatus); other
 * conditions are carried over.
 */
export function calculateStatus(allRSs: (KObject | undefined)[], newRS: KObject | undefined, d: KObject, nowMs: number): KObject {
  const available = sumStatus(allRSs, 'availableReplicas');
  const total = sumSpecReplicas(allRSs);
  const status: KObject = {
    observedGeneration: d.metadata?.generation ?? 0,
    replicas: sumStatus(allRSs, 'replicas'),
    updatedReplicas: sumStatus([newRS], 'replicas'),
    readyReplicas: sumStatus(allRSs, 'readyReplicas'),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, total - available),
    conditions: (d.status?.conditions ?? []).map((c: KObject) => ({ ...c })),
  };
  if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;
  if (available >= replicasOf(d) - maxUnavailable(d)) {
    setCondition(status, newCondition('Available', 'True', Reasons.MinimumReplicasAvailable, 'Deployment has minimum availability.', nowMs));
  } else {
    setCondition(status, newCondition('Available', 'False', Reasons.MinimumReplicasUnavailable, 'Deployment does not have minimum availability.', nowMs));
  }
  return status;
}

function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? v.map(normalize) : undefined;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const n = normalize(x);
      if (n !== undefined && n !== 0 && n !== null) out[k] = n;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return v;
}

/** Statuses equal once zero, null and empty fields (which the wire may omit) are ignored and keys sorted. */
export function statusEqual(a: KObject | undefined, b: KObject | undefined): boolean {
  return canonicalJSON(normalize(a) ?? null) === canonicalJSON(normalize(b) ?? null);
}
