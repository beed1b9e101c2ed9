import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeNode, makePod } from '../testing/builders.js';
import { CycleState } from './cycle-state.js';
import { Framework, type Registry } from './framework.js';
import { PreFilterResult, type FilterPlugin, type PreFilterPlugin, type ReservePlugin, type ScorePlugin } from './interface.js';
import type { NodeInfo } from './node-info.js';
import { podInfoFor } from './pod-info.js';
import { Snapshot } from './snapshot.js';
import { Code, SkipStatus, Status } from './status.js';

/** A plugin that records calls and answers from a table. */
function fake(name: string, o: { filter?: (n: NodeInfo) => Status | null; preFilter?: Status | PreFilterResult | null; score?: (n: NodeInfo) => number; normalize?: (s: number[]) => void; reserve?: Status | null }, calls: string[]) {
  const pl: Partial<FilterPlugin & PreFilterPlugin & ScorePlugin & ReservePlugin> & { name: string } = { name };
  if (o.filter) pl.filter = (_s, _p, n) => (calls.push(`${name}.filter(${n.name})`), o.filter!(n));
  if (o.preFilter !== undefined) pl.preFilter = () => (calls.push(`${name}.preFilter`), o.preFilter!);
  if (o.score) {
    pl.score = (_s, _p, n) => o.score!(n);
    if (o.normalize) pl.normalizeScore = (_s, _p, _n, scores) => (o.normalize!(scores), null);
  }
  if (o.reserve !== undefined) {
    pl.reserve = () => (calls.push(`${name}.reserve`), o.reserve!);
    pl.unreserve = () => void calls.push(`${name}.unreserve`);
  }
  return () => pl as FilterPlugin;
}

const snapshot = Snapshot.fromObjects([makeNode('a'), makeNode('b')]);
const pod = podInfoFor(makePod('p'));
const build = (registry: Registry, plugins: Array<{ name: string; weight?: number }>) => new Framework({ registry, profile: { plugins }, snapshot: () => snapshot });

test('Filter stops at the first plugin that rejects and names it in the status.', () => {
  const calls: string[] = [];
  const fwk = build(
    { A: fake('A', { filter: (n) => (n.name === 'a' ? new Status(Code.Unschedulable, ['nope']) : null) }, calls), B: fake('B', { filter: () => null }, calls) },
    [{ name: 'A' }, { name: 'B' }],
  );
  const s = fwk.runFilterPlugins(new CycleState(), pod, snapshot.get('a')!);
  assert.equal(s?.plugin, 'A');
  assert.equal(s?.message(), 'nope');
  assert.deepEqual(calls, ['A.filter(a)']);
});

test('A plugin whose PreFilter returns Skip is not asked to Filter.', () => {
  const calls: string[] = [];
  const fwk = build({ A: fake('A', { preFilter: SkipStatus, filter: () => new Status(Code.Unschedulable, ['x']) }, calls) }, [{ name: 'A' }]);
  const state = new CycleState();
  assert.equal(fwk.runPreFilterPlugins(state, pod, snapshot.nodeInfoList).status, null);
  assert.equal(fwk.runFilterPlugins(state, pod, snapshot.get('a')!), null);
  assert.deepEqual(calls, ['A.preFilter']);
});

test('PreFilter node restrictions intersect, and an empty intersection rejects the pod.', () => {
  const fwk = build(
    { A: fake('A', { preFilter: new PreFilterResult(new Set(['a', 'b'])) }, []), B: fake('B', { preFilter: new PreFilterResult(new Set(['b'])) }, []) },
    [{ name: 'A' }, { name: 'B' }],
  );
  assert.deepEqual([...fwk.runPreFilterPlugins(new CycleState(), pod, snapshot.nodeInfoList).nodeNames!], ['b']);
  const fwk2 = build({ B: fake('B', { preFilter: new PreFilterResult(new Set(['b'])) }, []), C: fake('C', { preFilter: new PreFilterResult(new Set(['a'])) }, []) }, [{ name: 'B' }, { name: 'C' }]);
  const r = fwk2.runPreFilterPlugins(new CycleState(), pod, snapshot.nodeInfoList);
  assert.equal(r.status?.code, Code.UnschedulableAndUnresolvable);
  assert.equal(r.status?.message(), "node(s) didn't satisfy plugin(s) [B C] simultaneously");
});

test('Normalised scores are multiplied by their weights and summed.', () => {
  const fwk = build(
    {
      A: fake('A', { score: (n) => (n.name === 'a' ? 10 : 5), normalize: (s) => s.forEach((v, i) => (s[i] = v * 10)) }, []),
      B: fake('B', { score: (n) => (n.name === 'a' ? 0 : 40) }, []),
    },
    [{ name: 'A', weight: 2 }, { name: 'B', weight: 3 }],
  );
  const totals = fwk.runScorePlugins(new CycleState(), pod, snapshot.nodeInfoList);
  assert.deepEqual([...(totals as Float64Array)], [200, 100 + 120]);
});

test('A score outside 0–100 after normalising is an error.', () => {
  const fwk = build({ A: fake('A', { score: () => 101 }, []) }, [{ name: 'A' }]);
  const r = fwk.runScorePlugins(new CycleState(), pod, snapshot.nodeInfoList);
  assert.ok(r instanceof Status);
  assert.equal(r.message(), 'plugin "A" returns an invalid score 101, it should in the range of [0, 100] after normalizing');
});

test('When a Reserve plugin fails, every Reserve plugin is unreserved in reverse order.', () => {
  const calls: string[] = [];
  const fwk = build({ A: fake('A', { reserve: null }, calls), B: fake('B', { reserve: new Status(Code.Unschedulable, ['full']) }, calls) }, [{ name: 'A' }, { name: 'B' }]);
  const s = fwk.runReservePluginsReserve(new CycleState(), pod, 'a');
  assert.equal(s?.plugin, 'B');
  assert.deepEqual(calls, ['A.reserve', 'B.reserve', 'B.unreserve', 'A.unreserve']);
});

test('A pod nominated to a node with equal or higher priority takes its room first.', () => {
  const snap = Snapshot.fromObjects([makeNode('a', { cpu: '1' })]);
  const cpuFit: FilterPlugin = {
    name: 'CpuFit',
    filter: (_s, p, n) => (p.requests.milliCPU > n.allocatable.milliCPU - n.requested.milliCPU ? new Status(Code.Unschedulable, ['Insufficient cpu']) : null),
  };
  const fwk = new Framework({ registry: { CpuFit: () => cpuFit }, profile: { plugins: [{ name: 'CpuFit' }] }, snapshot: () => snap });
  const low = podInfoFor(makePod('low', { cpu: '600m', priority: 1 }));
  const high = podInfoFor(makePod('high', { cpu: '600m', priority: 10 }));
  fwk.nominator.add(high, 'a');
  assert.equal(fwk.runFilterPluginsWithNominatedPods(new CycleState(), low, snap.get('a')!)?.message(), 'Insufficient cpu');
  assert.equal(fwk.runFilterPluginsWithNominatedPods(new CycleState(), high, snap.get('a')!), null);
});

test('A profile naming an unknown plugin is refused.', () => {
  assert.throws(() => build({}, [{ name: 'Nope' }]), /plugin "Nope" does not exist/);
});
