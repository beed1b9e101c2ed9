/** NodeName: a pod that names a node (spec.nodeName) fits only there. */
import { ActionType, type ClusterEventWithHint } from '../../framework/events.js';
import type { EnqueueExtensions, FilterPlugin, Handle } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import type { PodInfo } from '../../framework/pod-info.js';
import { Code, Status } from '../../framework/status.js';
import type { CycleState } from '../../framework/cycle-state.js';
import type { Node, Pod } from '../../framework/types.js';

export const Name = 'NodeName';
/** Upstream's ErrReason. */
export const ErrReason = "node(s) didn't match the requested node name";

const rejected = new Status(Code.UnschedulableAndUnresolvable, [ErrReason], Name);

/** Does the pod's spec.nodeName (if any) name this node? */
export function fits(pod: Pod, nodeName: string): boolean {
  const want = pod.spec?.nodeName;
  return !want || want === nodeName;
}

/** The NodeName plugin. */
export class NodeName implements FilterPlugin, EnqueueExtensions {
  readonly name = Name;

  filter(_state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): Status | null {
    return fits(pod.pod, nodeInfo.name) ? null : rejected;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint },
        hint: (pod, _old, newObj) => (fits(pod, (newObj as Node).metadata?.name ?? '') ? 'Queue' : 'QueueSkip'),
      },
    ];
  }
}

/** Factory. */
export function New(_args?: unknown, _handle?: Handle): NodeName {
  return new NodeName();
}
