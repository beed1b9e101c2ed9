/**
 * Cluster events that may make an unschedulable pod schedulable (upstream's ClusterEvent and
 * ActionType), and the per-plugin registrations ("queueing hints") the queue consults.
 */
import type { Node, Pod } from './types.js';

/** Action bits; an event carries one or more, a registration listens to a mask. */
export const ActionType = {
  Add: 1 << 0,
  Delete: 1 << 1,
  UpdateNodeAllocatable: 1 << 2,
  UpdateNodeLabel: 1 << 3,
  UpdateNodeTaint: 1 << 4,
  UpdateNodeCondition: 1 << 5,
  UpdateNodeAnnotation: 1 << 6,
  UpdatePodLabel: 1 << 7,
  UpdatePodScaleDown: 1 << 8,
  UpdatePodToleration: 1 << 9,
  UpdatePodSchedulingGatesEliminated: 1 << 10,
  /** Any other update. */
  UpdateOther: 1 << 11,
  Update: 0b1111_1111_1100,
  All: 0b1111_1111_1111,
} as const;

/** The kinds of object an event is about. `*` registrations match every resource. */
export type EventResource = 'Pod' | 'Node' | 'UnschedulablePod' | 'Other' | '*';

/** One cluster change. `label` names it in logs and metrics. */
export interface ClusterEvent {
  resource: EventResource;
  actionType: number;
  label?: string;
}

/** A queueing hint's answer: requeue the pod, or this event cannot help it. */
export type QueueingHint = 'Queue' | 'QueueSkip';

/** Decides whether an event can make `pod` schedulable for the plugin that rejected it. */
export type QueueingHintFn = (pod: Pod, oldObj: unknown, newObj: unknown) => QueueingHint;

/** A plugin's interest in an event, with an optional hint to narrow it. */
export interface ClusterEventWithHint {
  event: ClusterEvent;
  hint?: QueueingHintFn;
}

/** Well-known events the scheduler emits. */
export const Events = {
  NodeAdd: { resource: 'Node', actionType: ActionType.Add, label: 'NodeAdd' },
  NodeDelete: { resource: 'Node', actionType: ActionType.Delete, label: 'NodeDelete' },
  AssignedPodAdd: { resource: 'Pod', actionType: ActionType.Add, label: 'AssignedPodAdd' },
  AssignedPodDelete: { resource: 'Pod', actionType: ActionType.Delete, label: 'AssignedPodDelete' },
  UnschedulableTimeout: { resource: '*', actionType: ActionType.All, label: 'UnschedulableTimeout' },
  ForceActivate: { resource: '*', actionType: ActionType.All, label: 'ForceActivate' },
} as const satisfies Record<string, ClusterEvent>;

/** Does a registration for `reg` fire on `ev`? */
export function eventMatches(reg: ClusterEvent, ev: ClusterEvent): boolean {
  return (reg.resource === '*' || ev.resource === '*' || reg.resource === ev.resource) && (reg.actionType & ev.actionType) !== 0;
}

function sameJSON(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** The update bits for a node change (upstream's nodeSchedulingPropertiesChange); 0 when nothing relevant changed. */
export function nodeUpdateActions(oldNode: Node, newNode: Node): number {
  let a = 0;
  if (!!oldNode.spec?.unschedulable !== !!newNode.spec?.unschedulable) a |= ActionType.UpdateNodeTaint;
  if (!sameJSON(oldNode.status?.allocatable, newNode.status?.allocatable)) a |= ActionType.UpdateNodeAllocatable;
  if (!sameJSON(oldNode.metadata?.labels, newNode.metadata?.labels)) a |= ActionType.UpdateNodeLabel;
  if (!sameJSON(oldNode.spec?.taints, newNode.spec?.taints)) a |= ActionType.UpdateNodeTaint;
  if (!sameJSON(oldNode.status?.conditions, newNode.status?.conditions)) a |= ActionType.UpdateNodeCondition;
  if (!sameJSON(oldNode.metadata?.annotations, newNode.metadata?.annotations)) a |= ActionType.UpdateNodeAnnotation;
  return a;
}

/** The update bits for a change to an assigned pod; 0 when nothing scheduling-relevant changed. */
export function podUpdateActions(oldPod: Pod, newPod: Pod): number {
  let a = 0;
  if (!sameJSON(oldPod.metadata?.labels, newPod.metadata?.labels)) a |= ActionType.UpdatePodLabel;
  if (!sameJSON(oldPod.spec?.tolerations, newPod.spec?.tolerations)) a |= ActionType.UpdatePodToleration;
  if ((oldPod.spec?.schedulingGates?.length ?? 0) > 0 && (newPod.spec?.schedulingGates?.length ?? 0) === 0) a |= ActionType.UpdatePodSchedulingGatesEliminated;
  const oc = oldPod.spec?.containers?.map((c) => c.resources?.requests);
  const nc = newPod.spec?.containers?.map((c) => c.resources?.requests);
  if (!sameJSON(oc, nc)) a |= ActionType.UpdatePodScaleDown;
  return a;
}
