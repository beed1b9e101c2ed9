/**
 * Matching a failed pod against a Job's `spec.podFailurePolicy` (upstream's
 * pkg/controller/job/pod_failure_policy.go): rules are tried in order and the first whose
 * onExitCodes or onPodConditions matches decides the action.
 */
import type { KObject } from '../../client/rest-client.js';
import { INDEX_FAILURE_COUNT_ANNOTATION, isPodFailed, podCountAnnotation } from './util.js';

/** The actions a rule may take. */
export type PodFailurePolicyAction = 'FailJob' | 'FailIndex' | 'Ignore' | 'Count';

/** What the policy says about one failed pod. */
export interface PodFailurePolicyMatch {
  /** The matching rule's action; undefined when no rule matched (the failure counts as usual). */
  action?: PodFailurePolicyAction;
  /** Whether the failure counts towards backoffLimit and status.failed (false only for Ignore). */
  countFailed: boolean;
  /** For FailJob: the message of the Job's FailureTarget and Failed conditions. */
  message?: string;
}

/** The first terminated container (containers, then init containers) with a non-zero exit code the requirement matches. */
function matchOnExitCodes(pod: KObject, req: KObject): KObject | undefined {
  const values: number[] = Array.isArray(req.values) ? req.values.map(Number) : [];
  const fromList = (statuses: unknown): KObject | undefined => {
    for (const cs of Array.isArray(statuses) ? (statuses as KObject[]) : []) {
      const term = cs?.state?.terminated;
      if (!term) continue;
      if (req.containerName !== undefined && req.containerName !== null && req.containerName !== cs.name) continue;
      const code = Number(term.exitCode ?? 0);
      // Exit code 0 never matches: a container that succeeded did not fail the pod.
      if (code === 0) continue;
      const inValues = values.includes(code);
      if (req.operator === 'In' ? inValues : req.operator === 'NotIn' ? !inValues : false) return cs;
    }
    return undefined;
  };
  return fromList(pod.status?.containerStatuses) ?? fromList(pod.status?.initContainerStatuses);
}

/** The first pod condition equal in type and status to one of the patterns. */
function matchOnPodConditions(pod: KObject, patterns: KObject[]): KObject | undefined {
  const conds: KObject[] = Array.isArray(pod.status?.conditions) ? pod.status.conditions : [];
  for (const p of patterns) {
    const want = p?.status ?? 'True';
    const c = conds.find((c) => c?.type === p?.type && c?.status === want);
    if (c) return c;
  }
  return undefined;
}

/**
 * Match a failed pod against the policy. With no policy, or no matching rule, the failure
 * counts. Rules with an unknown action (or FailIndex without `allowFailIndex`) are skipped.
 */
export function matchPodFailurePolicy(policy: KObject | undefined | null, pod: KObject, allowFailIndex = false): PodFailurePolicyMatch {
  const rules: KObject[] = Array.isArray(policy?.rules) ? policy.rules : [];
  const podName = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    let failJobMessage: (() => string) | undefined;
    if (rule.onExitCodes) {
      const cs = matchOnExitCodes(pod, rule.onExitCodes);
      if (!cs) continue;
      failJobMessage = () => `Container ${cs.name} for pod ${podName} failed with exit code ${cs.state.terminated.exitCode} matching FailJob rule at index ${i}`;
    } else if (Array.isArray(rule.onPodConditions) && rule.onPodConditions.length) {
      const c = matchOnPodConditions(pod, rule.onPodConditions);
      if (!c) continue;
      failJobMessage = () => `Pod ${podName} has condition ${c.type} matching FailJob rule at index ${i}`;
    } else continue;
    switch (rule.action) {
      case 'Ignore':
        return { action: 'Ignore', countFailed: false };
      case 'Count':
        return { action: 'Count', countFailed: true };
      case 'FailIndex':
        if (allowFailIndex) return { action: 'FailIndex', countFailed: true };
        break;
      case 'FailJob':
        return { action: 'FailJob', countFailed: true, message: failJobMessage() };
    }
  }
  return { countFailed: true };
}

/**
 * With backoffLimitPerIndex: the pod's failure fails its index (upstream's isIndexFailed), by a
 * FailIndex rule, or by being a counted failure after backoffLimitPerIndex earlier ones.
 */
export function isIndexFailed(job: KObject, pod: KObject): boolean {
  if (!isPodFailed(pod, job)) return false;
  const m = matchPodFailurePolicy(job.spec?.podFailurePolicy, pod, true);
  if (m.action === 'FailIndex') return true;
  return m.countFailed && podCountAnnotation(pod, INDEX_FAILURE_COUNT_ANNOTATION) >= Number(job.spec?.backoffLimitPerIndex ?? 0);
}
