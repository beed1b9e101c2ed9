/**
 * InterPodAffinity: Filter enforces the pod's required pod affinity and anti-affinity, and the
 * required anti-affinity of pods already running (a pod may not land in a topology domain whose
 * pods repel it). Score adds preferred-term weights, both ways, per topology domain.
 */
import type { CycleState, StateData } from '../../framework/cycle-state.js';
import { ActionType, type ClusterEventWithHint } from '../../framework/events.js';
import type { EnqueueExtensions, FilterPlugin, Handle, PreFilterExtensions, PreFilterPlugin, PreScorePlugin, ScorePlugin } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { MaxNodeScore } from '../../framework/normalize.js';
import {
  affinityTermMatches,
  podInfoFor,
  podMatchesAllAffinityTerms,
  type AffinityTerm,
  type NamespaceLabels,
  type PodInfo,
} from '../../framework/pod-info.js';
import { Code, SkipStatus, Status } from '../../framework/status.js';
import type { Node, Pod } from '../../framework/types.js';

export const Name = 'InterPodAffinity';
/** Upstream's ErrReasonExistingAntiAffinityRulesNotMatch. */
export const ErrReasonExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules";
/** Upstream's ErrReasonAffinityRulesNotMatch. */
export const ErrReasonAffinityRulesNotMatch = "node(s) didn't match pod affinity rules";
/** Upstream's ErrReasonAntiAffinityRulesNotMatch. */
export const ErrReasonAntiAffinityRulesNotMatch = "node(s) didn't match pod anti-affinity rules";

const preFilterStateKey = 'PreFilter' + Name;
const preScoreStateKey = 'PreScore' + Name;
const rejectedAffinity = new Status(Code.UnschedulableAndUnresolvable, [ErrReasonAffinityRulesNotMatch], Name);
const rejectedAnti = new Status(Code.Unschedulable, [ErrReasonAntiAffinityRulesNotMatch], Name);
const rejectedExisting = new Status(Code.Unschedulable, [ErrReasonExistingAntiAffinityRulesNotMatch], Name);

/** InterPodAffinity arguments. */
export interface InterPodAffinityArgs {
  /** Weight of existing pods' required affinity terms when scoring (default 1). */
  hardPodAffinityWeight?: number;
  /** Score only the incoming pod's preferred terms (default false). */
  ignorePreferredTermsOfExistingPods?: boolean;
}

/** Topology pair key. */
function pairKey(key: string, value: string): string {
  return `${key}\u0000${value}`;
}

/** Counts per topology pair. */
type Counts = Map<string, number>;

function bump(m: Counts, k: string, delta: number): void {
  const n = (m.get(k) ?? 0) + delta;
  if (n === 0) m.delete(k);
  else m.set(k, n);
}

/** If `target` matches every term, count each term's topology pair on its node. */
function updateWithAffinityTerms(m: Counts, target: PodInfo, node: NodeInfo, terms: readonly AffinityTerm[], delta: number, ns: NamespaceLabels): void {
  if (!podMatchesAllAffinityTerms(terms, target, ns)) return;
  for (const t of terms) {
    const v = node.labels[t.topologyKey];
    if (v !== undefined) bump(m, pairKey(t.topologyKey, v), delta);
  }
}

/** Count the topology pair of each term that `target` matches. */
function updateWithAntiAffinityTerms(m: Counts, target: PodInfo, node: NodeInfo, terms: readonly AffinityTerm[], delta: number, ns: NamespaceLabels): void {
  for (const t of terms) {
    if (!affinityTermMatches(t, target, ns)) continue;
    const v = node.labels[t.topologyKey];
    if (v !== undefined) bump(m, pairKey(t.topologyKey, v), delta);
  }
}

class PreFilterState implements StateData {
  constructor(
    readonly pod: PodInfo,
    /** Pairs where existing pods' required anti-affinity matches the incoming pod. */
    readonly existingAntiAffinityCounts: Counts,
    /** Pairs with existing pods matching all the incoming pod's affinity terms. */
    readonly affinityCounts: Counts,
    /** Pairs with existing pods matching the incoming pod's anti-affinity terms. */
    readonly antiAffinityCounts: Counts,
  ) {}

