/**
 * PodTopologySpread: spreads matching pods across topology domains. Filter enforces
 * `whenUnsatisfiable: DoNotSchedule` constraints — placing the pod must not make
 * `matching pods in the node's domain + self - global minimum` exceed maxSkew (the minimum is 0
 * while fewer than minDomains domains exist). Score ranks nodes by `ScheduleAnyway` constraints.
 */
import { labelSelectorFromObject, type LabelSelector, type Requirement } from '../../../api/labels/label-selector.js';
import type { CycleState, StateData } from '../../framework/cycle-state.js';
import { ActionType, type ClusterEventWithHint } from '../../framework/events.js';
import type { EnqueueExtensions, FilterPlugin, Handle, PreFilterExtensions, PreFilterPlugin, PreScorePlugin, ScorePlugin } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { RequiredNodeAffinity } from '../../framework/node-selector.js';
import { MaxNodeScore } from '../../framework/normalize.js';
import { compileLabelMatcher, labelsMatch, podInfoFor, type LabelMatcher, type PodInfo } from '../../framework/pod-info.js';
import { asStatus, Code, SkipStatus, Status } from '../../framework/status.js';
import { findMatchingUntoleratedTaint, isDoNotScheduleTaint } from '../../framework/taints.js';
import { LabelHostname, type Node, type Pod, type TopologySpreadConstraint } from '../../framework/types.js';

export const Name = 'PodTopologySpread';
/** Upstream's ErrReasonConstraintsNotMatch. */
export const ErrReasonConstraintsNotMatch = "node(s) didn't match pod topology spread constraints";
/** Upstream's ErrReasonNodeLabelNotMatch. */
export const ErrReasonNodeLabelNotMatch = ErrReasonConstraintsNotMatch + ' (missing required label)';

const preFilterStateKey = 'PreFilter' + Name;
const preScoreStateKey = 'PreScore' + Name;
const MAX_INT32 = 2147483647;
const rejectedSkew = new Status(Code.Unschedulable, [ErrReasonConstraintsNotMatch], Name);
const rejectedLabel = new Status(Code.UnschedulableAndUnresolvable, [ErrReasonNodeLabelNotMatch], Name);

/** PodTopologySpread arguments. */
export interface PodTopologySpreadArgs {
  /** Constraints for pods that have none of their own (`List` defaulting). */
  defaultConstraints?: TopologySpreadConstraint[];
  /**
   * The selector default constraints use for a pod — upstream derives it from the Services and
   * controllers selecting the pod. Without it, default constraints never apply.
   */
  defaultSelector?: (pod: Pod) => LabelSelector | undefined;
}

/** A parsed constraint. */
export interface Constraint {
  maxSkew: number;
  topologyKey: string;
  selector: LabelSelector;
  /** `selector` compiled. */
  matches: LabelMatcher;
  minDomains: number;
  nodeAffinityPolicy: string;
  nodeTaintsPolicy: string;
}

/** The pod's constraints with `action` as whenUnsatisfiable, matchLabelKeys merged into the selector. */
export function parseConstraints(constraints: readonly TopologySpreadConstraint[], podLabels: Record<string, string>, action: string): Constraint[] {
  const out: Constraint[] = [];
  for (const c of constraints) {
    if (c.whenUnsatisfiable !== action) continue;
    let selector = labelSelectorFromObject(c.labelSelector);
    if (c.matchLabelKeys?.length) {
      const extra: Requirement[] = [];
      for (const k of c.matchLabelKeys) if (k in podLabels) extra.push({ key: k, operator: '=', values: [podLabels[k]] });
      if (extra.length && !selector.nothing) {
        selector = { requirements: [...selector.requirements, ...extra].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) };
      }
    }
    out.push({
      maxSkew: c.maxSkew,
      topologyKey: c.topologyKey,
      selector,
      matches: compileLabelMatcher(selector),
      minDomains: c.minDomains ?? 1,
      nodeAffinityPolicy: c.nodeAffinityPolicy ?? 'Honor',
      nodeTaintsPolicy: c.nodeTaintsPolicy ?? 'Ignore',
    });
  }
  return out;
}

