/**
 * NodeResourcesFit: Filter checks the pod's requests (cpu, memory, ephemeral storage, scalar
 * resources and the pod count) against the node's allocatable minus what its pods request;
 * Score ranks nodes with the LeastAllocated (default) or MostAllocated strategy.
 */
import type { CycleState, StateData } from '../../framework/cycle-state.js';
import { ActionType, type ClusterEventWithHint } from '../../framework/events.js';
import type { EnqueueExtensions, FilterPlugin, Handle, PreFilterPlugin, PreScorePlugin, ScorePlugin } from '../../framework/interface.js';
import { nodeInfoForNode, type NodeInfo } from '../../framework/node-info.js';
import { MaxNodeScore } from '../../framework/normalize.js';
import { podInfoFor, type PodInfo } from '../../framework/pod-info.js';
import {
  isExtendedResourceName,
  isScalarResourceName,
  resourceAmount,
  ResourceCPU,
  ResourceEphemeralStorage,
  ResourceMemory,
  ResourcePods,
  type Resource,
} from '../../framework/resources.js';
import { Code, Status } from '../../framework/status.js';
import type { Node, Pod } from '../../framework/types.js';

export const Name = 'NodeResourcesFit';

/** A resource and its weight in scoring. */
export interface ResourceSpec {
  name: string;
  weight: number;
}

/** Scoring strategy arguments. */
export interface ScoringStrategy {
  type?: 'LeastAllocated' | 'MostAllocated';
  resources?: ResourceSpec[];
}

/** NodeResourcesFit arguments. */
export interface NodeResourcesFitArgs {
  /** Extended resources Filter ignores. */
  ignoredResources?: string[];
  /** Extended resource groups (the part before `/`) Filter ignores. */
  ignoredResourceGroups?: string[];
  scoringStrategy?: ScoringStrategy;
}

/** The default scored resources: cpu and memory, weight 1 each. */
export const DefaultResources: readonly ResourceSpec[] = Object.freeze([
  { name: ResourceCPU, weight: 1 },
  { name: ResourceMemory, weight: 1 },
]);

/** One resource the node lacks. */
export interface InsufficientResource {
  resourceName: string;
  reason: string;
  requested: number;
  used: number;
  capacity: number;
}

const reasonTooManyPods = 'Too many pods';
const reasonCPU = 'Insufficient cpu';
const reasonMemory = 'Insufficient memory';
const reasonEphemeral = 'Insufficient ephemeral-storage';

/**
 * The resources `requests` do not fit into on the node (upstream's fitsRequest), in upstream's
 * order: pods, cpu, memory, ephemeral-storage, then scalar resources.
 */
export function fitsRequest(
  requests: Resource,
  nodeInfo: NodeInfo,
  ignoredResources?: ReadonlySet<string>,
  ignoredGroups?: ReadonlySet<string>,
): InsufficientResource[] {
  const out: InsufficientResource[] = [];
  const alloc = nodeInfo.allocatable;
  const used = nodeInfo.requested;
  if (nodeInfo.pods.length + 1 > alloc.allowedPodNumber) {
    out.push({ resourceName: ResourcePods, reason: reasonTooManyPods, requested: 1, used: nodeInfo.pods.length, capacity: alloc.allowedPodNumber });
  }
  if (requests.milliCPU === 0 && requests.memory === 0 && requests.ephemeralStorage === 0 && requests.scalar === null) return out;
  if (requests.milliCPU > 0 && requests.milliCPU > alloc.milliCPU - used.milliCPU) {
    out.push({ resourceName: ResourceCPU, reason: reasonCPU, requested: requests.milliCPU, used: used.milliCPU, capacity: alloc.milliCPU });
  }
  if (requests.memory > 0 && requests.memory > alloc.memory - used.memory) {
    out.push({ resourceName: ResourceMemory, reason: reasonMemory, requested: requests.memory, used: used.memory, capacity: alloc.memory });
  }
  if (requests.ephemeralStorage > 0 && requests.ephemeralStorage > alloc.ephemeralStorage - used.ephemeralStorage) {
    out.push({
      resourceName: ResourceEphemeralStorage,
      reason: reasonEphemeral,
      requested: requests.ephemeralStorage,
      used: used.ephemeralStorage,
      capacity: alloc.ephemeralStorage,
    });
  }
  if (requests.scalar) {
    for (const [name, q] of requests.scalar) {
      if (q === 0) continue;
      if (isExtendedResourceName(name) && (ignoredResources?.has(name) || (ignoredGroups?.size && ignoredGroups.has(name.split('/')[0])))) continue;
      const a = alloc.scalar?.get(name) ?? 0;
      const u = used.scalar?.get(name) ?? 0;
      if (q > a - u) out.push({ resourceName: name, reason: `Insufficient ${name}`, requested: q, used: u, capacity: a });
    }
  }
  return out;
}

