/**
 * Priority preemption (upstream's framework/preemption and DefaultPreemption): when a pod fits
 * nowhere, find nodes where evicting lower-priority pods would make room, pick the victims
 * (fewest, least important: reprieve the most important pods first), choose one node, and
 * nominate the pod to it.
 */
import { labelSelectorFromObject, selectorIsEmpty, selectorMatches, type LabelSelectorObject } from '../../api/labels/label-selector.js';
import type { CycleState } from './cycle-state.js';
import { FitError, newDiagnosis, NodeToStatus } from './fit-error.js';
import type { Handle, PostFilterResult } from './interface.js';
import type { NodeInfo } from './node-info.js';
import type { PodInfo } from './pod-info.js';
import { asStatus, Code, Status } from './status.js';

/** DefaultPreemption arguments: how many candidate nodes the dry run looks for. */
export interface PreemptionArgs {
  /** Percentage of potential nodes to shortlist (default 10). */
  minCandidateNodesPercentage?: number;
  /** But at least this many (default 100). */
  minCandidateNodesAbsolute?: number;
}

/** The PodDisruptionBudget fields preemption reads. */
export interface PodDisruptionBudget {
  metadata?: { name?: string; namespace?: string };
  spec?: { selector?: LabelSelectorObject | null };
  status?: { disruptionsAllowed?: number; disruptedPods?: Record<string, unknown> };
}

/** A node where preemption would help, with the pods to evict (most important first). */
export interface Candidate {
  nodeName: string;
  victims: PodInfo[];
  numPDBViolations: number;
}

/** Options for the Evaluator. */
export interface EvaluatorOptions {
  args?: PreemptionArgs;
  /** Current PodDisruptionBudgets; none when omitted. */
  pdbs?: () => readonly PodDisruptionBudget[];
  /** Random source for the dry-run start offset. */
  random?: () => number;
}

/** Upstream's reason for nodes where evicting pods cannot help. */
export const PreemptionNotHelpful = 'Preemption is not helpful for scheduling';
/** Upstream's reason for nodes with no lower-priority pods. */
export const NoVictimsFound = 'No preemption victims found for incoming pod';

/** Is `a` more important than `b`: higher priority, then earlier start. */
export function moreImportantPod(a: PodInfo, b: PodInfo): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  return a.startTime < b.startTime;
}

/** Is the pod terminating because the scheduler preempted it? */
function terminatingByPreemption(p: PodInfo): boolean {
  if (!p.terminating) return false;
  for (const c of p.pod.status?.conditions ?? []) {
    if (c.type === 'DisruptionTarget') return c.status === 'True' && c.reason === 'PreemptionByScheduler';
  }
  return false;
}

/**
 * Split pods (kept in order) into those whose eviction would breach a PodDisruptionBudget and
 * those it would not (upstream's filterPodsWithPDBViolation).
 */
export function filterPodsWithPDBViolation(pods: readonly PodInfo[], pdbs: readonly PodDisruptionBudget[]): { violating: PodInfo[]; nonViolating: PodInfo[] } {
  const allowed = pdbs.map((p) => p.status?.disruptionsAllowed ?? 0);
  const selectors = pdbs.map((p) => {
    try {
      return labelSelectorFromObject(p.spec?.selector);
    } catch {
      return null;
    }
  });
  const violating: PodInfo[] = [];
  const nonViolating: PodInfo[] = [];
  for (const pi of pods) {
    let violated = false;
    if (Object.keys(pi.labels).length > 0) {
      for (let i = 0; i < pdbs.length; i++) {
        if ((pdbs[i].metadata?.namespace ?? 'default') !== pi.namespace) continue;
        const sel = selectors[i];
        // A nil or empty selector matches nothing here.
        if (!sel || sel.nothing || selectorIsEmpty(sel) || !selectorMatches(sel, pi.labels)) continue;
        if (pdbs[i].status?.disruptedPods && pi.name in pdbs[i].status!.disruptedPods!) continue;
        allowed[i]--;
        if (allowed[i] < 0) violated = true;
      }
    }
    (violated ? violating : nonViolating).push(pi);
  }
  return { violating, nonViolating };
}

/**
 * Choose one candidate (upstream's pickOneNodeForPreemption): fewest PDB violations, then the
 * lowest highest-priority victim, the smallest priority sum, the fewest victims, the latest start
 * of the highest-priority victims, then the first.
 */