  clone(): StateData {
    return new PreFilterState(this.pod, new Map(this.existingAntiAffinityCounts), new Map(this.affinityCounts), new Map(this.antiAffinityCounts));
  }
}

class PreScoreState implements StateData {
  constructor(readonly topologyScore: Map<string, Map<string, number>>) {}
  clone(): StateData {
    return this;
  }
}

/** The InterPodAffinity plugin. */
export class InterPodAffinity implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = Name;
  readonly preFilterExtensions: PreFilterExtensions;
  private readonly hardWeight: number;
  private readonly ignoreExisting: boolean;

  constructor(
    private readonly handle: Handle,
    args: InterPodAffinityArgs = {},
  ) {
    this.hardWeight = args.hardPodAffinityWeight ?? 1;
    this.ignoreExisting = args.ignorePreferredTermsOfExistingPods ?? false;
    this.preFilterExtensions = {
      addPod: (state, _pod, podToAdd, nodeInfo) => this.updateWithPod(state, podToAdd, nodeInfo, 1),
      removePod: (state, _pod, podToRemove, nodeInfo) => this.updateWithPod(state, podToRemove, nodeInfo, -1),
    };
  }

  preFilter(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Status | null {
    if (pod.parseError) return new Status(Code.Error, [`parsing pod: ${pod.parseError}`], Name);
    const snapshot = this.handle.snapshot();
    const withAnti = snapshot.havePodsWithRequiredAntiAffinityList;
    if (pod.requiredAffinityTerms.length === 0 && pod.requiredAntiAffinityTerms.length === 0 && withAnti.length === 0) return SkipStatus;
    const ns = this.handle.namespaceLabels;
    const existing: Counts = new Map();
    const memo = new Map<AffinityTerm, boolean>();
    for (const ni of withAnti) {
      for (const ep of ni.podsWithRequiredAntiAffinity) {
        for (const t of ep.requiredAntiAffinityTerms) {
          if (!memoMatch(memo, t, pod, ns)) continue;
          const v = ni.labels[t.topologyKey];
          if (v !== undefined) bump(existing, pairKey(t.topologyKey, v), 1);
        }
      }
    }
    const affinity: Counts = new Map();
    const anti: Counts = new Map();
    if (pod.requiredAffinityTerms.length > 0 || pod.requiredAntiAffinityTerms.length > 0) {
      for (const ni of nodes) {
        for (const ep of ni.pods) {
          if (pod.requiredAffinityTerms.length) updateWithAffinityTerms(affinity, ep, ni, pod.requiredAffinityTerms, 1, ns);
          if (pod.requiredAntiAffinityTerms.length) updateWithAntiAffinityTerms(anti, ep, ni, pod.requiredAntiAffinityTerms, 1, ns);
        }
      }
    }
    state.write(preFilterStateKey, new PreFilterState(pod, existing, affinity, anti));
    return null;
  }

  private updateWithPod(state: CycleState, updated: PodInfo, nodeInfo: NodeInfo, delta: number): Status | null {
    const s = state.read<PreFilterState>(preFilterStateKey);
    if (!s) return null;
    const ns = this.handle.namespaceLabels;
    updateWithAntiAffinityTerms(s.existingAntiAffinityCounts, s.pod, nodeInfo, updated.requiredAntiAffinityTerms, delta, ns);
    updateWithAffinityTerms(s.affinityCounts, updated, nodeInfo, s.pod.requiredAffinityTerms, delta, ns);
    updateWithAntiAffinityTerms(s.antiAffinityCounts, updated, nodeInfo, s.pod.requiredAntiAffinityTerms, delta, ns);
    return null;
  }

  filter(state: CycleState, _pod: PodInfo, nodeInfo: NodeInfo): Status | null {
    const s = state.read<PreFilterState>(preFilterStateKey);
    if (!s) return new Status(Code.Error, [`reading "${preFilterStateKey}" from cycleState: not found`], Name);
    if (!satisfyPodAffinity(s, nodeInfo, this.handle.namespaceLabels)) return rejectedAffinity;
    if (!satisfyPodAntiAffinity(s, nodeInfo)) return rejectedAnti;
    if (!satisfyExistingPodsAntiAffinity(s, nodeInfo)) return rejectedExisting;
    return null;
  }

  preScore(state: CycleState, pod: PodInfo, _nodes: readonly NodeInfo[]): Status | null {
    const hasPreferred = pod.preferredAffinityTerms.length > 0 || pod.preferredAntiAffinityTerms.length > 0;
    if (this.ignoreExisting && !hasPreferred) return SkipStatus;
    const snapshot = this.handle.snapshot();
    const nodes = hasPreferred ? snapshot.nodeInfoList : snapshot.havePodsWithAffinityList;
    if (nodes.length === 0) return SkipStatus;
    const ns = this.handle.namespaceLabels;
    const topo = new Map<string, Map<string, number>>();
    const prefAff = pod.preferredAffinityTerms;
    const prefAnti = pod.preferredAntiAffinityTerms;
    // Replicas share compiled terms, so whether an existing pod's term matches the incoming pod is worked out once per term.
    const memo = new Map<AffinityTerm, boolean>();
    for (let n = 0; n < nodes.length; n++) {
      const ni = nodes[n];
      const pods = hasPreferred ? ni.pods : ni.podsWithAffinity;
      if (pods.length === 0 || !hasAnyLabel(ni.labels)) continue;
      for (let p = 0; p < pods.length; p++) {
        const ep = pods[p];
        for (let i = 0; i < prefAff.length; i++) if (affinityTermMatches(prefAff[i], ep, ns)) addTopologyScore(topo, prefAff[i], prefAff[i].weight, ni);
        for (let i = 0; i < prefAnti.length; i++) if (affinityTermMatches(prefAnti[i], ep, ns)) addTopologyScore(topo, prefAnti[i], -prefAnti[i].weight, ni);
        if (!ep.hasAffinity) continue;
        if (this.hardWeight > 0) for (const t of ep.requiredAffinityTerms) if (memoMatch(memo, t, pod, ns)) addTopologyScore(topo, t, this.hardWeight, ni);
        if (!this.ignoreExisting) {
          for (const t of ep.preferredAffinityTerms) if (memoMatch(memo, t, pod, ns)) addTopologyScore(topo, t, t.weight, ni);
          for (const t of ep.preferredAntiAffinityTerms) if (memoMatch(memo, t, pod, ns)) addTopologyScore(topo, t, -t.weight, ni);
        }
      }
    }
    if (topo.size === 0) return SkipStatus;
    state.write(preScoreStateKey, new PreScoreState(topo));
    return null;
  }

  score(state: CycleState, _pod: PodInfo, nodeInfo: NodeInfo): number | Status {
    const s = state.read<PreScoreState>(preScoreStateKey);
    if (!s) return new Status(Code.Error, [`reading "${preScoreStateKey}" from cycleState: not found`], Name);
    let score = 0;
    for (const [key, values] of s.topologyScore) {
      const v = nodeInfo.labels[key];
      if (v !== undefined) score += values.get(v) ?? 0;
    }
    return score;
  }

  /** Min-max scale to [0, 100]; all-equal scores become 0. */
  normalizeScore(state: CycleState, _pod: PodInfo, _nodes: readonly NodeInfo[], scores: number[]): Status | null {
    const s = state.read<PreScoreState>(preScoreStateKey);
    if (!s || s.topologyScore.size === 0) return null;
    let min = Infinity;
    let max = -Infinity;
    for (const v of scores) {
      if (v > max) max = v;
      if (v < min) min = v;
    }
    const diff = max - min;
    for (let i = 0; i < scores.length; i++) scores[i] = diff > 0 ? Math.trunc(MaxNodeScore * ((scores[i] - min) / diff)) : 0;
    return null;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    const podHint = (pod: Pod, oldObj: unknown, newObj: unknown): 'Queue' | 'QueueSkip' => {
      const me = podInfoFor(pod);
      const other = podInfoFor((newObj ?? oldObj) as Pod);
      const ns = this.handle.namespaceLabels;
      // A deleted pod can unblock anti-affinity; an added or relabelled one can satisfy affinity.
      if (newObj === undefined) {
        return other.requiredAntiAffinityTerms.length > 0 || me.requiredAntiAffinityTerms.some((t) => affinityTermMatches(t, other, ns)) ? 'Queue' : 'QueueSkip';
      }
      return me.requiredAffinityTerms.some((t) => affinityTermMatches(t, other, ns)) ||
        (oldObj !== undefined && me.requiredAntiAffinityTerms.some((t) => affinityTermMatches(t, podInfoFor(oldObj as Pod), ns)))
        ? 'Queue'
        : 'QueueSkip';
    };
    return [
      { event: { resource: 'Pod', actionType: ActionType.Add | ActionType.UpdatePodLabel | ActionType.Delete }, hint: podHint },
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel },
        hint: (pod, oldObj, newObj) => {
          const me = podInfoFor(pod);
          const keys = [...me.requiredAffinityTerms, ...me.requiredAntiAffinityTerms].map((t) => t.topologyKey);
          if (keys.length === 0) return 'Queue';
          const o = (oldObj as Node | undefined)?.metadata?.labels ?? {};
          const n = (newObj as Node).metadata?.labels ?? {};
          return oldObj === undefined || keys.some((k) => o[k] !== n[k]) ? 'Queue' : 'QueueSkip';
        },
      },
    ];
  }
}

