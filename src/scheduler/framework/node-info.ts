/**
 * A node plus what is placed on it (upstream's framework.NodeInfo): its pods, the resources they
 * request, the host ports they hold and the images the node has.
 */
import type { HostPort, PodInfo } from './pod-info.js';
import { addResource, cloneResource, newResource, resourceFromList, subtractResource, type Resource } from './resources.js';
import type { Node, Taint } from './types.js';

let generation = 0;
/** A process-wide increasing number stamped on every NodeInfo change. */
export function nextGeneration(): number {
  return ++generation;
}

const WILDCARD_IP = '0.0.0.0';
const NO_TAINTS: readonly Taint[] = Object.freeze([]) as readonly Taint[];
const EMPTY_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Host ports in use on a node: ip → `protocol/port` → count (upstream's HostPortInfo). */
export class HostPortInfo {
  private readonly byIP = new Map<string, Map<string, number>>();

  get size(): number {
    return this.byIP.size;
  }

  add(p: HostPort): void {
    let m = this.byIP.get(p.ip);
    if (!m) this.byIP.set(p.ip, (m = new Map()));
    const k = `${p.protocol}/${p.port}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }

  remove(p: HostPort): void {
    const m = this.byIP.get(p.ip);
    if (!m) return;
    const k = `${p.protocol}/${p.port}`;
    const n = (m.get(k) ?? 0) - 1;
    if (n > 0) m.set(k, n);
    else m.delete(k);
    if (m.size === 0) this.byIP.delete(p.ip);
  }

  /** Would claiming `p` clash? 0.0.0.0 clashes with every address, and every address with 0.0.0.0. */
  conflicts(p: HostPort): boolean {
    const k = `${p.protocol}/${p.port}`;
    if (p.ip === WILDCARD_IP) {
      for (const m of this.byIP.values()) if (m.has(k)) return true;
      return false;
    }
    return !!(this.byIP.get(p.ip)?.has(k) || this.byIP.get(WILDCARD_IP)?.has(k));
  }

  clone(): HostPortInfo {
    const c = new HostPortInfo();
    for (const [ip, m] of this.byIP) c.byIP.set(ip, new Map(m));
    return c;
  }
}

/** A node and the pods on it. */
export class NodeInfo {
  /** The node object; undefined while only pods (e.g. assumed ones) refer to it. */
  node: Node | undefined = undefined;
  name: string;
  labels: Record<string, string> = EMPTY_LABELS;
  taints: readonly Taint[] = NO_TAINTS;
  unschedulable = false;
  pods: PodInfo[] = [];
  /** Pods with any pod (anti-)affinity term. */
  podsWithAffinity: PodInfo[] = [];
  /** Pods with a required anti-affinity term. */
  podsWithRequiredAntiAffinity: PodInfo[] = [];
  usedPorts = new HostPortInfo();
  /** Sum of the pods' requests. */
  requested: Resource = newResource();
  /** Sum of the pods' requests with scoring defaults for missing cpu/memory. */
  nonZeroRequested: Resource = newResource();
  allocatable: Resource = newResource();
  /** Image name → size in bytes, for every name of every image on the node. */
  images = new Map<string, number>();
  generation = nextGeneration();

  constructor(name = '', node?: Node) {
    this.name = name;
    if (node) this.setNode(node);
  }

  /** Set or replace the node object. */
  setNode(node: Node): void {
    this.node = node;
    this.name = node.metadata?.name ?? this.name;
    this.labels = node.metadata?.labels ?? EMPTY_LABELS;
    this.taints = node.spec?.taints ?? NO_TAINTS;
    this.unschedulable = !!node.spec?.unschedulable;
    this.allocatable = resourceFromList(node.status?.allocatable);
    this.images = new Map();
    for (const img of node.status?.images ?? []) {
      for (const n of img.names ?? []) this.images.set(n, img.sizeBytes ?? 0);
    }
    this.generation = nextGeneration();
  }

  /** Forget the node object but keep the pods (the node was deleted while pods still point at it). */
  removeNode(): void {
    this.node = undefined;
    this.generation = nextGeneration();
  }

  /** Account for a pod placed on this node. */
  addPod(pi: PodInfo): void {
    this.pods.push(pi);
    if (pi.hasAffinity) this.podsWithAffinity.push(pi);
    if (pi.hasRequiredAntiAffinity) this.podsWithRequiredAntiAffinity.push(pi);
    addResource(this.requested, pi.requests);
    this.nonZeroRequested.milliCPU += pi.nonZeroRequests.milliCPU;
    this.nonZeroRequested.memory += pi.nonZeroRequests.memory;
    for (const p of pi.hostPorts) this.usedPorts.add(p);
    this.generation = nextGeneration();
  }

  /** Remove the pod with `key`; false when it is not here. */
  removePod(key: string): boolean {
    const i = indexOfKey(this.pods, key);
    if (i < 0) return false;
    const pi = this.pods[i];
    swapRemove(this.pods, i);
    if (pi.hasAffinity) swapRemove(this.podsWithAffinity, indexOfKey(this.podsWithAffinity, key));
    if (pi.hasRequiredAntiAffinity) swapRemove(this.podsWithRequiredAntiAffinity, indexOfKey(this.podsWithRequiredAntiAffinity, key));
    subtractResource(this.requested, pi.requests);
    this.nonZeroRequested.milliCPU -= pi.nonZeroRequests.milliCPU;
    this.nonZeroRequested.memory -= pi.nonZeroRequests.memory;
    for (const p of pi.hostPorts) this.usedPorts.remove(p);
    this.generation = nextGeneration();
    return true;
  }

  /** A copy that can be changed without touching this one (preemption's what-if). */
  clone(): NodeInfo {
    const c = new NodeInfo(this.name);
    c.node = this.node;
    c.labels = this.labels;
    c.taints = this.taints;
    c.unschedulable = this.unschedulable;
    c.pods = this.pods.slice();
    c.podsWithAffinity = this.podsWithAffinity.slice();
    c.podsWithRequiredAntiAffinity = this.podsWithRequiredAntiAffinity.slice();
    c.usedPorts = this.usedPorts.clone();
    c.requested = cloneResource(this.requested);
    c.nonZeroRequested = cloneResource(this.nonZeroRequested);
    c.allocatable = this.allocatable;
    c.images = this.images;
    c.generation = this.generation;
    return c;
  }
}

function indexOfKey(list: PodInfo[], key: string): number {
  for (let i = 0; i < list.length; i++) if (list[i].key === key) return i;
  return -1;
}

function swapRemove<T>(list: T[], i: number): void {
  if (i < 0) return;
  const last = list.length - 1;
  if (i !== last) list[i] = list[last];
  list.pop();
}

const standalone = new WeakMap<Node, NodeInfo>();

/** A pod-less NodeInfo for a node object, memoised; for queueing hints that ask "would the pod fit this node?". */
export function nodeInfoForNode(node: Node): NodeInfo {
  let ni = standalone.get(node);
  if (!ni) {
    ni = new NodeInfo(node.metadata?.name ?? '', node);
    standalone.set(node, ni);
  }
  return ni;
}