export function pickOneNodeForPreemption(candidates: readonly Candidate[]): Candidate | undefined {
  if (candidates.length === 0) return undefined;
  const scoreFuncs: Array<(c: Candidate) => number> = [
    (c) => -c.numPDBViolations,
    (c) => -c.victims[0].priority,
    (c) => {
      let sum = 0;
      for (const v of c.victims) sum += v.priority + 2147483648;
      return -sum;
    },
    (c) => -c.victims.length,
    (c) => {
      let maxPrio = c.victims[0].priority;
      let earliest = c.victims[0].startTime;
      for (const v of c.victims) {
        if (v.priority === maxPrio) earliest = Math.min(earliest, v.startTime);
        else if (v.priority > maxPrio) {
          maxPrio = v.priority;
          earliest = v.startTime;
        }
      }
      return earliest;
    },
  ];
  let all = candidates.slice();
  for (const f of scoreFuncs) {
    let max = -Infinity;
    let selected: Candidate[] = [];
    for (const c of all) {
      const s = f(c);
      if (s > max) {
        max = s;
        selected = [];
      }
      if (s === max) selected.push(c);
    }
    if (selected.length === 1) return selected[0];
    all = selected;
  }
  return all[0];
}

/** Runs preemption for a profile. */
export class Evaluator {
  private readonly minPct: number;
  private readonly minAbs: number;
  private readonly pdbs: () => readonly PodDisruptionBudget[];
  private readonly random: () => number;

  constructor(
    private readonly handle: Handle,
    opts: EvaluatorOptions = {},
  ) {
    this.minPct = opts.args?.minCandidateNodesPercentage ?? 10;
    this.minAbs = opts.args?.minCandidateNodesAbsolute ?? 100;
    this.pdbs = opts.pdbs ?? (() => []);
    this.random = opts.random ?? Math.random;
  }

  /**
   * Try to make room for `pod`. Success nominates a node and lists the victims; otherwise the
   * status explains, in FitError form, why preemption cannot help.
   */
  preempt(state: CycleState, pod: PodInfo, nodeToStatus: NodeToStatus): PostFilterResult {
    const nominatedName = pod.pod.status?.nominatedNodeName ?? '';
    const [eligible, why] = this.podEligibleToPreemptOthers(pod, nominatedName ? nodeToStatus.get(nominatedName) : null);
    if (!eligible) return { status: new Status(Code.Unschedulable, [why]) };

    const snapshot = this.handle.snapshot();
    const allNodes = snapshot.nodeInfoList;
    if (allNodes.length === 0) return { status: asStatus(new Error('no nodes available')) };
    const potential = nodeToStatus.nodesForStatusCode(snapshot, Code.Unschedulable);
    let candidates: Candidate[] = [];
    let statuses = new NodeToStatus();
    if (potential.length > 0) {
      const offset = Math.floor(this.random() * potential.length);
      const r = this.dryRunPreemption(state, pod, potential, this.pdbs(), offset, this.numCandidates(potential.length));
      if (r instanceof Status) return { status: r };
      candidates = r.candidates;
      statuses = r.statuses;
    }
    if (candidates.length === 0) {
      statuses.absentNodesStatus = new Status(Code.UnschedulableAndUnresolvable, [PreemptionNotHelpful]);
      const d = newDiagnosis();
      d.nodeToStatus = statuses;
      const fe = new FitError(pod, allNodes.length, d);
      return { status: new Status(Code.Unschedulable, [fe.message]), nominatedNodeName: '' };
    }
    const best = pickOneNodeForPreemption(candidates)!;
    return { status: null, nominatedNodeName: best.nodeName, victims: best.victims };
  }

  /** Shortlist size: `minCandidateNodesPercentage`% of the potential nodes, at least `minCandidateNodesAbsolute`, at most all. */
  numCandidates(numNodes: number): number {
    let n = Math.trunc((numNodes * this.minPct) / 100);
    if (n < this.minAbs) n = this.minAbs;
    return Math.min(n, numNodes);
  }

  /** May this pod preempt? Not with preemptionPolicy Never, nor while its earlier victims still terminate. */
  podEligibleToPreemptOthers(pod: PodInfo, nominatedNodeStatus: Status | null): [boolean, string] {
    if (pod.pod.spec?.preemptionPolicy === 'Never') return [false, 'not eligible due to preemptionPolicy=Never.'];
    const nom = pod.pod.status?.nominatedNodeName;
    if (nom) {
      if (nominatedNodeStatus?.code === Code.UnschedulableAndUnresolvable) return [true, ''];
      const ni = this.handle.snapshot().get(nom);
      if (ni) {
        for (const p of ni.pods) {
          if (p.priority < pod.priority && terminatingByPreemption(p)) return [false, 'not eligible due to a terminating pod on the nominated node.'];
        }
      }
    }
    return [true, ''];
  }