/** Allocation-free check that `requests` fit; the hot path of Filter (the slow path builds the reasons). */
function fitsQuick(requests: Resource, nodeInfo: NodeInfo): boolean {
  const alloc = nodeInfo.allocatable;
  const used = nodeInfo.requested;
  if (nodeInfo.pods.length + 1 > alloc.allowedPodNumber) return false;
  if (requests.milliCPU > 0 && requests.milliCPU > alloc.milliCPU - used.milliCPU) return false;
  if (requests.memory > 0 && requests.memory > alloc.memory - used.memory) return false;
  if (requests.ephemeralStorage > 0 && requests.ephemeralStorage > alloc.ephemeralStorage - used.ephemeralStorage) return false;
  return requests.scalar === null;
}

/** Does the pod fit the node's free resources? */
export function fits(pod: PodInfo, nodeInfo: NodeInfo): boolean {
  return fitsRequest(pod.requests, nodeInfo).length === 0;
}

/** Upstream's leastRequestedScore: the free share, 0–100. */
export function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.trunc(((capacity - requested) * MaxNodeScore) / capacity);
}

/** Upstream's mostRequestedScore: the used share, 0–100. */
export function mostRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0) return 0;
  if (requested > capacity) requested = capacity;
  return Math.trunc((requested * MaxNodeScore) / capacity);
}

/**
 * The node's allocatable and requested amount of one resource with the pod added, as upstream's
 * calculateResourceAllocatableRequest: `useRequested` picks plain requests over the non-zero
 * ones; a scalar resource the pod does not request is left out (0, 0).
 */
export function allocatableAndRequested(nodeInfo: NodeInfo, resource: string, podRequest: number, useRequested: boolean): [number, number] {
  if (podRequest === 0 && isScalarResourceName(resource)) return [0, 0];
  const requested = useRequested ? nodeInfo.requested : nodeInfo.nonZeroRequested;
  switch (resource) {
    case ResourceCPU:
      return [nodeInfo.allocatable.milliCPU, requested.milliCPU + podRequest];
    case ResourceMemory:
      return [nodeInfo.allocatable.memory, requested.memory + podRequest];
    case ResourceEphemeralStorage:
      return [nodeInfo.allocatable.ephemeralStorage, nodeInfo.requested.ephemeralStorage + podRequest];
    default:
      return [nodeInfo.allocatable.scalar?.get(resource) ?? 0, (nodeInfo.requested.scalar?.get(resource) ?? 0) + podRequest];
  }
}

/** Resource kinds, so scoring switches on a small integer instead of comparing names. */
export const ResourceKind = { CPU: 0, Memory: 1, Ephemeral: 2, Scalar: 3, Other: 4 } as const;

/** The kind of each resource name. */
export function resourceKinds(resources: readonly ResourceSpec[]): Int8Array {
  return Int8Array.from(
    resources.map((r) =>
      r.name === ResourceCPU
        ? ResourceKind.CPU
        : r.name === ResourceMemory
          ? ResourceKind.Memory
          : r.name === ResourceEphemeralStorage
            ? ResourceKind.Ephemeral
            : isScalarResourceName(r.name)
              ? ResourceKind.Scalar
              : ResourceKind.Other,
    ),
  );
}

/**
 * Fill `alloc` and `req` (one slot per resource) with the node's allocatable and requested
 * amounts after adding the pod, like {@link allocatableAndRequested} but without allocating.
 */
export function fillAllocatableAndRequested(
  nodeInfo: NodeInfo,
  resources: readonly ResourceSpec[],
  kinds: Int8Array,
  podRequests: readonly number[],
  useRequested: boolean,
  alloc: number[],
  req: number[],
): void {
  const requested = useRequested ? nodeInfo.requested : nodeInfo.nonZeroRequested;
  const a = nodeInfo.allocatable;
  for (let i = 0; i < kinds.length; i++) {
    const pr = podRequests[i];
    switch (kinds[i]) {
      case ResourceKind.CPU:
        alloc[i] = a.milliCPU;
        req[i] = requested.milliCPU + pr;
        break;
      case ResourceKind.Memory:
        alloc[i] = a.memory;
        req[i] = requested.memory + pr;
        break;
      case ResourceKind.Ephemeral:
        alloc[i] = a.ephemeralStorage;
        req[i] = nodeInfo.requested.ephemeralStorage + pr;
        break;
      case ResourceKind.Scalar:
        if (pr === 0) {
          alloc[i] = 0;
          req[i] = 0;
        } else {
          alloc[i] = a.scalar?.get(resources[i].name) ?? 0;
          req[i] = (nodeInfo.requested.scalar?.get(resources[i].name) ?? 0) + pr;
        }
        break;
      default:
        alloc[i] = a.scalar?.get(resources[i].name) ?? 0;
        req[i] = (nodeInfo.requested.scalar?.get(resources[i].name) ?? 0) + pr;
    }
  }
}