function nodeHasAllKeys(labels: Record<string, string>, constraints: readonly Constraint[]): boolean {
  for (const c of constraints) if (!(c.topologyKey in labels)) return false;
  return true;
}

function matchInclusionPolicies(c: Constraint, pod: PodInfo, node: Node, required: RequiredNodeAffinity): boolean {
  if (c.nodeAffinityPolicy === 'Honor' && !required.isEmpty && !required.match(node)) return false;
  if (c.nodeTaintsPolicy === 'Honor' && findMatchingUntoleratedTaint(node.spec?.taints ?? [], pod.pod.spec?.tolerations, isDoNotScheduleTaint)) return false;
  return true;
}

/** Matching pods on a node: same namespace, not terminating. An empty selector counts nothing. */
export function countPodsMatchSelector(pods: readonly PodInfo[], c: Pick<Constraint, 'selector' | 'matches'>, namespace: string): number {
  if (c.selector.nothing || c.selector.requirements.length === 0) return 0;
  let n = 0;
  for (let i = 0; i < pods.length; i++) {
    const p = pods[i];
    if (p.namespace !== namespace || p.terminating) continue;
    if (labelsMatch(c.matches, p.labels)) n++;
  }
  return n;
}

class PreFilterState implements StateData {
  constructor(
    readonly constraints: Constraint[],
    /** Per constraint: topology value → matching pods. */
    readonly counts: Map<string, number>[],
    /** Per constraint: the smallest count (the global minimum). */
    readonly minCounts: number[],
  ) {}

  clone(): StateData {
    return new PreFilterState(
      this.constraints,
      this.counts.map((m) => new Map(m)),
      this.minCounts.slice(),
    );
  }

  recomputeMin(i: number): void {
    let min = MAX_INT32;
    for (const v of this.counts[i].values()) if (v < min) min = v;
    this.minCounts[i] = min;
  }

  /** The global minimum for constraint i, 0 while there are fewer than minDomains domains. */
  minMatchNum(i: number): number {
    return this.counts[i].size < this.constraints[i].minDomains ? 0 : this.minCounts[i];
  }
}

class PreScoreState implements StateData {
  constructor(
    readonly constraints: Constraint[],
    readonly ignoredNodes: Set<string>,
    readonly counts: Map<string, number>[],
    readonly weights: number[],
  ) {}
  clone(): StateData {
    return this;
  }
}