  /** Evaluate nodes from `offset` until `numCandidates` candidates (one without PDB violations) are found. */
  dryRunPreemption(
    state: CycleState,
    pod: PodInfo,
    potential: readonly NodeInfo[],
    pdbs: readonly PodDisruptionBudget[],
    offset: number,
    numCandidates: number,
  ): { candidates: Candidate[]; statuses: NodeToStatus } | Status {
    const nonViolating: Candidate[] = [];
    const violating: Candidate[] = [];
    const statuses = new NodeToStatus();
    for (let i = 0; i < potential.length; i++) {
      const ni = potential[(offset + i) % potential.length].clone();
      const r = this.selectVictimsOnNode(state.clone(), pod, ni, pdbs);
      let status = r.status;
      if (status === null && r.victims.length > 0) {
        const c: Candidate = { nodeName: ni.name, victims: r.victims, numPDBViolations: r.numViolating };
        (r.numViolating === 0 ? nonViolating : violating).push(c);
        if (nonViolating.length > 0 && nonViolating.length + violating.length >= numCandidates) break;
        continue;
      }
      if (status === null) status = asStatus(new Error(`expected at least one victim pod on node "${ni.name}"`));
      if (status.code === Code.Error) return status;
      statuses.set(ni.name, status);
    }
    return { candidates: [...nonViolating, ...violating], statuses };
  }

  /**
   * The fewest pods to evict from `nodeInfo` (a clone; `state` too) for `pod` to fit (upstream's
   * SelectVictimsOnNode): remove every lower-priority pod, check the pod fits, then add pods back
   * most important first — PDB-protected ones before others — keeping each that still lets it fit.
   */
  selectVictimsOnNode(
    state: CycleState,
    pod: PodInfo,
    nodeInfo: NodeInfo,
    pdbs: readonly PodDisruptionBudget[],
  ): { victims: PodInfo[]; numViolating: number; status: Status | null } {
    const h = this.handle;
    const potential: PodInfo[] = [];
    for (const p of nodeInfo.pods.slice()) {
      if (p.priority < pod.priority) {
        potential.push(p);
        nodeInfo.removePod(p.key);
        const s = h.runPreFilterExtensionRemovePod(state, pod, p, nodeInfo);
        if (s !== null) return { victims: [], numViolating: 0, status: s };
      }
    }
    if (potential.length === 0) return { victims: [], numViolating: 0, status: new Status(Code.UnschedulableAndUnresolvable, [NoVictimsFound]) };
    const fits = h.runFilterPluginsWithNominatedPods(state, pod, nodeInfo);
    if (fits !== null && fits.code !== Code.Success) return { victims: [], numViolating: 0, status: fits };

    potential.sort((a, b) => (moreImportantPod(a, b) ? -1 : moreImportantPod(b, a) ? 1 : 0));
    const { violating, nonViolating } = filterPodsWithPDBViolation(potential, pdbs);
    const victims: PodInfo[] = [];
    let numViolating = 0;
    const reprieve = (p: PodInfo): boolean | Status => {
      nodeInfo.addPod(p);
      const a = h.runPreFilterExtensionAddPod(state, pod, p, nodeInfo);
      if (a !== null) return a;
      const s = h.runFilterPluginsWithNominatedPods(state, pod, nodeInfo);
      if (s === null || s.code === Code.Success) return true;
      nodeInfo.removePod(p.key);
      const r = h.runPreFilterExtensionRemovePod(state, pod, p, nodeInfo);
      if (r !== null) return r;
      victims.push(p);
      return false;
    };
    for (const p of violating) {
      const r = reprieve(p);
      if (r instanceof Status) return { victims: [], numViolating: 0, status: r };
      if (!r) numViolating++;
    }
    for (const p of nonViolating) {
      const r = reprieve(p);
      if (r instanceof Status) return { victims: [], numViolating: 0, status: r };
    }
    if (violating.length > 0 && nonViolating.length > 0) victims.sort((a, b) => (moreImportantPod(a, b) ? -1 : moreImportantPod(b, a) ? 1 : 0));
    return { victims, numViolating, status: null };
  }
}
