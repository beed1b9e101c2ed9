/**
 * Pure helpers of the StatefulSet controller (upstream's stateful_set_utils.go): pod identity
 * (`<set>-<ordinal>`, hostname, subdomain, identity labels), revisions and their hashes, and the
 * health predicates the ordered policy waits on.
 */
import { canonicalJSON, contentHash } from '../common/hash.js';
import type { KObject } from '../../client/rest-client.js';
import type { OwnerReference } from '../common/controller-ref.js';

/** Label with the pod's own name, so a Service can select one replica. */
export const STATEFULSET_POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
/** Label with the pod's ordinal. */
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
/** Label with the name of the ControllerRevision the pod was made from. */
export const CONTROLLER_REVISION_HASH_LABEL = 'controller-revision-hash';




/** The revision data a StatefulSet's pods are stamped from: its template, as a replacing patch (upstream's getPatch). */
export function revisionData(sts: KObject): KObject {
  return { spec: { template: { ...structuredClone(sts.spec?.template ?? {}), $patch: 'replace' } } };
}

export { canonicalJSON };

/** The hash naming a revision (`<set>-<hash>`). */
export function revisionHash(data: KObject, collisionCount?: number): string {
  return contentHash(data, collisionCount);
}

/** The pod template a revision recorded. */
export function templateOfRevision(rev: KObject): KObject {
  const t = { ...(rev.data?.spec?.template ?? {}) };
  delete t.$patch;
  return t;
}

/** The ordinal of a pod named `<set>-<n>`, or -1 when the name does not have that shape. */
export function ordinalOf(setName: string, pod: KObject): number {
  const name: string = pod.metadata?.name ?? '';
  const prefix = `${setName}-`;
  if (!name.startsWith(prefix)) return -1;
  const rest = name.slice(prefix.length);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : -1;
}

/** The pod's revision name (its controller-revision-hash label). */
export const podRevision = (pod: KObject): string | undefined => pod.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL];

/** Has been created (has a phase; upstream's isCreated). */
export const isCreated = (pod: KObject): boolean => !!pod.status?.phase;
/** Being deleted. */
export const isTerminating = (pod: KObject): boolean => !!pod.metadata?.deletionTimestamp;
/** Ran to an end: Failed or Succeeded; the controller replaces it. */
export const isFinished = (pod: KObject): boolean => pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded';

function readyCondition(pod: KObject): KObject | undefined {
  const conds = pod.status?.conditions;
  return Array.isArray(conds) ? conds.find((c: KObject) => c?.type === 'Ready') : undefined;
}

/** Phase Running and the Ready condition True (upstream's isRunningAndReady). */
export function isRunningAndReady(pod: KObject): boolean {
  return pod.status?.phase === 'Running' && readyCondition(pod)?.status === 'True';
}

/** Running and ready for at least minReadySeconds. */
export function isRunningAndAvailable(pod: KObject, minReadySeconds: number, nowMs: number): boolean {
  if (!isRunningAndReady(pod)) return false;
  if (!minReadySeconds) return true;
  const t = Date.parse(readyCondition(pod)?.lastTransitionTime ?? '');
  return Number.isFinite(t) && t + minReadySeconds * 1000 <= nowMs;
}

/** Running and ready, and not being deleted (upstream's isHealthy). */
export const isHealthy = (pod: KObject): boolean => isRunningAndReady(pod) && !isTerminating(pod);

/**
 * The pod for ordinal `ordinal` of `sts` made from `template` at revision `revisionName`: the
 * stable name, the identity labels, hostname and subdomain, and the controller reference.
 * Each volumeClaimTemplate becomes a volume of the pod naming its claim (upstream's updateStorage).
 */
