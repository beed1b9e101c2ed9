/** DefaultPreemption: the PostFilter that evicts lower-priority pods when a pod fits nowhere. */
import type { CycleState } from '../../framework/cycle-state.js';
import type { NodeToStatus } from '../../framework/fit-error.js';
import type { Handle, PostFilterPlugin, PostFilterResult } from '../../framework/interface.js';
import type { PodInfo } from '../../framework/pod-info.js';
import { Evaluator, type EvaluatorOptions, type PreemptionArgs } from '../../framework/preemption.js';
import { Status } from '../../framework/status.js';

export const Name = 'DefaultPreemption';

/** The DefaultPreemption plugin. */
export class DefaultPreemption implements PostFilterPlugin {
  readonly name = Name;
  readonly evaluator: Evaluator;

  constructor(handle: Handle, opts: EvaluatorOptions = {}) {
    this.evaluator = new Evaluator(handle, opts);
  }

  /** Prefix the evaluator's message with `preemption: `, as upstream does. */
  postFilter(state: CycleState, pod: PodInfo, nodeToStatus: NodeToStatus): PostFilterResult {
    const r = this.evaluator.preempt(state, pod, nodeToStatus);
    if (r.status !== null && r.status.message() !== '') {
      return { ...r, status: new Status(r.status.code, [`preemption: ${r.status.message()}`], Name) };
    }
    return r;
  }
}

/** DefaultPreemption arguments: upstream's candidate-count knobs plus the PDB source and random source. */
export type DefaultPreemptionArgs = PreemptionArgs & Omit<EvaluatorOptions, 'args'>;

/** Factory. */
export function New(args: unknown, handle: Handle): DefaultPreemption {
  const a = (args as DefaultPreemptionArgs | undefined) ?? {};
  return new DefaultPreemption(handle, {
    args: { minCandidateNodesPercentage: a.minCandidateNodesPercentage, minCandidateNodesAbsolute: a.minCandidateNodesAbsolute },
    pdbs: a.pdbs,
    random: a.random,
  });
}
