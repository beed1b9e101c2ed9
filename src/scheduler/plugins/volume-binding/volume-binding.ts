/**
 * VolumeBinding (upstream's plugins/volumebinding), the filtering half: a pod whose claims are
 * missing, being deleted, or unbound in an Immediate class cannot be scheduled anywhere; a node
 * fails when a bound volume's node affinity excludes it, or when a WaitForFirstConsumer claim with
 * no provisioner finds no Available volume there. {@link bindingPlan} says what binding the pod
 * to a node must write first for its WaitForFirstConsumer claims (upstream's PreBind).
 */
import type { CycleState, StateData } from '../../framework/cycle-state.js';
import { ActionType, type ClusterEventWithHint } from '../../framework/events.js';
import type { EnqueueExtensions, FilterPlugin, Handle, PreFilterPlugin, PreFilterResult } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { nodeSelectorMatches } from '../../framework/node-selector.js';
import type { PodInfo } from '../../framework/pod-info.js';
import { Code, SkipStatus, Status } from '../../framework/status.js';
import type { Node, Pod } from '../../framework/types.js';
import { tryParseQuantity } from '../../../api/quantity.js';

export const Name = 'VolumeBinding';
/** Upstream's ErrReasonNodeConflict. */
export const ErrReasonNodeConflict = 'node(s) had volume node affinity conflict';
/** Upstream's ErrReasonBindConflict. */
export const ErrReasonBindConflict = "node(s) didn't find available persistent volumes to bind";
/** Upstream's ErrReasonPVNotExist. */
export const ErrReasonPVNotExist = 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)';
/** Upstream's reason for claims the PV controller must bind first. */
export const ErrReasonUnboundImmediate = 'pod has unbound immediate PersistentVolumeClaims';

type Obj = Record<string, any>;

/** Where the plugin reads claims, volumes and classes (the scheduler's informers). */
export interface VolumeListers {
  claim(namespace: string, name: string): Obj | undefined;
  volume(name: string): Obj | undefined;
  volumes(): readonly Obj[];
  storageClass(name: string): Obj | undefined;
}

/** Plugin arguments; without listers the plugin lets every pod through. */
export interface VolumeBindingArgs {
  listers?: VolumeListers;
}

const BETA_CLASS = 'volume.beta.kubernetes.io/storage-class';
const classOf = (o: Obj) => (typeof o.metadata?.annotations?.[BETA_CLASS] === 'string' ? o.metadata.annotations[BETA_CLASS] : (o.spec?.storageClassName ?? ''));

interface State extends StateData {
  /** Volumes of the pod's bound claims. */
  boundVolumes: Obj[];
  /** Bound claims whose volume does not exist. */
  missingVolume: boolean;
  /** Unbound claims of WaitForFirstConsumer classes without a provisioner: need an Available volume on the node. */
  delayedStatic: Obj[];
}

const stateKey = `PreFilter${Name}`;

/** Claim names of a pod: persistentVolumeClaim volumes and generic ephemeral volumes (`<pod>-<volume>`). */
export function podClaimNames(pod: Pod): string[] {
  const out: string[] = [];
  for (const v of (pod.spec as Obj | undefined)?.volumes ?? []) {
    if (v?.persistentVolumeClaim?.claimName) out.push(v.persistentVolumeClaim.claimName);
    else if (v?.ephemeral) out.push(`${pod.metadata?.name}-${v.name}`);
  }
  return out;
}

function volumeFitsNode(pv: Obj, node: Node): boolean {
  const req = pv.spec?.nodeAffinity?.required;
  return !req || nodeSelectorMatches(req, node);
}

/** What binding a pod to a node must write first for its WaitForFirstConsumer claims. */
export interface BindingPlan {
  /** Static volumes to point at their claims (claimRef); the PV controller completes the bind. */
  volumes: { pv: Obj; pvc: Obj }[];
  /** Claims of provisioning classes to annotate with the chosen node (volume.kubernetes.io/selected-node). */
  selectNode: Obj[];
}

/** Which delayed claims of `pod` need a volume or the selected node on `node`, and which volume (upstream's AssumePodVolumes). */
export function bindingPlan(pod: Pod, node: Node, listers: VolumeListers): BindingPlan {
  const plan: BindingPlan = { volumes: [], selectNode: [] };
  const ns = pod.metadata?.namespace ?? '';
  const taken = new Set<string>();
  for (const name of podClaimNames(pod)) {
    const pvc = listers.claim(ns, name);
    if (!pvc || pvc.spec?.volumeName || pvc.metadata?.deletionTimestamp) continue;
    const cls = classOf(pvc);
    const sc = cls ? listers.storageClass(cls) : undefined;
    if (sc?.volumeBindingMode !== 'WaitForFirstConsumer') continue;
    const candidates = listers.volumes().filter((pv) => !taken.has(pv.metadata?.name) && hasStaticMatch(pvc, [pv], node));
    // A volume already pointing at the claim needs nothing; otherwise the smallest that fits.
    if (candidates.some((pv) => pv.spec?.claimRef)) continue;
    candidates.sort((a, b) => (tryParseQuantity(a.spec?.capacity?.storage)?.cmp(tryParseQuantity(b.spec?.capacity?.storage)!) ?? 0));
    const pv = candidates[0];
    if (pv) {
      taken.add(pv.metadata.name);
      plan.volumes.push({ pv, pvc });
    } else if (sc.provisioner && sc.provisioner !== 'kubernetes.io/no-provisioner' && pvc.metadata?.annotations?.['volume.kubernetes.io/selected-node'] !== node.metadata?.name) {
      plan.selectNode.push(pvc);
    }
  }
  return plan;
}

