/**
 * The plugin runner for one profile (upstream's frameworkImpl): builds the plugins a profile
 * names, sorts them into extension points and runs each point with upstream's rules — first
 * Filter failure wins, Skip drops a plugin for the cycle, scores are normalised to [0, 100] and
 * weighted, Reserve failures roll back with Unreserve in reverse order.
 */
import { CycleState } from './cycle-state.js';
import type { ClusterEventWithHint } from './events.js';
import type { NodeToStatus } from './fit-error.js';
import {
  isEnqueueExtensions,
  isFilter,
  isPostFilter,
  isPreEnqueue,
  isPreFilter,
  isPreScore,
  isReserve,
  isScore,
  PreFilterResult,
  type FilterPlugin,
  type Handle,
  type Plugin,
  type PluginFactory,
  type PostFilterPlugin,
  type PostFilterResult,
  type PreEnqueuePlugin,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ReservePlugin,
  type ScorePlugin,
} from './interface.js';
import type { NodeInfo } from './node-info.js';
import { Nominator } from './nominator.js';
import { MaxNodeScore, MinNodeScore } from './normalize.js';
import type { NamespaceLabels, PodInfo } from './pod-info.js';
import type { Snapshot } from './snapshot.js';
import { asStatus, Code, Status } from './status.js';

/** One plugin in a profile, with its score weight (default 1) and arguments. */
export interface PluginConfig {
  name: string;
  weight?: number;
  args?: unknown;
}

/** A scheduling profile: a scheduler name and its plugins in order. */
export interface Profile {
  schedulerName?: string;
  plugins: PluginConfig[];
  /** 0 or unset: adaptive, as upstream. */
  percentageOfNodesToScore?: number;
}

/** Plugin name → factory. */
export type Registry = Record<string, PluginFactory>;

/** What a Framework needs from its owner. */
export interface FrameworkOptions {
  registry: Registry;
  profile: Profile;
  /** The snapshot the current cycle works on. */
  snapshot: () => Snapshot;
  namespaceLabels?: NamespaceLabels;
  nominator?: Nominator;
}

/** The result of running every PreFilter plugin. */
export interface PreFilterOutcome {
  /** Nodes all restricting plugins agree on, or null for every node. */
  nodeNames: Set<string> | null;
  status: Status | null;
  /** Plugins that rejected the pod, or restricted its nodes. */
  plugins: Set<string>;
}

const NO_NOMINATED: readonly PodInfo[] = [];

/** Runs a profile's plugins. */
export class Framework implements Handle {
  readonly profileName: string;
  readonly percentageOfNodesToScore: number | undefined;
  readonly plugins = new Map<string, Plugin>();
  readonly preFilterPlugins: PreFilterPlugin[] = [];
  readonly filterPlugins: FilterPlugin[] = [];
  readonly postFilterPlugins: PostFilterPlugin[] = [];
  readonly preScorePlugins: PreScorePlugin[] = [];
  readonly scorePlugins: ScorePlugin[] = [];
  readonly scoreWeights: number[] = [];
  readonly reservePlugins: ReservePlugin[] = [];
  readonly preEnqueuePlugins: PreEnqueuePlugin[] = [];
  /** Plugin name → the events that may help pods it rejected. */
  readonly eventRegistrations = new Map<string, ClusterEventWithHint[]>();
  readonly nominator: Nominator;
  readonly namespaceLabels: NamespaceLabels;
  private readonly getSnapshot: () => Snapshot;

  constructor(opts: FrameworkOptions) {
    this.profileName = opts.profile.schedulerName ?? 'default-scheduler';
    this.percentageOfNodesToScore = opts.profile.percentageOfNodesToScore;
    this.getSnapshot = opts.snapshot;
    this.namespaceLabels = opts.namespaceLabels ?? (() => undefined);
    this.nominator = opts.nominator ?? new Nominator();
    for (const cfg of opts.profile.plugins) {
      if (this.plugins.has(cfg.name)) throw new Error(`plugin ${JSON.stringify(cfg.name)} already registered in profile ${JSON.stringify(this.profileName)}`);
      const factory = opts.registry[cfg.name];
      if (!factory) throw new Error(`plugin ${JSON.stringify(cfg.name)} does not exist`);
      const pl = factory(cfg.args, this);
      this.plugins.set(cfg.name, pl);
      if (isPreFilter(pl)) this.preFilterPlugins.push(pl);
      if (isFilter(pl)) this.filterPlugins.push(pl);
      if (isPostFilter(pl)) this.postFilterPlugins.push(pl);
      if (isPreScore(pl)) this.preScorePlugins.push(pl);
      if (isScore(pl)) {
        const w = cfg.weight ?? 1;
        if (!Number.isInteger(w) || w <= 0) throw new Error(`score plugin ${JSON.stringify(cfg.name)} has invalid weight ${w}`);
        this.scorePlugins.push(pl);
        this.scoreWeights.push(w);
      }
      if (isReserve(pl)) this.reservePlugins.push(pl);
      if (isPreEnqueue(pl)) this.preEnqueuePlugins.push(pl);
      if (isEnqueueExtensions(pl)) this.eventRegistrations.set(pl.name, pl.eventsToRegister());
    }
  }