/** Does `pod` fall under `t`, memoised per term for one cycle. */
function memoMatch(memo: Map<AffinityTerm, boolean>, t: AffinityTerm, pod: PodInfo, ns: NamespaceLabels): boolean {
  let r = memo.get(t);
  if (r === undefined) {
    r = affinityTermMatches(t, pod, ns);
    memo.set(t, r);
  }
  return r;
}

/** Add `weight` to the score of the node's domain for the term's topology key. */
function addTopologyScore(topo: Map<string, Map<string, number>>, t: AffinityTerm, weight: number, node: NodeInfo): void {
  const v = node.labels[t.topologyKey];
  if (v === undefined) return;
  let m = topo.get(t.topologyKey);
  if (!m) topo.set(t.topologyKey, (m = new Map()));
  m.set(v, (m.get(v) ?? 0) + weight);
}

function hasAnyLabel(labels: Record<string, string>): boolean {
  for (const _ in labels) return true;
  return false;
}

function satisfyPodAffinity(s: PreFilterState, nodeInfo: NodeInfo, ns: NamespaceLabels): boolean {
  let podsExist = true;
  for (const t of s.pod.requiredAffinityTerms) {
    const v = nodeInfo.labels[t.topologyKey];
    if (v === undefined) return false;
    if ((s.affinityCounts.get(pairKey(t.topologyKey, v)) ?? 0) <= 0) podsExist = false;
  }
  if (podsExist) return true;
  // The first pod of a group with affinity to itself may go anywhere with the topology keys.
  return s.affinityCounts.size === 0 && podMatchesAllAffinityTerms(s.pod.requiredAffinityTerms, s.pod, ns);
}

function satisfyPodAntiAffinity(s: PreFilterState, nodeInfo: NodeInfo): boolean {
  if (s.antiAffinityCounts.size === 0) return true;
  for (const t of s.pod.requiredAntiAffinityTerms) {
    const v = nodeInfo.labels[t.topologyKey];
    if (v !== undefined && (s.antiAffinityCounts.get(pairKey(t.topologyKey, v)) ?? 0) > 0) return false;
  }
  return true;
}

function satisfyExistingPodsAntiAffinity(s: PreFilterState, nodeInfo: NodeInfo): boolean {
  if (s.existingAntiAffinityCounts.size === 0) return true;
  for (const k in nodeInfo.labels) {
    if ((s.existingAntiAffinityCounts.get(pairKey(k, nodeInfo.labels[k])) ?? 0) > 0) return false;
  }
  return true;
}

/** Factory. */
export function New(args: unknown, handle: Handle): InterPodAffinity {
  return new InterPodAffinity(handle, (args as InterPodAffinityArgs | undefined) ?? {});
}
