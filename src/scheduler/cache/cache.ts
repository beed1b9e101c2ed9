/**
 * The scheduler's view of the cluster (upstream's internal/cache): NodeInfos kept current from
 * node and pod events, plus assumed pods — a pod counts on its chosen node from the moment the
 * scheduler picks it, before the binding is written or the watch confirms it, so a burst of
 * pods never overcommits a node.
 *
 * Scheduling cycles are synchronous, so the snapshot shares the cache's NodeInfos instead of
 * copying them; only the node list and the affinity lists are rebuilt, and only when they change.
 */
import { NodeInfo } from '../framework/node-info.js';
import { podInfoFor, podKey, type PodInfo } from '../framework/pod-info.js';
import { Snapshot } from '../framework/snapshot.js';
import type { Node, Pod } from '../framework/types.js';

interface PodState {
  pod: PodInfo;
  /** When an assumed pod whose binding finished is given up on (ms), or null. */
  deadline: number | null;
  bindingFinished: boolean;
}

/** Cache options. */
export interface CacheOptions {
  /** How long an assumed pod may wait for its watch confirmation after binding; 0 (default) waits forever, as upstream. */
  assumedPodTTLMs?: number;
  now?: () => number;
}

/** Thrown for cache misuse (assuming a pod twice, forgetting an unknown one); a bug, not a scheduling result. */
export class CacheError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CacheError';
  }
}

/** NodeInfos, pods and assumed pods. */
export class Cache {
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly podStates = new Map<string, PodState>();
  private readonly assumed = new Set<string>();
  private readonly snap = new Snapshot(this.nodes);
  private nodesDirty = true;
  private affinityDirty = true;
  private imagesDirty = true;
  private readonly ttl: number;
  private readonly now: () => number;

  constructor(opts: CacheOptions = {}) {
    this.ttl = opts.assumedPodTTLMs ?? 0;
    this.now = opts.now ?? Date.now;
  }

  /** The assumed-pod TTL in milliseconds (0: never expire). */
  get assumedPodTTLMs(): number {
    return this.ttl;
  }

  get nodeCount(): number {
    let n = 0;
    for (const ni of this.nodes.values()) if (ni.node) n++;
    return n;
  }

  get podCount(): number {
    return this.podStates.size;
  }

  get assumedCount(): number {
    return this.assumed.size;
  }

  /** The NodeInfo for a node name (including placeholders), if any. */
  nodeInfo(name: string): NodeInfo | undefined {
    return this.nodes.get(name);
  }

  addNode(node: Node): void {
    const name = node.metadata?.name ?? '';
    let ni = this.nodes.get(name);
    if (!ni) this.nodes.set(name, (ni = new NodeInfo(name)));
    ni.setNode(node);
    this.nodesDirty = this.affinityDirty = this.imagesDirty = true;
  }

  updateNode(_old: Node | undefined, node: Node): void {
    const name = node.metadata?.name ?? '';
    let ni = this.nodes.get(name);
    if (!ni) {
      this.nodes.set(name, (ni = new NodeInfo(name)));
      this.nodesDirty = this.affinityDirty = true;
    }
    const zoneBefore = ni.node ? JSON.stringify([ni.labels['topology.kubernetes.io/zone'], ni.labels['topology.kubernetes.io/region']]) : '';
    const hadNode = !!ni.node;
    ni.setNode(node);
    const zoneAfter = JSON.stringify([ni.labels['topology.kubernetes.io/zone'], ni.labels['topology.kubernetes.io/region']]);
    if (!hadNode || zoneBefore !== zoneAfter) this.nodesDirty = this.affinityDirty = true;
    this.imagesDirty = true;
  }

  removeNode(node: Node): void {
    const name = node.metadata?.name ?? '';
    const ni = this.nodes.get(name);
    if (!ni) return;
    // Pods still pointing at the node keep a placeholder until they are deleted too.
    if (ni.pods.length === 0) this.nodes.delete(name);
    else ni.removeNode();
    this.nodesDirty = this.affinityDirty = this.imagesDirty = true;
  }

  private addPodToNode(pi: PodInfo): void {
    const name = pi.nodeName;
    let ni = this.nodes.get(name);
    if (!ni) this.nodes.set(name, (ni = new NodeInfo(name)));
    ni.addPod(pi);
    if (pi.hasAffinity) this.affinityDirty = true;
  }

