/**
 * Pods nominated to a node by preemption (upstream's nominator): while their victims terminate,
 * other pods must leave room for them, so Filter counts nominated pods of equal or higher priority.
 */
import type { PodInfo } from './pod-info.js';

/** Tracks nominated node names. */
export class Nominator {
  private readonly byNode = new Map<string, PodInfo[]>();
  private readonly nodeOf = new Map<string, string>();

  /** Nominate `pi` to `nodeName` (or to its status.nominatedNodeName when omitted). An empty name clears. */
  add(pi: PodInfo, nodeName?: string): void {
    this.delete(pi.key);
    const n = nodeName ?? pi.pod.status?.nominatedNodeName ?? '';
    if (!n) return;
    this.nodeOf.set(pi.key, n);
    let list = this.byNode.get(n);
    if (!list) this.byNode.set(n, (list = []));
    list.push(pi);
  }

  /** Forget a nomination. */
  delete(key: string): void {
    const n = this.nodeOf.get(key);
    if (n === undefined) return;
    this.nodeOf.delete(key);
    const list = this.byNode.get(n);
    if (!list) return;
    const i = list.findIndex((p) => p.key === key);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byNode.delete(n);
  }

  /** The node a pod is nominated to, if any. */
  nodeFor(key: string): string | undefined {
    return this.nodeOf.get(key);
  }

  /** Pods nominated to a node. */
  podsForNode(nodeName: string): readonly PodInfo[] {
    return this.byNode.get(nodeName) ?? [];
  }

  get size(): number {
    return this.nodeOf.size;
  }
}