/** A pod's request of each scored resource: non-zero defaults for cpu/memory unless `useRequested`. */
export function podRequestList(pod: PodInfo, resources: readonly ResourceSpec[], useRequested: boolean): number[] {
  const src = useRequested ? pod.requests : pod.nonZeroRequests;
  return resources.map((r) => (r.name === ResourceCPU || r.name === ResourceMemory ? resourceAmount(src, r.name) : resourceAmount(pod.requests, r.name)));
}

class PreScoreState implements StateData {
  constructor(readonly podRequests: number[]) {}
  clone(): StateData {
    return this;
  }
}

const preScoreStateKey = 'PreScore' + Name;

/** The NodeResourcesFit plugin. */
export class Fit implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = Name;
  private readonly ignored: ReadonlySet<string>;
  private readonly ignoredGroups: ReadonlySet<string>;
  private readonly resources: readonly ResourceSpec[];
  private readonly kinds: Int8Array;
  private readonly most: boolean;
  private readonly alloc: number[];
  private readonly req: number[];

  constructor(args: NodeResourcesFitArgs = {}) {
    this.ignored = new Set(args.ignoredResources ?? []);
    this.ignoredGroups = new Set(args.ignoredResourceGroups ?? []);
    this.resources = args.scoringStrategy?.resources?.length ? args.scoringStrategy.resources : DefaultResources;
    this.most = args.scoringStrategy?.type === 'MostAllocated';
    this.kinds = resourceKinds(this.resources);
    this.alloc = new Array(this.resources.length).fill(0);
    this.req = new Array(this.resources.length).fill(0);
  }

  /** Requests are pre-parsed on the PodInfo, so there is nothing to precompute. */
  preFilter(): Status | null {
    return null;
  }

  filter(_state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): Status | null {
    if (fitsQuick(pod.requests, nodeInfo)) return null;
    const insufficient = fitsRequest(pod.requests, nodeInfo, this.ignored, this.ignoredGroups);
    if (insufficient.length === 0) return null;
    return new Status(
      Code.Unschedulable,
      insufficient.map((r) => r.reason),
      Name,
    );
  }

  preScore(state: CycleState, pod: PodInfo): Status | null {
    state.write(preScoreStateKey, new PreScoreState(podRequestList(pod, this.resources, false)));
    return null;
  }

  score(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): number | Status {
    const reqs = state.read<PreScoreState>(preScoreStateKey)?.podRequests ?? podRequestList(pod, this.resources, false);
    // Scratch arrays are reused: scoring is synchronous, so calls never interleave.
    fillAllocatableAndRequested(nodeInfo, this.resources, this.kinds, reqs, false, this.alloc, this.req);
    let nodeScore = 0;
    let weightSum = 0;
    for (let i = 0; i < this.resources.length; i++) {
      const alloc = this.alloc[i];
      if (alloc === 0) continue;
      const req = this.req[i];
      const w = this.resources[i].weight;
      nodeScore += (this.most ? mostRequestedScore(req, alloc) : leastRequestedScore(req, alloc)) * w;
      weightSum += w;
    }
    return weightSum === 0 ? 0 : Math.trunc(nodeScore / weightSum);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Pod', actionType: ActionType.Delete | ActionType.UpdatePodScaleDown },
        // Any scheduled pod going away (or shrinking) frees room; an unscheduled one frees nothing.
        hint: (_pod, oldObj, newObj) => (newObj !== undefined || (oldObj as Pod).spec?.nodeName ? 'Queue' : 'QueueSkip'),
      },
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeAllocatable },
        hint: (pod, oldObj, newObj) => {
          const pi = podInfoFor(pod);
          const fitsNew = fitsRequest(pi.requests, nodeInfoForNode(newObj as Node), this.ignored, this.ignoredGroups).length === 0;
          if (!fitsNew) return 'QueueSkip';
          if (oldObj === undefined) return 'Queue';
          const o = nodeInfoForNode(oldObj as Node).allocatable;
          const n = nodeInfoForNode(newObj as Node).allocatable;
          const grew =
            n.allowedPodNumber > o.allowedPodNumber ||
            (pi.requests.milliCPU > 0 && n.milliCPU > o.milliCPU) ||
            (pi.requests.memory > 0 && n.memory > o.memory) ||
            (pi.requests.ephemeralStorage > 0 && n.ephemeralStorage > o.ephemeralStorage) ||
            [...(pi.requests.scalar ?? new Map<string, number>()).keys()].some((k) => (n.scalar?.get(k) ?? 0) > (o.scalar?.get(k) ?? 0));
          return grew ? 'Queue' : 'QueueSkip';
        },
      },
    ];
  }
}

/** Factory. */
export function New(args?: unknown, _handle?: Handle): Fit {
  return new Fit((args as NodeResourcesFitArgs | undefined) ?? {});
}
