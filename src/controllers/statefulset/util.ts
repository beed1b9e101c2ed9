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
 * (volumeClaimTemplates are not turned into PVCs: k8ts has no PV machinery.)
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
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