export function newStatefulSetPod(sts: KObject, template: KObject, revisionName: string, ordinal: number, ref: OwnerReference): KObject {
  const name = `${sts.metadata.name}-${ordinal}`;
  const tm = template.metadata ?? {};
  const metadata: KObject = {
    name,
    labels: { ...tm.labels, [STATEFULSET_POD_NAME_LABEL]: name, [POD_INDEX_LABEL]: String(ordinal), [CONTROLLER_REVISION_HASH_LABEL]: revisionName },
    ownerReferences: [ref],
  };
  if (tm.annotations) metadata.annotations = { ...tm.annotations };
  if (Array.isArray(tm.finalizers) && tm.finalizers.length) metadata.finalizers = [...tm.finalizers];
  const spec = structuredClone(template.spec ?? {});
  spec.hostname = name;
  if (sts.spec?.serviceName) spec.subdomain = sts.spec.serviceName;
  spec.volumes = podVolumesWithClaims(sts, ordinal, spec.volumes);
  if (spec.volumes.length === 0) delete spec.volumes;
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

/** The claim of `template` for ordinal `ordinal`: `<template>-<set>-<ordinal>` (upstream's getPersistentVolumeClaimName). */
export function claimName(sts: KObject, template: KObject, ordinal: number): string {
  return `${template.metadata?.name ?? ''}-${sts.metadata.name}-${ordinal}`;
}

const claimTemplates = (sts: KObject): KObject[] => (Array.isArray(sts.spec?.volumeClaimTemplates) ? sts.spec.volumeClaimTemplates : []);

/**
 * The pod's volumes: one per claim template, named as the template and pointing at the ordinal's
 * claim, then the template's own volumes that no claim template replaces (upstream's updateStorage).
 */
export function podVolumesWithClaims(sts: KObject, ordinal: number, current: unknown): KObject[] {
  const templates = claimTemplates(sts);
  const names = new Set(templates.map((t) => t.metadata?.name));
  const out: KObject[] = templates.map((t) => ({ name: t.metadata?.name, persistentVolumeClaim: { claimName: claimName(sts, t, ordinal) } }));
  for (const v of Array.isArray(current) ? current : []) if (!names.has(v?.name)) out.push(v);
  return out;
}

/**
 * The claims ordinal `ordinal` needs (upstream's getPersistentVolumeClaims): each template's spec,
 * labels and annotations, plus the set's selector labels.
 */
export function claimsForOrdinal(sts: KObject, ordinal: number): KObject[] {
  const matchLabels = sts.spec?.selector?.matchLabels ?? {};
  return claimTemplates(sts).map((t) => {
    const tm = t.metadata ?? {};
    const metadata: KObject = { name: claimName(sts, t, ordinal), namespace: sts.metadata.namespace, labels: { ...tm.labels, ...matchLabels } };
    if (tm.annotations) metadata.annotations = { ...tm.annotations };
    return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata, spec: structuredClone(t.spec ?? {}) };
  });
}

/** The set's persistentVolumeClaimRetentionPolicy with upstream's defaults (Retain, Retain). */
export function retentionPolicy(sts: KObject): { whenDeleted: string; whenScaled: string } {
  const p = sts.spec?.persistentVolumeClaimRetentionPolicy ?? {};
  return { whenDeleted: p.whenDeleted || 'Retain', whenScaled: p.whenScaled || 'Retain' };
}

/**
 * The owner references a claim should carry under the set's retention policy (upstream's
 * updateClaimOwnerRefs): the set owns it when deleting the set deletes claims; the pod owns it
 * when it is being scaled away and scaling deletes claims. Other references are kept.
 * Undefined when nothing changes.
 */
export function claimOwnerRefs(claim: KObject, sts: KObject, pod: KObject | undefined, scaledDown: boolean): OwnerReference[] | undefined {
  const { whenDeleted, whenScaled } = retentionPolicy(sts);
  const refs: OwnerReference[] = Array.isArray(claim.metadata?.ownerReferences) ? claim.metadata.ownerReferences : [];
  const wantSet = whenDeleted === 'Delete' && !(scaledDown && whenScaled === 'Delete');
  const wantPod = whenScaled === 'Delete' && scaledDown && !!pod?.metadata?.uid;
  const setUID = sts.metadata.uid;
  const podUID = pod?.metadata?.uid;
  let out = refs.filter((r) => (r.uid !== setUID || wantSet) && (!podUID || r.uid !== podUID || wantPod));
  if (wantSet && !out.some((r) => r.uid === setUID)) out = [...out, { apiVersion: 'apps/v1', kind: 'StatefulSet', name: sts.metadata.name, uid: setUID }];
  if (wantPod && !out.some((r) => r.uid === podUID)) out = [...out, { apiVersion: 'v1', kind: 'Pod', name: pod!.metadata.name, uid: podUID! }];
  const same = out.length === refs.length && out.every((r, i) => r === refs[i]);
  return same ? undefined : out;
}

