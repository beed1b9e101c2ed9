/**
 * The extension points (upstream's framework/interface.go). A plugin implements one or more of
 * them; the framework calls them in profile order. Plugins return a Status (or null for success)
 * and never throw for an ordinary "does not fit".
 */
import type { CycleState } from './cycle-state.js';
import type { ClusterEventWithHint } from './events.js';
import type { NodeInfo } from './node-info.js';
import type { NamespaceLabels, PodInfo } from './pod-info.js';
import type { Snapshot } from './snapshot.js';
import type { Status } from './status.js';
import type { NodeToStatus } from './fit-error.js';

/** Every plugin has a unique name. */
export interface Plugin {
  readonly name: string;
}

/** Returned from PreFilter to restrict the nodes Filter looks at (e.g. a pod pinned by node name). */
export class PreFilterResult {
  constructor(readonly nodeNames: ReadonlySet<string>) {}
}

/** Lets preemption tell a PreFilter plugin's cycle state that a pod was added to or removed from a node. */
export interface PreFilterExtensions {
  addPod(state: CycleState, podToSchedule: PodInfo, podToAdd: PodInfo, nodeInfo: NodeInfo): Status | null;
  removePod(state: CycleState, podToSchedule: PodInfo, podToRemove: PodInfo, nodeInfo: NodeInfo): Status | null;
}

/** Runs once per cycle before Filter; may precompute state, skip its Filter, reject the pod or narrow the nodes. */
export interface PreFilterPlugin extends Plugin {
  preFilter(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Status | PreFilterResult | null;
  /** Present when the plugin's state depends on other pods on the node. */
  readonly preFilterExtensions?: PreFilterExtensions;
}

/** Decides whether the pod can run on one node. Called per node, so keep it cheap. */
export interface FilterPlugin extends Plugin {
  filter(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): Status | null;
}

/** Runs when no node fits (preemption). */
export interface PostFilterPlugin extends Plugin {
  postFilter(state: CycleState, pod: PodInfo, nodeToStatus: NodeToStatus): PostFilterResult;
}

/** What a PostFilter plugin decided. */
export interface PostFilterResult {
  status: Status | null;
  /** The node the pod should wait for; '' clears a previous nomination; undefined leaves it. */
  nominatedNodeName?: string;
  /** Pods to evict so the pod fits on the nominated node. */
  victims?: PodInfo[];
}

/** Runs once per cycle before Score over the feasible nodes. */
export interface PreScorePlugin extends Plugin {
  preScore(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Status | null;
}

/** Ranks feasible nodes. `score` returns a raw number (or an Error status); `normalizeScore` maps raw scores to [0, 100]. */
export interface ScorePlugin extends Plugin {
  score(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): number | Status;
  /** Rewrites `scores` (aligned with `nodes`) in place. */
  normalizeScore?(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[], scores: number[]): Status | null;
}

/** Claims (and releases) resources for a pod once its node is chosen, before binding. */
export interface ReservePlugin extends Plugin {
  reserve(state: CycleState, pod: PodInfo, nodeName: string): Status | null;
  unreserve(state: CycleState, pod: PodInfo, nodeName: string): void;
}

/** Gates a pod before it may enter the active queue (e.g. scheduling gates). */
export interface PreEnqueuePlugin extends Plugin {
  preEnqueue(pod: PodInfo): Status | null;
}

/** Names the cluster events that may make a pod this plugin rejected schedulable again. */
export interface EnqueueExtensions extends Plugin {
  eventsToRegister(): ClusterEventWithHint[];
}

/** What plugins may ask of the framework. */
export interface Handle {
  /** The snapshot of the cycle being run. */
  snapshot(): Snapshot;
  /** Labels of a namespace, for affinity terms with a namespaceSelector; undefined when unknown. */
  namespaceLabels: NamespaceLabels;
  /** Pods nominated (by preemption) to run on a node. */
  nominatedPodsForNode(nodeName: string): readonly PodInfo[];
  /** Runs every Filter plugin, counting pods nominated to the node (used by preemption). */
  runFilterPluginsWithNominatedPods(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): Status | null;
  runPreFilterExtensionAddPod(state: CycleState, podToSchedule: PodInfo, podToAdd: PodInfo, nodeInfo: NodeInfo): Status | null;
  runPreFilterExtensionRemovePod(state: CycleState, podToSchedule: PodInfo, podToRemove: PodInfo, nodeInfo: NodeInfo): Status | null;
}

/** Builds a plugin from its arguments. */
export type PluginFactory = (args: unknown, handle: Handle) => Plugin;

/** Type guards for the extension points. */
export const isPreFilter = (p: Plugin): p is PreFilterPlugin => typeof (p as PreFilterPlugin).preFilter === 'function';
export const isFilter = (p: Plugin): p is FilterPlugin => typeof (p as FilterPlugin).filter === 'function';
export const isPostFilter = (p: Plugin): p is PostFilterPlugin => typeof (p as PostFilterPlugin).postFilter === 'function';
export const isPreScore = (p: Plugin): p is PreScorePlugin => typeof (p as PreScorePlugin).preScore === 'function';
export const isScore = (p: Plugin): p is ScorePlugin => typeof (p as ScorePlugin).score === 'function';
export const isReserve = (p: Plugin): p is ReservePlugin => typeof (p as ReservePlugin).reserve === 'function';
export const isPreEnqueue = (p: Plugin): p is PreEnqueuePlugin => typeof (p as PreEnqueuePlugin).preEnqueue === 'function';
export const isEnqueueExtensions = (p: Plugin): p is EnqueueExtensions => typeof (p as EnqueueExtensions).eventsToRegister === 'function';
