/**
 * One scheduling attempt for one pod (upstream's schedulePod / findNodesThatFitPod /
 * prioritizeNodes / selectHost): PreFilter, Filter over a rotating window of nodes until enough
 * feasible ones are found, PreScore/Score/NormalizeScore, then the best node, ties broken at random.
 */
import type { CycleState } from './cycle-state.js';
import { addPluginStatus, FitError, newDiagnosis, type Diagnosis } from './fit-error.js';
import type { Framework } from './framework.js';
import type { NodeInfo } from './node-info.js';
import type { PodInfo } from './pod-info.js';
import type { Snapshot } from './snapshot.js';
import { Code, Status } from './status.js';

/** Below this many nodes every node is checked; above it, at least this many feasible ones are sought. */
export const MinFeasibleNodesToFind = 100;
/** The adaptive percentage never drops below this. */
export const MinFeasibleNodesPercentageToFind = 5;

/** Where a pod should go. */
export interface ScheduleResult {
  suggestedHost: string;
  /** Nodes filtered (feasible plus rejected). */
  evaluatedNodes: number;
  feasibleNodes: number;
}

/**
 * How many feasible nodes to look for (upstream's numFeasibleNodesToFind): all nodes under 100;
 * otherwise `percentage`% of them, where 0 means adaptive `max(5, 50 - nodes/125)`%, and never
 * fewer than 100.
 */
export function numFeasibleNodesToFind(percentage: number | undefined, numAllNodes: number): number {
  if (numAllNodes < MinFeasibleNodesToFind) return numAllNodes;
  let pct = percentage ?? 0;
  if (pct === 0) {
    pct = 50 - Math.trunc(numAllNodes / 125);
    if (pct < MinFeasibleNodesPercentageToFind) pct = MinFeasibleNodesPercentageToFind;
  }
  const n = Math.trunc((numAllNodes * pct) / 100);
  return n < MinFeasibleNodesToFind ? MinFeasibleNodesToFind : n;
}

/** The index of the highest total; among equal totals each is equally likely (reservoir sampling). */
export function selectHostIndex(totals: ArrayLike<number>, random: () => number): number {
  if (totals.length === 0) return -1;
  let best = 0;
  let max = totals[0];
  let ties = 1;
  for (let i = 1; i < totals.length; i++) {
    const t = totals[i];
    if (t > max) {
      max = t;
      best = i;
      ties = 1;
    } else if (t === max) {
      ties++;
      if (Math.floor(random() * ties) === 0) best = i;
    }
  }
  return best;
}

/** Options for a SchedulingAlgorithm. */
export interface AlgorithmOptions {
  /** Global percentageOfNodesToScore; a profile's own value wins. 0: adaptive. */
  percentageOfNodesToScore?: number;
  /** Random source in [0, 1), for tie-breaking. */
  random?: () => number;
}

/** Runs scheduling cycles; remembers where the last node search stopped so every node gets its turn. */
export class SchedulingAlgorithm {
  nextStartNodeIndex = 0;
  private readonly percentage: number;
  private readonly random: () => number;

  constructor(opts: AlgorithmOptions = {}) {
    this.percentage = opts.percentageOfNodesToScore ?? 0;
    this.random = opts.random ?? Math.random;
  }

  /** Pick a node for the pod: a result, a FitError when none fits, or an Error status. */
  schedulePod(fwk: Framework, state: CycleState, pod: PodInfo, snapshot: Snapshot): ScheduleResult | FitError | Status {
    if (snapshot.numNodes() === 0) return new Status(Code.Error, ['no nodes available to schedule pods']);
    const found = this.findNodesThatFitPod(fwk, state, pod, snapshot);
    if (found instanceof Status) return found;
    const { feasible, diagnosis } = found;
    if (feasible.length === 0) return new FitError(pod, snapshot.numNodes(), diagnosis);
    if (feasible.length === 1) return { suggestedHost: feasible[0].name, evaluatedNodes: 1 + diagnosis.nodeToStatus.len, feasibleNodes: 1 };
    const totals = this.prioritizeNodes(fwk, state, pod, feasible);
    if (totals instanceof Status) return totals;
    const i = selectHostIndex(totals, this.random);
    return { suggestedHost: feasible[i].name, evaluatedNodes: feasible.length + diagnosis.nodeToStatus.len, feasibleNodes: feasible.length };
  }