  snapshot(): Snapshot {
    return this.getSnapshot();
  }

  nominatedPodsForNode(nodeName: string): readonly PodInfo[] {
    return this.nominator.size === 0 ? NO_NOMINATED : this.nominator.podsForNode(nodeName);
  }

  hasFilterPlugins(): boolean {
    return this.filterPlugins.length > 0;
  }

  hasScorePlugins(): boolean {
    return this.scorePlugins.length > 0;
  }

  /** Run PreEnqueue plugins; the first non-success status (with its plugin) gates the pod. */
  runPreEnqueuePlugins(pod: PodInfo): Status | null {
    for (const pl of this.preEnqueuePlugins) {
      const s = pl.preEnqueue(pod);
      if (s !== null && s.code !== Code.Success) {
        if (!s.plugin) s.plugin = pl.name;
        return s;
      }
    }
    return null;
  }

  /** Run PreFilter plugins, recording skips in `state` and intersecting node restrictions. */
  runPreFilterPlugins(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): PreFilterOutcome {
    let nodeNames: Set<string> | null = null;
    const plugins = new Set<string>();
    const withNodes: string[] = [];
    for (const pl of this.preFilterPlugins) {
      let r: Status | PreFilterResult | null;
      try {
        r = pl.preFilter(state, pod, nodes);
      } catch (e) {
        return { nodeNames: null, status: asStatus(e, pl.name), plugins };
      }
      if (r === null) continue;
      if (r instanceof Status) {
        if (r.code === Code.Success) continue;
        if (r.code === Code.Skip) {
          state.skipFilterPlugins.add(pl.name);
          continue;
        }
        if (!r.plugin) r.plugin = pl.name;
        if (r.isRejected()) {
          plugins.add(pl.name);
          return { nodeNames: null, status: r, plugins };
        }
        return { nodeNames: null, status: new Status(Code.Error, [`running PreFilter plugin "${pl.name}": ${r.message()}`], pl.name, r.error), plugins };
      }
      withNodes.push(pl.name);
      plugins.add(pl.name);
      if (nodeNames === null) nodeNames = new Set(r.nodeNames);
      else for (const n of nodeNames) if (!r.nodeNames.has(n)) nodeNames.delete(n);
      if (nodeNames.size === 0) {
        const msg = withNodes.length === 1 ? `node(s) didn't satisfy plugin ${withNodes[0]}` : `node(s) didn't satisfy plugin(s) [${withNodes.join(' ')}] simultaneously`;
        return { nodeNames, status: new Status(Code.UnschedulableAndUnresolvable, [msg]), plugins };
      }
    }
    state.activeFilters = this.filterPlugins.filter((p) => !state.skipFilterPlugins.has(p.name));
    return { nodeNames, status: null, plugins };
  }

  /** Run Filter plugins on one node; the first rejection (or error) ends it. */
  runFilterPlugins(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): Status | null {
    const filters = (state.activeFilters ?? this.filterPlugins) as readonly FilterPlugin[];
    for (let i = 0; i < filters.length; i++) {
      const pl = filters[i];
      let s: Status | null;
      try {
        s = pl.filter(state, pod, nodeInfo);
      } catch (e) {
        return asStatus(e, pl.name);
      }
      if (s !== null && s.code !== Code.Success) {
        if (!s.isRejected() && s.code !== Code.Error) s = new Status(Code.Error, [`running "${pl.name}" filter plugin: ${s.message()}`], pl.name);
        if (!s.plugin) s.plugin = pl.name;
        return s;
      }
    }
    return null;
  }

  /**
   * Run Filter plugins counting pods nominated to the node with at least the pod's priority
   * (upstream's RunFilterPluginsWithNominatedPods): the pod must fit both with them and, when
   * any were added, without them.
   */
  runFilterPluginsWithNominatedPods(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): Status | null {
    const nominated = this.nominatedPodsForNode(nodeInfo.name);
    if (nominated.length === 0) return this.runFilterPlugins(state, pod, nodeInfo);
    let stateOut = state;
    let infoOut = nodeInfo;
    let added = false;
    for (const np of nominated) {
      if (np.priority >= pod.priority && np.key !== pod.key) {
        if (!added) {
          stateOut = state.clone();
          infoOut = nodeInfo.clone();
          added = true;
        }
        infoOut.addPod(np);
        const s = this.runPreFilterExtensionAddPod(stateOut, pod, np, infoOut);
        if (s !== null && s.code !== Code.Success) return s;
      }
    }
    const s = this.runFilterPlugins(stateOut, pod, infoOut);
    if (!added || (s !== null && s.code !== Code.Success)) return s;
    return this.runFilterPlugins(state, pod, nodeInfo);
  }

