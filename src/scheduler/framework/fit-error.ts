/**
 * Why a pod fits nowhere (upstream's Diagnosis and FitError), with the event message kubectl
 * shows: `0/3 nodes are available: 1 node(s) had untolerated taint {…}, 2 Insufficient cpu.
 * preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.`
 */
import type { NodeInfo } from './node-info.js';
import type { PodInfo } from './pod-info.js';
import type { Snapshot } from './snapshot.js';
import { Code, Status } from './status.js';

/** Per-node filter statuses, with one shared status for nodes not listed. */
export class NodeToStatus {
  private readonly map = new Map<string, Status>();
  /** The status of every node not set explicitly (upstream's absentNodesStatus). */
  absentNodesStatus: Status;

  constructor(absent: Status = new Status(Code.UnschedulableAndUnresolvable)) {
    this.absentNodesStatus = absent;
  }

  set(nodeName: string, s: Status): void {
    this.map.set(nodeName, s);
  }

  /** The node's status: its own, else the absent-nodes status. */
  get(nodeName: string): Status {
    return this.map.get(nodeName) ?? this.absentNodesStatus;
  }

  /** Number of nodes with an explicit status. */
  get len(): number {
    return this.map.size;
  }

  entries(): IterableIterator<[string, Status]> {
    return this.map.entries();
  }

  /** Nodes whose status has `code`, including absent ones when the absent status has it. */
  nodesForStatusCode(snapshot: Snapshot, code: Code): NodeInfo[] {
    const out: NodeInfo[] = [];
    if (this.absentNodesStatus.code === code) {
      for (const ni of snapshot.nodeInfoList) {
        const s = this.map.get(ni.name);
        if (s === undefined || s.code === code) out.push(ni);
      }
      return out;
    }
    for (const [name, s] of this.map) {
      if (s.code !== code) continue;
      const ni = snapshot.get(name);
      if (ni) out.push(ni);
    }
    return out;
  }
}

/** What the framework learned from a failed cycle. */
export interface Diagnosis {
  nodeToStatus: NodeToStatus;
  /** Plugins that rejected the pod somewhere; the queue requeues it on events these care about. */
  unschedulablePlugins: Set<string>;
  /** Plugins that returned Pending. */
  pendingPlugins: Set<string>;
  /** The PreFilter rejection message, when PreFilter failed. */
  preFilterMsg: string;
  /** The PostFilter (preemption) message. */
  postFilterMsg: string;
}

/** A fresh, empty diagnosis. */
export function newDiagnosis(): Diagnosis {
  return { nodeToStatus: new NodeToStatus(), unschedulablePlugins: new Set(), pendingPlugins: new Set(), preFilterMsg: '', postFilterMsg: '' };
}

/** Record which plugin rejected (or parked) the pod. */
export function addPluginStatus(d: Diagnosis, s: Status): void {
  if (!s.plugin) return;
  if (s.isRejected()) d.unschedulablePlugins.add(s.plugin);
  if (s.code === Code.Pending) d.pendingPlugins.add(s.plugin);
}

/** The result of a cycle in which no node fits. A result, not an exception. */
export class FitError {
  constructor(
    readonly pod: PodInfo,
    readonly numAllNodes: number,
    readonly diagnosis: Diagnosis,
  ) {}

  /** Upstream's FitError.Error(): reasons counted per node and sorted as strings. */
  get message(): string {
    let msg = `0/${this.numAllNodes} nodes are available:`;
    const d = this.diagnosis;
    if (d.preFilterMsg !== '') {
      msg += ` ${d.preFilterMsg}.`;
    } else {
      const reasons = new Map<string, number>();
      for (const [, s] of d.nodeToStatus.entries()) for (const r of s.reasons) reasons.set(r, (reasons.get(r) ?? 0) + 1);
      const absent = this.numAllNodes - d.nodeToStatus.len;
      if (absent > 0) for (const r of d.nodeToStatus.absentNodesStatus.reasons) reasons.set(r, (reasons.get(r) ?? 0) + absent);
      const lines = [...reasons].map(([r, n]) => `${n} ${r}`);
      // Go's sort.Strings: byte order, not locale order.
      lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (lines.length) msg += ` ${lines.join(', ')}.`;
    }
    if (d.postFilterMsg !== '') msg += ` ${d.postFilterMsg}`;
    return msg;
  }

  toString(): string {
    return this.message;
  }
}
