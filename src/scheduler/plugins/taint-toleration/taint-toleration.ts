/**
 * TaintToleration: Filter keeps pods off nodes with NoSchedule/NoExecute taints they do not
 * tolerate; Score prefers nodes with fewer untolerated PreferNoSchedule taints.
 */
import type { CycleState, StateData } from '../../framework/cycle-state.js';
import { ActionType, type ClusterEventWithHint } from '../../framework/events.js';
import type { EnqueueExtensions, FilterPlugin, Handle, PreScorePlugin, ScorePlugin } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { defaultNormalizeScore, MaxNodeScore } from '../../framework/normalize.js';
import type { PodInfo } from '../../framework/pod-info.js';
import { Code, Status } from '../../framework/status.js';
import { findMatchingUntoleratedTaint, isDoNotScheduleTaint, tolerationsTolerateTaint } from '../../framework/taints.js';
import type { Node, Taint, Toleration } from '../../framework/types.js';

export const Name = 'TaintToleration';
const preScoreStateKey = 'PreScore' + Name;

/** Upstream's filter reason: `node(s) had untolerated taint {key: value}`. */
export function untoleratedTaintReason(t: Taint): string {
  return `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`;
}

class PreScoreState implements StateData {
  constructor(readonly tolerationsPreferNoSchedule: readonly Toleration[]) {}
  clone(): StateData {
    return this;
  }
}

/** Untolerated PreferNoSchedule taints on a node. */
export function countIntolerableTaintsPreferNoSchedule(taints: readonly Taint[], tolerations: readonly Toleration[]): number {
  let n = 0;
  for (const t of taints) if (t.effect === 'PreferNoSchedule' && !tolerationsTolerateTaint(tolerations, t)) n++;
  return n;
}

/** The TaintToleration plugin. */
export class TaintToleration implements FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = Name;

  filter(_state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): Status | null {
    if (nodeInfo.taints.length === 0) return null;
    const taint = findMatchingUntoleratedTaint(nodeInfo.taints, pod.pod.spec?.tolerations, isDoNotScheduleTaint);
    if (taint === undefined) return null;
    return new Status(Code.UnschedulableAndUnresolvable, [untoleratedTaintReason(taint)], Name);
  }

  preScore(state: CycleState, pod: PodInfo): Status | null {
    const tols = (pod.pod.spec?.tolerations ?? []).filter((t) => !t.effect || t.effect === 'PreferNoSchedule');
    state.write(preScoreStateKey, new PreScoreState(tols));
    return null;
  }

  score(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): number | Status {
    if (nodeInfo.taints.length === 0) return 0;
    const s = state.read<PreScoreState>(preScoreStateKey);
    const tols = s ? s.tolerationsPreferNoSchedule : (pod.pod.spec?.tolerations ?? []);
    return countIntolerableTaintsPreferNoSchedule(nodeInfo.taints, tols);
  }

  normalizeScore(_state: CycleState, _pod: PodInfo, _nodes: readonly NodeInfo[], scores: number[]): Status | null {
    defaultNormalizeScore(MaxNodeScore, true, scores);
    return null;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeTaint | ActionType.UpdateNodeLabel },
        hint: (pod, oldObj, newObj) => {
          const tols = pod.spec?.tolerations;
          const o = oldObj as Node | undefined;
          const wasUntolerated = o === undefined || findMatchingUntoleratedTaint(o.spec?.taints ?? [], tols, isDoNotScheduleTaint) !== undefined;
          const isUntolerated = findMatchingUntoleratedTaint((newObj as Node).spec?.taints ?? [], tols, isDoNotScheduleTaint) !== undefined;
          return wasUntolerated && !isUntolerated ? 'Queue' : 'QueueSkip';
        },
      },
      { event: { resource: 'UnschedulablePod', actionType: ActionType.UpdatePodToleration } },
    ];
  }
}

/** Factory. */
export function New(_args?: unknown, _handle?: Handle): TaintToleration {
  return new TaintToleration();
}
