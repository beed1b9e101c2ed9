/**
 * NodeResourcesBalancedAllocation: prefers nodes whose cpu and memory (by default) would be used
 * in similar proportions after placing the pod: score = (1 - std of the used fractions) × 100.
 */
import type { CycleState, StateData } from '../../framework/cycle-state.js';
import type { Handle, PreScorePlugin, ScorePlugin } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { MaxNodeScore } from '../../framework/normalize.js';
import type { PodInfo } from '../../framework/pod-info.js';
import { SkipStatus, type Status } from '../../framework/status.js';
import { DefaultResources, fillAllocatableAndRequested, podRequestList, resourceKinds, type ResourceSpec } from '../node-resources-fit/node-resources-fit.js';

export const Name = 'NodeResourcesBalancedAllocation';
const preScoreStateKey = 'PreScore' + Name;

/** Arguments: the resources to balance (weights are ignored, as upstream). */
export interface BalancedAllocationArgs {
  resources?: ResourceSpec[];
}

class PreScoreState implements StateData {
  constructor(readonly podRequests: number[]) {}
  clone(): StateData {
    return this;
  }
}

/**
 * Upstream's balancedResourceScorer: fractions requested/allocatable (capped at 1) of resources
 * with allocatable > 0; std is |f1 - f2| / 2 for two, the population std for more, 0 for one.
 */
export function balancedResourceScorer(requested: readonly number[], allocatable: readonly number[]): number {
  if (requested.length === 2 && allocatable[0] !== 0 && allocatable[1] !== 0) {
    // The common cpu+memory case, without allocating.
    const f0 = Math.min(requested[0] / allocatable[0], 1);
    const f1 = Math.min(requested[1] / allocatable[1], 1);
    return Math.trunc((1 - Math.abs((f0 - f1) / 2)) * MaxNodeScore);
  }
  const fractions: number[] = [];
  let total = 0;
  for (let i = 0; i < requested.length; i++) {
    if (allocatable[i] === 0) continue;
    let f = requested[i] / allocatable[i];
    if (f > 1) f = 1;
    total += f;
    fractions.push(f);
  }
  let std = 0;
  if (fractions.length === 2) std = Math.abs((fractions[0] - fractions[1]) / 2);
  else if (fractions.length > 2) {
    const mean = total / fractions.length;
    let sum = 0;
    for (const f of fractions) sum += (f - mean) * (f - mean);
    std = Math.sqrt(sum / fractions.length);
  }
  return Math.trunc((1 - std) * MaxNodeScore);
}

/** The NodeResourcesBalancedAllocation plugin. */
export class BalancedAllocation implements PreScorePlugin, ScorePlugin {
  readonly name = Name;
  private readonly resources: readonly ResourceSpec[];
  private readonly kinds: Int8Array;
  private readonly req: number[];
  private readonly alloc: number[];

  constructor(args: BalancedAllocationArgs = {}) {
    this.resources = args.resources?.length ? args.resources : DefaultResources;
    this.kinds = resourceKinds(this.resources);
    this.req = new Array(this.resources.length).fill(0);
    this.alloc = new Array(this.resources.length).fill(0);
  }

  /** Best-effort pods (no requests for the balanced resources) are not scored. */
  preScore(state: CycleState, pod: PodInfo): Status | null {
    const reqs = podRequestList(pod, this.resources, true);
    if (reqs.every((r) => r === 0)) return SkipStatus;
    state.write(preScoreStateKey, new PreScoreState(reqs));
    return null;
  }

  score(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): number | Status {
    const reqs = state.read<PreScoreState>(preScoreStateKey)?.podRequests ?? podRequestList(pod, this.resources, true);
    // Reused scratch arrays: scoring is synchronous, so no two calls interleave.
    fillAllocatableAndRequested(nodeInfo, this.resources, this.kinds, reqs, true, this.alloc, this.req);
    for (let i = 0; i < this.alloc.length; i++) if (this.alloc[i] === 0) this.req[i] = 0;
    return balancedResourceScorer(this.req, this.alloc);
  }
}

/** Factory. */
export function New(args?: unknown, _handle?: Handle): BalancedAllocation {
  return new BalancedAllocation((args as BalancedAllocationArgs | undefined) ?? {});
}
