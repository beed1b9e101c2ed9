/** NodeUnschedulable: cordoned nodes (spec.unschedulable) take only pods tolerating node.kubernetes.io/unschedulable:NoSchedule. */
import type { CycleState } from '../../framework/cycle-state.js';
import { ActionType, type ClusterEventWithHint } from '../../framework/events.js';
import type { EnqueueExtensions, FilterPlugin, Handle } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import type { PodInfo } from '../../framework/pod-info.js';
import { Code, Status } from '../../framework/status.js';
import { tolerationsTolerateTaint } from '../../framework/taints.js';
import { TaintNodeUnschedulable, type Node, type Pod } from '../../framework/types.js';

export const Name = 'NodeUnschedulable';
/** Upstream's ErrReasonUnschedulable. */
export const ErrReasonUnschedulable = 'node(s) were unschedulable';

const rejected = new Status(Code.UnschedulableAndUnresolvable, [ErrReasonUnschedulable], Name);
const unschedulableTaint = { key: TaintNodeUnschedulable, effect: 'NoSchedule' };

function toleratesUnschedulable(pod: Pod): boolean {
  return tolerationsTolerateTaint(pod.spec?.tolerations, unschedulableTaint);
}

/** The NodeUnschedulable plugin. */
export class NodeUnschedulable implements FilterPlugin, EnqueueExtensions {
  readonly name = Name;

  filter(_state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): Status | null {
    if (!nodeInfo.unschedulable) return null;
    return toleratesUnschedulable(pod.pod) ? null : rejected;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeTaint },
        hint: (pod, oldObj, newObj) => {
          const n = newObj as Node;
          const o = oldObj as Node | undefined;
          const nowOk = !n.spec?.unschedulable || toleratesUnschedulable(pod);
          const wasOk = o !== undefined && (!o.spec?.unschedulable || toleratesUnschedulable(pod));
          return nowOk && !wasOk ? 'Queue' : 'QueueSkip';
        },
      },
    ];
  }
}

/** Factory. */
export function New(_args?: unknown, _handle?: Handle): NodeUnschedulable {
  return new NodeUnschedulable();
}
