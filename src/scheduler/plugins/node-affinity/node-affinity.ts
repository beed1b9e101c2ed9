/**
 * NodeAffinity: Filter enforces spec.nodeSelector and required node affinity (PreFilter narrows
 * the nodes when every term pins metadata.name); Score sums the weights of matching preferred
 * terms.
 */
import type { CycleState, StateData } from '../../framework/cycle-state.js';
import { ActionType, type ClusterEventWithHint } from '../../framework/events.js';
import { PreFilterResult, type EnqueueExtensions, type FilterPlugin, type Handle, type PreFilterPlugin, type PreScorePlugin, type ScorePlugin } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { nodeSelectorMatches, preferredTermsScore, RequiredNodeAffinity } from '../../framework/node-selector.js';
import { defaultNormalizeScore, MaxNodeScore } from '../../framework/normalize.js';
import type { PodInfo } from '../../framework/pod-info.js';
import { Code, SkipStatus, Status } from '../../framework/status.js';
import type { Node, NodeAffinity as V1NodeAffinity, PreferredSchedulingTerm } from '../../framework/types.js';

export const Name = 'NodeAffinity';
/** Upstream's ErrReasonPod. */
export const ErrReasonPod = "node(s) didn't match Pod's node affinity/selector";
/** Upstream's reason for the profile's added affinity. */
export const ErrReasonEnforced = "node(s) didn't match scheduler-enforced node affinity";
/** Upstream's reason when every term pins a different node name. */
export const ErrReasonConflict = 'pod affinity terms conflict';

const preFilterStateKey = 'PreFilter' + Name;
const preScoreStateKey = 'PreScore' + Name;
const rejected = new Status(Code.UnschedulableAndUnresolvable, [ErrReasonPod], Name);
const rejectedEnforced = new Status(Code.UnschedulableAndUnresolvable, [ErrReasonEnforced], Name);

/** NodeAffinity arguments: affinity every pod of the profile gets in addition to its own. */
export interface NodeAffinityArgs {
  addedAffinity?: V1NodeAffinity;
}

class PreFilterState implements StateData {
  constructor(readonly required: RequiredNodeAffinity) {}
  clone(): StateData {
    return this;
  }
}

class PreScoreState implements StateData {
  constructor(readonly preferred: readonly PreferredSchedulingTerm[]) {}
  clone(): StateData {
    return this;
  }
}

/** The NodeAffinity plugin. */
export class NodeAffinity implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = Name;
  private readonly addedRequired;
  private readonly addedPreferred: readonly PreferredSchedulingTerm[] | null;

  constructor(args: NodeAffinityArgs = {}) {
    this.addedRequired = args.addedAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? null;
    const pref = args.addedAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
    this.addedPreferred = pref && pref.length ? pref : null;
  }

  preFilter(state: CycleState, pod: PodInfo): Status | PreFilterResult | null {
    const spec = pod.pod.spec ?? {};
    const required = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    if (!required && this.addedRequired === null && !spec.nodeSelector) return SkipStatus;
    state.write(preFilterStateKey, new PreFilterState(new RequiredNodeAffinity(pod.pod)));
    const terms = required?.nodeSelectorTerms ?? [];
    if (terms.length === 0) return null;
    // When every term pins metadata.name, only those nodes can match.
    let names: Set<string> | null = null;
    for (const t of terms) {
      let termNames = null as Set<string> | null;
      for (const r of t.matchFields ?? []) {
        if (r.key !== 'metadata.name' || r.operator !== 'In') continue;
        const s = new Set(r.values ?? []);
        termNames = termNames === null ? s : new Set([...termNames].filter((n: string) => s.has(n)));
      }
      if (termNames === null) return null;
      names = names === null ? termNames : new Set([...names, ...termNames]);
    }
    if (names !== null && names.size === 0) return new Status(Code.UnschedulableAndUnresolvable, [ErrReasonConflict], Name);
    return names !== null ? new PreFilterResult(names) : null;
  }

  filter(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): Status | null {
    const node = nodeInfo.node!;
    if (this.addedRequired !== null && !nodeSelectorMatches(this.addedRequired, node)) return rejectedEnforced;
    const s = state.read<PreFilterState>(preFilterStateKey);
    const required = s ? s.required : new RequiredNodeAffinity(pod.pod);
    return required.match(node) ? null : rejected;
  }

  preScore(state: CycleState, pod: PodInfo): Status | null {
    const pref = pod.pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
    if ((!pref || pref.length === 0) && this.addedPreferred === null) return SkipStatus;
    state.write(preScoreStateKey, new PreScoreState(pref ?? []));
    return null;
  }

  score(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): number | Status {
    const node = nodeInfo.node!;
    let count = 0;
    if (this.addedPreferred !== null) count += preferredTermsScore(this.addedPreferred, node);
    const s = state.read<PreScoreState>(preScoreStateKey);
    const pref = s ? s.preferred : (pod.pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []);
    count += preferredTermsScore(pref, node);
    return count;
  }

  normalizeScore(_state: CycleState, _pod: PodInfo, _nodes: readonly NodeInfo[], scores: number[]): Status | null {
    defaultNormalizeScore(MaxNodeScore, false, scores);
    return null;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint },
        hint: (pod, oldObj, newObj) => {
          if (this.addedRequired !== null && !nodeSelectorMatches(this.addedRequired, newObj as Node)) return 'QueueSkip';
          const req = new RequiredNodeAffinity(pod);
          if (!req.match(newObj as Node)) return 'QueueSkip';
          if (oldObj === undefined) return 'Queue';
          return req.match(oldObj as Node) ? 'QueueSkip' : 'Queue';
        },
      },
    ];
  }
}

/** Factory. */
export function New(args?: unknown, _handle?: Handle): NodeAffinity {
  return new NodeAffinity((args as NodeAffinityArgs | undefined) ?? {});
}