  private removePodFromNode(pi: PodInfo): void {
    const ni = this.nodes.get(pi.nodeName);
    if (!ni) return;
    ni.removePod(pi.key);
    if (pi.hasAffinity) this.affinityDirty = true;
    if (!ni.node && ni.pods.length === 0) this.nodes.delete(pi.nodeName);
  }

  /** Place a pod on its chosen node (spec.nodeName set) before the binding is confirmed. */
  assumePod(pod: Pod): void {
    const pi = podInfoFor(pod);
    if (!pi.nodeName) throw new CacheError(`pod ${pi.namespace}/${pi.name} has no node name to be assumed on`);
    if (this.podStates.has(pi.key)) throw new CacheError(`pod ${pi.namespace}/${pi.name}(${pi.key}) is in the cache, so can't be assumed`);
    this.addPodToNode(pi);
    this.podStates.set(pi.key, { pod: pi, deadline: null, bindingFinished: false });
    this.assumed.add(pi.key);
  }

  /** The binding call returned; start the expiry clock (when a TTL is set). */
  finishBinding(pod: Pod): void {
    const key = podKey(pod);
    const st = this.podStates.get(key);
    if (!st || !this.assumed.has(key)) return;
    st.bindingFinished = true;
    st.deadline = this.ttl > 0 ? this.now() + this.ttl : null;
  }

  /** Undo an assumption (binding failed). */
  forgetPod(pod: Pod): void {
    const key = podKey(pod);
    const st = this.podStates.get(key);
    if (!st) return;
    if (!this.assumed.has(key)) throw new CacheError(`pod ${key} wasn't assumed so cannot be forgotten`);
    this.removePodFromNode(st.pod);
    this.podStates.delete(key);
    this.assumed.delete(key);
  }

  isAssumedPod(pod: Pod): boolean {
    return this.assumed.has(podKey(pod));
  }

  /** The cached (possibly assumed) version of a pod. */
  getPod(pod: Pod): Pod | undefined {
    return this.podStates.get(podKey(pod))?.pod.pod;
  }

  /** A bound pod was observed (watch add): confirms an assumed pod, or adds it. */
  addPod(pod: Pod): void {
    const pi = podInfoFor(pod);
    const st = this.podStates.get(pi.key);
    if (st && this.assumed.has(pi.key)) {
      this.removePodFromNode(st.pod);
      this.addPodToNode(pi);
      this.podStates.set(pi.key, { pod: pi, deadline: null, bindingFinished: false });
      this.assumed.delete(pi.key);
      return;
    }
    if (st) {
      this.updatePod(st.pod.pod, pod);
      return;
    }
    this.addPodToNode(pi);
    this.podStates.set(pi.key, { pod: pi, deadline: null, bindingFinished: false });
  }

  /** A bound pod changed. */
  updatePod(_old: Pod, pod: Pod): void {
    const pi = podInfoFor(pod);
    const st = this.podStates.get(pi.key);
    if (!st) {
      this.addPod(pod);
      return;
    }
    this.removePodFromNode(st.pod);
    this.addPodToNode(pi);
    st.pod = pi;
    if (this.assumed.has(pi.key)) {
      this.assumed.delete(pi.key);
      st.deadline = null;
    }
  }

  /** A bound pod was deleted (or finished). */
  removePod(pod: Pod): void {
    const key = podKey(pod);
    const st = this.podStates.get(key);
    if (!st) return;
    this.removePodFromNode(st.pod);
    this.podStates.delete(key);
    this.assumed.delete(key);
  }

  /** Drop assumed pods whose binding finished more than the TTL ago without confirmation. Returns them. */
  cleanupAssumedPods(now = this.now()): Pod[] {
    const expired: Pod[] = [];
    for (const key of this.assumed) {
      const st = this.podStates.get(key)!;
      if (!st.bindingFinished || st.deadline === null || now < st.deadline) continue;
      expired.push(st.pod.pod);
    }
    for (const p of expired) this.forgetPod(p);
    return expired;
  }

  /** The snapshot for the next cycle; cheap when nothing structural changed. */
  updateSnapshot(): Snapshot {
    if (this.nodesDirty) {
      this.snap.rebuildNodeList();
      this.nodesDirty = false;
      this.affinityDirty = true;
    }
    if (this.affinityDirty) {
      this.snap.rebuildAffinityLists();
      this.affinityDirty = false;
    }
    if (this.imagesDirty) {
      this.snap.rebuildImageCounts();
      this.imagesDirty = false;
    }
    return this.snap;
  }

  /** The snapshot as last updated. */
  get snapshot(): Snapshot {
    return this.snap;
  }
}
