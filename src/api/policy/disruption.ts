/**
 * PodDisruptionBudget status rules shared by the eviction API and the disruption controller
 * (upstream's pkg/apis/policy helpers).
 */
import { setStatusCondition } from '../conditions.js';

/** The condition type and reasons of policy/v1. */
export const DISRUPTION_ALLOWED = 'DisruptionAllowed';
export const SUFFICIENT_PODS = 'SufficientPods';
export const INSUFFICIENT_PODS = 'InsufficientPods';
export const SYNC_FAILED = 'SyncFailed';

/** What the DisruptionAllowed condition says for this many allowed disruptions. */
export function disruptionAllowedState(allowed: number): { status: 'True' | 'False'; reason: string } {
  return allowed > 0 ? { status: 'True', reason: SUFFICIENT_PODS } : { status: 'False', reason: INSUFFICIENT_PODS };
}

/** Set the DisruptionAllowed condition from status.disruptionsAllowed (upstream's UpdateDisruptionAllowedCondition). */
export function updateDisruptionAllowedCondition(status: Record<string, any>, nowMs: number): void {
  status.conditions = setStatusCondition(status.conditions, { type: DISRUPTION_ALLOWED, ...disruptionAllowedState(status.disruptionsAllowed ?? 0), message: '', observedGeneration: status.observedGeneration }, nowMs);
}