  /** PreFilter, then Filter (starting with the nominated node, if any). */
  findNodesThatFitPod(fwk: Framework, state: CycleState, pod: PodInfo, snapshot: Snapshot): { feasible: NodeInfo[]; diagnosis: Diagnosis } | Status {
    const diagnosis = newDiagnosis();
    const allNodes = snapshot.nodeInfoList;
    const pre = fwk.runPreFilterPlugins(state, pod, allNodes);
    for (const p of pre.plugins) diagnosis.unschedulablePlugins.add(p);
    if (pre.status !== null) {
      if (!pre.status.isRejected()) return pre.status;
      diagnosis.nodeToStatus.absentNodesStatus = pre.status;
      diagnosis.preFilterMsg = pre.status.message();
      addPluginStatus(diagnosis, pre.status);
      return { feasible: [], diagnosis };
    }

    const nominated = pod.pod.status?.nominatedNodeName;
    if (nominated) {
      const ni = snapshot.get(nominated);
      if (ni && (pre.nodeNames === null || pre.nodeNames.has(nominated))) {
        const r = this.findNodesThatPassFilters(fwk, state, pod, diagnosis, [ni], allNodes.length);
        if (r instanceof Status) return r;
        if (r.length > 0) return { feasible: r, diagnosis };
      }
    }

    let nodes: readonly NodeInfo[] = allNodes;
    if (pre.nodeNames !== null) {
      const list: NodeInfo[] = [];
      for (const name of pre.nodeNames) {
        const ni = snapshot.get(name);
        if (ni) list.push(ni);
      }
      nodes = list;
      diagnosis.nodeToStatus.absentNodesStatus = new Status(Code.UnschedulableAndUnresolvable, [`node(s) didn't satisfy plugin(s) [${[...pre.plugins].sort().join(' ')}]`]);
    }
    const feasible = this.findNodesThatPassFilters(fwk, state, pod, diagnosis, nodes, allNodes.length);
    if (feasible instanceof Status) return feasible;
    return { feasible, diagnosis };
  }

  /** Filter `nodes` from the rotating start index until enough feasible ones are found. */
  findNodesThatPassFilters(
    fwk: Framework,
    state: CycleState,
    pod: PodInfo,
    diagnosis: Diagnosis,
    nodes: readonly NodeInfo[],
    numAllNodes: number,
  ): NodeInfo[] | Status {
    const n = nodes.length;
    let toFind = numFeasibleNodesToFind(fwk.percentageOfNodesToScore ?? this.percentage, n);
    if (!fwk.hasScorePlugins()) toFind = 1;
    const feasible: NodeInfo[] = [];
    if (n === 0) return feasible;
    const start = this.nextStartNodeIndex % n;
    if (!fwk.hasFilterPlugins()) {
      for (let i = 0; i < toFind && i < n; i++) feasible.push(nodes[(start + i) % n]);
      this.nextStartNodeIndex = (this.nextStartNodeIndex + feasible.length) % numAllNodes;
      return feasible;
    }
    const statuses = diagnosis.nodeToStatus;
    let processed = 0;
    for (let i = 0; i < n; i++) {
      const ni = nodes[(start + i) % n];
      processed++;
      const s = fwk.runFilterPluginsWithNominatedPods(state, pod, ni);
      if (s === null || s.code === Code.Success) {
        feasible.push(ni);
        if (feasible.length >= toFind) break;
        continue;
      }
      if (s.code === Code.Error) {
        this.nextStartNodeIndex = (this.nextStartNodeIndex + processed) % numAllNodes;
        return s;
      }
      statuses.set(ni.name, s);
      addPluginStatus(diagnosis, s);
    }
    this.nextStartNodeIndex = (this.nextStartNodeIndex + processed) % numAllNodes;
    return feasible;
  }

  /** PreScore and Score: each feasible node's weighted total. */
  prioritizeNodes(fwk: Framework, state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Float64Array | Status {
    if (!fwk.hasScorePlugins()) return new Float64Array(nodes.length).fill(1);
    const s = fwk.runPreScorePlugins(state, pod, nodes);
    if (s !== null) return s;
    return fwk.runScorePlugins(state, pod, nodes);
  }
}
