/** Helpers that run plugins through a real Framework over a snapshot built from objects, for table tests. */
import { CycleState } from '../framework/cycle-state.js';
import { Framework, type PluginConfig, type Registry } from '../framework/framework.js';
import type { NamespaceLabels } from '../framework/pod-info.js';
import { podInfoFor } from '../framework/pod-info.js';
import { Snapshot } from '../framework/snapshot.js';
import type { Status } from '../framework/status.js';
import type { Node, Pod } from '../framework/types.js';
import { inTreeRegistry } from '../plugins/registry.js';

/** A framework with just these plugins (names or configs) over `snapshot`. */
export function frameworkFor(plugins: ReadonlyArray<string | PluginConfig>, snapshot: Snapshot, opts: { registry?: Registry; namespaceLabels?: NamespaceLabels } = {}): Framework {
  return new Framework({
    registry: { ...inTreeRegistry(), ...(opts.registry ?? {}) },
    profile: { plugins: plugins.map((p) => (typeof p === 'string' ? { name: p } : p)) },
    snapshot: () => snapshot,
    namespaceLabels: opts.namespaceLabels,
  });
}

/** `Success`, or `<Code>: <message>` — compact enough for a table's want column. */
export function describeStatus(s: Status | null): string {
  return s === null || s.code === 0 ? 'Success' : `${s.codeName()}: ${s.message()}`;
}

/** The outcome of PreFilter plus Filter on every node. */
export interface FilterOutcome {
  /** The PreFilter status when it rejected the pod (then `nodes` is empty). */
  preFilter?: string;
  /** Nodes PreFilter narrowed to, when it did. */
  preFilterNodes?: string[];
  /** Node name → described Filter status. */
  nodes: Record<string, string>;
}

/** Run PreFilter, then Filter on each node. */
export function filterAll(plugins: ReadonlyArray<string | PluginConfig>, pod: Pod, nodes: readonly Node[], existing: readonly Pod[] = [], opts: { namespaceLabels?: NamespaceLabels } = {}): FilterOutcome {
  const snapshot = Snapshot.fromObjects(nodes, existing);
  const fwk = frameworkFor(plugins, snapshot, opts);
  const state = new CycleState();
  const pi = podInfoFor(pod);
  const pre = fwk.runPreFilterPlugins(state, pi, snapshot.nodeInfoList);
  if (pre.status !== null) return { preFilter: describeStatus(pre.status), nodes: {} };
  const out: FilterOutcome = { nodes: {} };
  if (pre.nodeNames) out.preFilterNodes = [...pre.nodeNames].sort();
  for (const ni of snapshot.nodeInfoList) out.nodes[ni.name] = describeStatus(fwk.runFilterPlugins(state, pi, ni));
  return out;
}

/** Run PreScore and Score (+NormalizeScore) over `nodes` (all feasible); node name → weighted total. */
export function scoreAll(plugins: ReadonlyArray<string | PluginConfig>, pod: Pod, nodes: readonly Node[], existing: readonly Pod[] = [], opts: { namespaceLabels?: NamespaceLabels } = {}): Record<string, number> | string {
  const snapshot = Snapshot.fromObjects(nodes, existing);
  const fwk = frameworkFor(plugins, snapshot, opts);
  const state = new CycleState();
  const pi = podInfoFor(pod);
  const list = snapshot.nodeInfoList;
  const pre = fwk.runPreScorePlugins(state, pi, list);
  if (pre !== null) return describeStatus(pre);
  const totals = fwk.runScorePlugins(state, pi, list);
  if (!(totals instanceof Float64Array)) return describeStatus(totals);
  const out: Record<string, number> = {};
  list.forEach((ni, i) => (out[ni.name] = totals[i]));
  return out;
}
