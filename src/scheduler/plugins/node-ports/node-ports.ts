/** NodePorts: a pod's hostPorts must be free on the node (0.0.0.0 clashes with every address). */
import type { CycleState } from '../../framework/cycle-state.js';
import { ActionType, type ClusterEventWithHint } from '../../framework/events.js';
import type { EnqueueExtensions, FilterPlugin, Handle, PreFilterPlugin } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { podInfoFor, type HostPort, type PodInfo } from '../../framework/pod-info.js';
import { Code, SkipStatus, Status } from '../../framework/status.js';
import type { Pod } from '../../framework/types.js';

export const Name = 'NodePorts';
/** Upstream's ErrReason. */
export const ErrReason = "node(s) didn't have free ports for the requested pod ports";

const rejected = new Status(Code.Unschedulable, [ErrReason], Name);

/** Would any of `ports` clash with ports in use on the node? */
export function portsConflict(ports: readonly HostPort[], nodeInfo: NodeInfo): boolean {
  if (nodeInfo.usedPorts.size === 0) return false;
  for (const p of ports) if (nodeInfo.usedPorts.conflicts(p)) return true;
  return false;
}

function samePort(a: HostPort, b: HostPort): boolean {
  return a.port === b.port && a.protocol === b.protocol && (a.ip === b.ip || a.ip === '0.0.0.0' || b.ip === '0.0.0.0');
}

/** The NodePorts plugin. */
export class NodePorts implements PreFilterPlugin, FilterPlugin, EnqueueExtensions {
  readonly name = Name;

  preFilter(_state: CycleState, pod: PodInfo): Status | null {
    return pod.hostPorts.length === 0 ? SkipStatus : null;
  }

  filter(_state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): Status | null {
    return portsConflict(pod.hostPorts, nodeInfo) ? rejected : null;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Pod', actionType: ActionType.Delete },
        hint: (pod, oldObj) => {
          const freed = podInfoFor(oldObj as Pod).hostPorts;
          const want = podInfoFor(pod).hostPorts;
          return want.some((w) => freed.some((f) => samePort(w, f))) ? 'Queue' : 'QueueSkip';
        },
      },
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.Update } },
    ];
  }
}

/** Factory. */
export function New(_args?: unknown, _handle?: Handle): NodePorts {
  return new NodePorts();
}