/** An Available, unclaimed volume of the claim's class, modes, mode and size that the node can reach (or one pre-bound to the claim). */
function hasStaticMatch(pvc: Obj, volumes: readonly Obj[], node: Node): boolean {
  const want = tryParseQuantity(pvc.spec?.resources?.requests?.storage);
  const modes: string[] = pvc.spec?.accessModes ?? [];
  const cls = classOf(pvc);
  return volumes.some((pv) => {
    if (pv.metadata?.deletionTimestamp || !volumeFitsNode(pv, node)) return false;
    const ref = pv.spec?.claimRef;
    if (ref) return ref.name === pvc.metadata?.name && ref.namespace === pvc.metadata?.namespace && (!ref.uid || ref.uid === pvc.metadata?.uid);
    if (pv.status?.phase !== 'Available' || classOf(pv) !== cls) return false;
    if ((pv.spec?.volumeMode || 'Filesystem') !== (pvc.spec?.volumeMode || 'Filesystem')) return false;
    const have = new Set<string>(pv.spec?.accessModes ?? []);
    if (!modes.every((m) => have.has(m))) return false;
    const size = tryParseQuantity(pv.spec?.capacity?.storage);
    return !!want && !!size && size.cmp(want) >= 0;
  });
}

/** The VolumeBinding plugin (PreFilter + Filter). */
export class VolumeBinding implements PreFilterPlugin, FilterPlugin, EnqueueExtensions {
  readonly name = Name;

  constructor(private readonly listers?: VolumeListers) {}

  preFilter(state: CycleState, pi: PodInfo, _nodes: readonly NodeInfo[]): Status | PreFilterResult | null {
    const names = podClaimNames(pi.pod);
    if (!this.listers || names.length === 0) return SkipStatus;
    const ns = pi.pod.metadata?.namespace ?? '';
    const st: State = {
      boundVolumes: [],
      missingVolume: false,
      delayedStatic: [],
      clone() {
        return this;
      },
    };
    let unboundImmediate = false;
    for (const name of names) {
      const pvc = this.listers.claim(ns, name);
      if (!pvc) return new Status(Code.UnschedulableAndUnresolvable, [`persistentvolumeclaim "${name}" not found`], Name);
      if (pvc.metadata?.deletionTimestamp) return new Status(Code.UnschedulableAndUnresolvable, [`persistentvolumeclaim "${name}" is being deleted`], Name);
      if (pvc.status?.phase === 'Lost') {
        return new Status(Code.UnschedulableAndUnresolvable, [`persistentvolumeclaim "${name}" bound to non-existent persistentvolume "${pvc.spec?.volumeName ?? ''}"`], Name);
      }
      const volumeName: string = pvc.spec?.volumeName ?? '';
      if (volumeName) {
        const pv = this.listers.volume(volumeName);
        if (pv) st.boundVolumes.push(pv);
        else st.missingVolume = true;
        continue;
      }
      const cls = classOf(pvc);
      const sc = cls ? this.listers.storageClass(cls) : undefined;
      if (sc?.volumeBindingMode !== 'WaitForFirstConsumer') unboundImmediate = true;
      else if (!sc.provisioner || sc.provisioner === 'kubernetes.io/no-provisioner') st.delayedStatic.push(pvc);
    }
    if (unboundImmediate) return new Status(Code.UnschedulableAndUnresolvable, [ErrReasonUnboundImmediate], Name);
    state.write(stateKey, st);
    return null;
  }

  filter(state: CycleState, _pi: PodInfo, nodeInfo: NodeInfo): Status | null {
    const st = state.read<State>(stateKey);
    const node = nodeInfo.node;
    if (!st || !node) return null;
    const reasons: string[] = [];
    if (st.missingVolume) reasons.push(ErrReasonPVNotExist);
    else if (!st.boundVolumes.every((pv) => volumeFitsNode(pv, node))) reasons.push(ErrReasonNodeConflict);
    if (st.delayedStatic.length && !st.delayedStatic.every((pvc) => hasStaticMatch(pvc, this.listers!.volumes(), node))) reasons.push(ErrReasonBindConflict);
    return reasons.length ? new Status(Code.UnschedulableAndUnresolvable, reasons, Name) : null;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      // Claims, volumes and classes arrive as 'Other' events.
      { event: { resource: 'Other', actionType: ActionType.Add | ActionType.Update } },
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel } },
    ];
  }
}

/** Factory. */
export function New(args?: unknown, _handle?: Handle): VolumeBinding {
  return new VolumeBinding((args as VolumeBindingArgs | undefined)?.listers);
}
