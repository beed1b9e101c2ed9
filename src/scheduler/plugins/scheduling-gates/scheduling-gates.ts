/** SchedulingGates: a pod with spec.schedulingGates waits outside the active queue until they are removed. */
import { ActionType, type ClusterEventWithHint } from '../../framework/events.js';
import type { EnqueueExtensions, Handle, PreEnqueuePlugin } from '../../framework/interface.js';
import type { PodInfo } from '../../framework/pod-info.js';
import { Code, Status } from '../../framework/status.js';

export const Name = 'SchedulingGates';

/** The SchedulingGates plugin. */
export class SchedulingGates implements PreEnqueuePlugin, EnqueueExtensions {
  readonly name = Name;

  preEnqueue(pod: PodInfo): Status | null {
    const gates = pod.pod.spec?.schedulingGates ?? [];
    if (gates.length === 0) return null;
    return new Status(Code.UnschedulableAndUnresolvable, [`waiting for scheduling gates: [${gates.map((g) => g.name).join(' ')}]`], Name);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [{ event: { resource: 'UnschedulablePod', actionType: ActionType.UpdatePodSchedulingGatesEliminated } }];
  }
}

/** Factory. */
export function New(_args?: unknown, _handle?: Handle): SchedulingGates {
  return new SchedulingGates();
}