/** The PodTopologySpread plugin. */
export class PodTopologySpread implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = Name;
  readonly preFilterExtensions: PreFilterExtensions;
  private readonly defaults: readonly TopologySpreadConstraint[];
  private readonly defaultSelector: ((pod: Pod) => LabelSelector | undefined) | undefined;

  constructor(
    private readonly handle: Handle,
    args: PodTopologySpreadArgs = {},
  ) {
    this.defaults = args.defaultConstraints ?? [];
    this.defaultSelector = args.defaultSelector;
    this.preFilterExtensions = {
      addPod: (state, podToSchedule, podToAdd, nodeInfo) => this.updateWithPod(state, podToAdd, podToSchedule, nodeInfo, 1),
      removePod: (state, podToSchedule, podToRemove, nodeInfo) => this.updateWithPod(state, podToRemove, podToSchedule, nodeInfo, -1),
    };
  }

  private constraintsFor(pod: PodInfo, action: string): Constraint[] {
    const own = pod.pod.spec?.topologySpreadConstraints;
    if (own && own.length > 0) return parseConstraints(own, pod.labels, action);
    if (this.defaults.length === 0 || !this.defaultSelector) return [];
    const sel = this.defaultSelector(pod.pod);
    if (!sel || sel.nothing || sel.requirements.length === 0) return [];
    return parseConstraints(this.defaults, pod.labels, action).map((c) => ({ ...c, selector: sel, matches: compileLabelMatcher(sel) }));
  }

  preFilter(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Status | null {
    if (!pod.pod.spec?.topologySpreadConstraints?.length && this.defaults.length === 0) return SkipStatus;
    let constraints: Constraint[];
    try {
      constraints = this.constraintsFor(pod, 'DoNotSchedule');
    } catch (e) {
      return asStatus(e, Name);
    }
    if (constraints.length === 0) return SkipStatus;
    const required = new RequiredNodeAffinity(pod.pod);
    const counts = constraints.map(() => new Map<string, number>());
    for (const ni of nodes) {
      const node = ni.node!;
      if (!nodeHasAllKeys(ni.labels, constraints)) continue;
      for (let i = 0; i < constraints.length; i++) {
        const c = constraints[i];
        if (!matchInclusionPolicies(c, pod, node, required)) continue;
        const v = ni.labels[c.topologyKey];
        const n = ni.pods.length === 0 ? 0 : countPodsMatchSelector(ni.pods, c, pod.namespace);
        const cur = counts[i].get(v);
        if (cur === undefined) counts[i].set(v, n);
        else if (n !== 0) counts[i].set(v, cur + n);
      }
    }
    const s = new PreFilterState(constraints, counts, new Array(constraints.length).fill(MAX_INT32));
    for (let i = 0; i < constraints.length; i++) s.recomputeMin(i);
    state.write(preFilterStateKey, s);
    return null;
  }

  private updateWithPod(state: CycleState, updated: PodInfo, preemptor: PodInfo, nodeInfo: NodeInfo, delta: number): Status | null {
    const s = state.read<PreFilterState>(preFilterStateKey);
    const node = nodeInfo.node;
    if (!s || !node || updated.namespace !== preemptor.namespace) return null;
    if (!nodeHasAllKeys(nodeInfo.labels, s.constraints)) return null;
    const required = new RequiredNodeAffinity(preemptor.pod);
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i];
      if (!labelsMatch(c.matches, updated.labels)) continue;
      if (!matchInclusionPolicies(c, preemptor, node, required)) continue;
      const v = nodeInfo.labels[c.topologyKey];
      s.counts[i].set(v, (s.counts[i].get(v) ?? 0) + delta);
      s.recomputeMin(i);
    }
    return null;
  }

  filter(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): Status | null {
    const s = state.read<PreFilterState>(preFilterStateKey);
    if (!s) return new Status(Code.Error, [`reading "${preFilterStateKey}" from cycleState: not found`], Name);
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i];
      const v = nodeInfo.labels[c.topologyKey];
      if (v === undefined) return rejectedLabel;
      const self = labelsMatch(c.matches, pod.labels) ? 1 : 0;
      const skew = (s.counts[i].get(v) ?? 0) + self - s.minMatchNum(i);
      if (skew > c.maxSkew) return rejectedSkew;
    }
    return null;
  }

  preScore(state: CycleState, pod: PodInfo, filtered: readonly NodeInfo[]): Status | null {
    const allNodes = this.handle.snapshot().nodeInfoList;
    if (allNodes.length === 0) return SkipStatus;
    if (!pod.pod.spec?.topologySpreadConstraints?.length && this.defaults.length === 0) return SkipStatus;
    let constraints: Constraint[];
    try {
      constraints = this.constraintsFor(pod, 'ScheduleAnyway');
    } catch (e) {
      return asStatus(e, Name);
    }
    if (constraints.length === 0) return SkipStatus;
    // Without the pod's own constraints (system defaults), nodes missing a zone label still spread by hostname.
    const requireAll = (pod.pod.spec?.topologySpreadConstraints?.length ?? 0) > 0 || this.defaultSelector !== undefined;
    const ignored = new Set<string>();
    const counts = constraints.map(() => new Map<string, number>());
    const sizes = new Array<number>(constraints.length).fill(0);
    for (const ni of filtered) {
      if (requireAll && !nodeHasAllKeys(ni.labels, constraints)) {
        ignored.add(ni.name);
        continue;
      }
      for (let i = 0; i < constraints.length; i++) {
        if (constraints[i].topologyKey === LabelHostname) continue;
        const v = ni.labels[constraints[i].topologyKey];
        if (!counts[i].has(v)) {
          counts[i].set(v, 0);
          sizes[i]++;
        }
      }
    }
    const required = new RequiredNodeAffinity(pod.pod);
    for (const ni of allNodes) {
      if (requireAll && !nodeHasAllKeys(ni.labels, constraints)) continue;
      for (let i = 0; i < constraints.length; i++) {
        const c = constraints[i];
        if (!matchInclusionPolicies(c, pod, ni.node!, required)) continue;
        const v = ni.labels[c.topologyKey];
        const cur = counts[i].get(v);
        if (cur === undefined || ni.pods.length === 0) continue;
        const n = countPodsMatchSelector(ni.pods, c, pod.namespace);
        if (n !== 0) counts[i].set(v, cur + n);
      }
    }
    const weights = constraints.map((c, i) => Math.log((c.topologyKey === LabelHostname ? filtered.length - ignored.size : sizes[i]) + 2));
    state.write(preScoreStateKey, new PreScoreState(constraints, ignored, counts, weights));
    return null;
  }

  score(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): number | Status {
    const s = state.read<PreScoreState>(preScoreStateKey);
    if (!s) return new Status(Code.Error, [`reading "${preScoreStateKey}" from cycleState: not found`], Name);
    if (s.ignoredNodes.has(nodeInfo.name)) return 0;
    let score = 0;
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i];
      const v = nodeInfo.labels[c.topologyKey];
      if (v === undefined) continue;
      const cnt = c.topologyKey === LabelHostname ? countPodsMatchSelector(nodeInfo.pods, c, pod.namespace) : (s.counts[i].get(v) ?? 0);
      score += cnt * s.weights[i] + (c.maxSkew - 1);
    }
    return Math.round(score);
  }

  /** Fewer matching pods score higher: 100 × (max + min − score) / max; ignored nodes get 0. */
  normalizeScore(state: CycleState, _pod: PodInfo, nodes: readonly NodeInfo[], scores: number[]): Status | null {
    const s = state.read<PreScoreState>(preScoreStateKey);
    if (!s) return null;
    let min = Number.MAX_SAFE_INTEGER;
    let max = 0;
    for (let i = 0; i < scores.length; i++) {
      if (s.ignoredNodes.has(nodes[i].name)) continue;
      if (scores[i] < min) min = scores[i];
      if (scores[i] > max) max = scores[i];
    }
    for (let i = 0; i < scores.length; i++) {
      if (s.ignoredNodes.has(nodes[i].name)) scores[i] = 0;
      else if (max === 0) scores[i] = MaxNodeScore;
      else scores[i] = Math.trunc((MaxNodeScore * (max + min - scores[i])) / max);
    }
    return null;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    const podRelevant = (pod: Pod, oldObj: unknown, newObj: unknown): 'Queue' | 'QueueSkip' => {
      const other = podInfoFor((newObj ?? oldObj) as Pod);
      const me = podInfoFor(pod);
      if (other.namespace !== me.namespace) return 'QueueSkip';
      const cs = parseConstraints(pod.spec?.topologySpreadConstraints ?? [], me.labels, 'DoNotSchedule');
      const was = oldObj ? podInfoFor(oldObj as Pod).labels : undefined;
      return cs.some((c) => labelsMatch(c.matches, other.labels) || (was !== undefined && labelsMatch(c.matches, was))) ? 'Queue' : 'QueueSkip';
    };
    return [
      { event: { resource: 'Pod', actionType: ActionType.Add | ActionType.UpdatePodLabel | ActionType.Delete }, hint: podRelevant },
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.Delete | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint },
        hint: (pod, oldObj, newObj) => {
          const keys = (pod.spec?.topologySpreadConstraints ?? []).map((c) => c.topologyKey);
          const o = (oldObj as Node | undefined)?.metadata?.labels ?? {};
          const n = (newObj as Node | undefined)?.metadata?.labels ?? {};
          if (oldObj === undefined || newObj === undefined) return keys.some((k) => k in (oldObj ? o : n)) ? 'Queue' : 'QueueSkip';
          if (keys.some((k) => o[k] !== n[k])) return 'Queue';
          return JSON.stringify((oldObj as Node).spec?.taints ?? []) !== JSON.stringify((newObj as Node).spec?.taints ?? []) ? 'Queue' : 'QueueSkip';
        },
      },
    ];
  }
}

/** Factory. */
export function New(args: unknown, handle: Handle): PodTopologySpread {
  return new PodTopologySpread(handle, (args as PodTopologySpreadArgs | undefined) ?? {});
}