  runPreFilterExtensionAddPod(state: CycleState, podToSchedule: PodInfo, podToAdd: PodInfo, nodeInfo: NodeInfo): Status | null {
    for (const pl of this.preFilterPlugins) {
      if (!pl.preFilterExtensions || state.skipFilterPlugins.has(pl.name)) continue;
      const s = pl.preFilterExtensions.addPod(state, podToSchedule, podToAdd, nodeInfo);
      if (s !== null && s.code !== Code.Success) return new Status(Code.Error, [`running AddPod on PreFilter plugin "${pl.name}": ${s.message()}`], pl.name);
    }
    return null;
  }

  runPreFilterExtensionRemovePod(state: CycleState, podToSchedule: PodInfo, podToRemove: PodInfo, nodeInfo: NodeInfo): Status | null {
    for (const pl of this.preFilterPlugins) {
      if (!pl.preFilterExtensions || state.skipFilterPlugins.has(pl.name)) continue;
      const s = pl.preFilterExtensions.removePod(state, podToSchedule, podToRemove, nodeInfo);
      if (s !== null && s.code !== Code.Success) return new Status(Code.Error, [`running RemovePod on PreFilter plugin "${pl.name}": ${s.message()}`], pl.name);
    }
    return null;
  }

  /** Run PostFilter plugins until one succeeds or errors; rejections are returned as the last status. */
  runPostFilterPlugins(state: CycleState, pod: PodInfo, nodeToStatus: NodeToStatus): PostFilterResult {
    let last: PostFilterResult = { status: new Status(Code.Unschedulable) };
    for (const pl of this.postFilterPlugins) {
      let r: PostFilterResult;
      try {
        r = pl.postFilter(state, pod, nodeToStatus);
      } catch (e) {
        return { status: asStatus(e, pl.name) };
      }
      if (r.status !== null && !r.status.plugin) r.status.plugin = pl.name;
      if (r.status === null || r.status.code === Code.Success || r.status.code === Code.Error) return r;
      last = r;
    }
    return last;
  }

  /** Run PreScore plugins, recording skips in `state`. */
  runPreScorePlugins(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Status | null {
    for (const pl of this.preScorePlugins) {
      let s: Status | null;
      try {
        s = pl.preScore(state, pod, nodes);
      } catch (e) {
        return asStatus(e, pl.name);
      }
      if (s === null || s.code === Code.Success) continue;
      if (s.code === Code.Skip) {
        state.skipScorePlugins.add(pl.name);
        continue;
      }
      return new Status(Code.Error, [`running PreScore plugin "${pl.name}": ${s.message()}`], pl.name, s.error);
    }
    return null;
  }

  /**
   * Run Score and NormalizeScore and return each node's weighted total (aligned with `nodes`), or
   * an Error status. A normalised score outside [0, 100] is an error, as upstream.
   */
  runScorePlugins(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Float64Array | Status {
    const totals = new Float64Array(nodes.length);
    const scores: number[] = new Array(nodes.length);
    for (let p = 0; p < this.scorePlugins.length; p++) {
      const pl = this.scorePlugins[p];
      if (state.skipScorePlugins.has(pl.name)) continue;
      try {
        for (let i = 0; i < nodes.length; i++) {
          const r = pl.score(state, pod, nodes[i]);
          if (typeof r !== 'number') return new Status(Code.Error, [`running Score plugin "${pl.name}": ${r.message()}`], pl.name, r.error);
          scores[i] = r;
        }
        if (pl.normalizeScore) {
          const s = pl.normalizeScore(state, pod, nodes, scores);
          if (s !== null && s.code !== Code.Success) return new Status(Code.Error, [`running Normalize on Score plugin "${pl.name}": ${s.message()}`], pl.name);
        }
      } catch (e) {
        return asStatus(e, pl.name);
      }
      const w = this.scoreWeights[p];
      for (let i = 0; i < nodes.length; i++) {
        const v = scores[i];
        if (!(v >= MinNodeScore && v <= MaxNodeScore)) {
          return new Status(Code.Error, [`plugin "${pl.name}" returns an invalid score ${v}, it should in the range of [${MinNodeScore}, ${MaxNodeScore}] after normalizing`], pl.name);
        }
        totals[i] += v * w;
      }
    }
    return totals;
  }

  /** Run Reserve plugins; on failure the ones already run are unreserved (in reverse). */
  runReservePluginsReserve(state: CycleState, pod: PodInfo, nodeName: string): Status | null {
    for (let i = 0; i < this.reservePlugins.length; i++) {
      const pl = this.reservePlugins[i];
      let s: Status | null;
      try {
        s = pl.reserve(state, pod, nodeName);
      } catch (e) {
        s = asStatus(e, pl.name);
      }
      if (s !== null && s.code !== Code.Success) {
        if (!s.plugin) s.plugin = pl.name;
        this.runReservePluginsUnreserve(state, pod, nodeName);
        return s;
      }
    }
    return null;
  }

  /** Run every Reserve plugin's Unreserve, last first. */
  runReservePluginsUnreserve(state: CycleState, pod: PodInfo, nodeName: string): void {
    for (let i = this.reservePlugins.length - 1; i >= 0; i--) this.reservePlugins[i].unreserve(state, pod, nodeName);
  }

  /** A fresh cycle state. */
  newCycleState(): CycleState {
    return new CycleState();
  }
}
