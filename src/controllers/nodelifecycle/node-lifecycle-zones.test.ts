// The node lifecycle controller's zone-aware NoExecute tainting against a real in-process API
// server, driven by a fake clock: health passes and tainting passes are called by hand.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../client/resources.js';
import type { KObject } from '../../client/rest-client.js';
import { startHarness, until, type Harness } from '../../../test/controllers/harness.js';
import { NodeLifecycleController } from './node-lifecycle-controller.js';
import { zoneKey } from './zones.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const GRACE = 40_000;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

describe('Node lifecycle controller zone-aware eviction', () => {
  let h: Harness;
  let ctl: NodeLifecycleController;
  let now = T0;
  // Zone a: 4 nodes (3 will go silent: PartialDisruption, small, so no tainting).
  // Zone b: 10 nodes (2 will go silent: Normal, tainted one per 10 s).
  const zoneA = Array.from({ length: 4 }, (_, i) => `za-${i}`);
  const zoneB = Array.from({ length: 10 }, (_, i) => `zb-${i}`);
  const all = [...zoneA, ...zoneB];
  const zoneOf = (n: string) => (n.startsWith('za') ? 'a' : 'b');
  const noExec = async (name: string) =>
    ((await h.client.get(resources.nodes, '', name)).spec?.taints ?? []).filter((t: KObject) => t.effect === 'NoExecute').map((t: KObject) => t.key);
  const noSched = async (name: string) =>
    ((await h.client.get(resources.nodes, '', name)).spec?.taints ?? []).filter((t: KObject) => t.effect === 'NoSchedule').map((t: KObject) => t.key);
  const lister = () => h.ctx.informers.forResource(resources.nodes).lister;

  /** Post a Ready heartbeat at fake time `at` and wait until the controller's cache has it. */
  async function heartbeat(names: string[], at: number): Promise<void> {
    for (const name of names) {
      const n = await h.client.get(resources.nodes, '', name);
      const conds = [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: iso(at), lastTransitionTime: iso(T0) }];
      await h.client.update(resources.nodes, { ...n, status: { ...n.status, conditions: conds } }, 'status');
    }
    await until(() => names.every((name) => lister().get(undefined, name)?.status?.conditions?.[0]?.lastHeartbeatTime === iso(at)), 'heartbeats seen');
  }
  const unknownSeen = (names: string[]) =>
    until(() => names.every((name) => lister().get(undefined, name)?.status?.conditions?.find((c: KObject) => c.type === 'Ready')?.status === 'Unknown'), `${names} Unknown in the cache`);
  /**
   * Wait until these silent nodes carry the controller's NoSchedule unreachable taint in the store
   * and its cache holds them as stored. That taint is the controller's last write to a silent node
   * (it is queued for its NoExecute taint before the write, so `queued` does not imply it), so from
   * then on a pass that writes from the cache cannot conflict, nor can a test's own get-then-update.
   */
  async function settled(names: string[]): Promise<void> {
    let waiting = '';
    await until(async () => {
      for (const n of names) {
        const stored = await h.client.get(resources.nodes, '', n);
        waiting = n;
        if (!(stored.spec?.taints ?? []).some((t: KObject) => t.effect === 'NoSchedule' && t.key === 'node.kubernetes.io/unreachable')) return false;
        if (lister().get(undefined, n)?.metadata?.resourceVersion !== stored.metadata.resourceVersion) return false;
      }
      return true;
    }, () => `the NoSchedule unreachable taint stored and cached (still waiting for ${waiting})`);
  }
  const queued = (name: string) => {
    const node = lister().get(undefined, name);
    return !!node && !!ctl.zoneTainters.get(zoneKey(node))?.has(name);
  };

  before(async () => {
    h = await startHarness();
    for (const name of all) {
      await h.client.create(resources.nodes, '', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name, labels: { 'topology.kubernetes.io/region': 'r', 'topology.kubernetes.io/zone': zoneOf(name) } },
      });
    }
    ctl = new NodeLifecycleController({ now: () => now, nodeMonitorPeriodMs: 1e9, nodeEvictionPeriodMs: 1e9, nodeMonitorGracePeriodMs: GRACE, taintEviction: false });
    await h.run(ctl);
    await heartbeat(all, T0);
  });
  after(async () => {
    await h.stop();
  });

  it('keeps both zones Normal while every node heartbeats.', async () => {
    now = T0 + 1000;
    await ctl.monitorNodeHealth();
    assert.deepEqual([...ctl.zoneStates.values()], ['Normal', 'Normal']);
    assert.equal(ctl.inMasterDisruption, false);
  });

  it('taints the first silent node of a healthy zone at once and the second only after 1/--node-eviction-rate seconds, and none in a small mostly-down zone.', async () => {
    const silent = ['za-0', 'za-1', 'za-2', 'zb-0', 'zb-1'];
    now = T0 + GRACE + 5000;
    await heartbeat(all.filter((n) => !silent.includes(n)), now);
    await ctl.monitorNodeHealth();
    assert.deepEqual([...ctl.zoneStates].map(([k, s]) => `${k.split(':\u0000:')[1]}=${s}`).sort(), ['a=PartialDisruption', 'b=Normal']);
    await unknownSeen(silent);
    await until(() => silent.every(queued), 'silent nodes queued for their NoExecute taint');
    // The NoSchedule taint comes at once, unrate-limited. The tainting pass writes from the
    // controller's cache: unless that holds every silent node with it, the pass's write conflicts,
    // spends the zone's token and waits for a later pass.
    await settled(silent);

    await ctl.doNoExecuteTaintingPass();
    const tainted = async () => {
      const out: string[] = [];
      for (const n of silent) if ((await noExec(n)).includes('node.kubernetes.io/unreachable')) out.push(n);
      return out;
    };
    // Which of the two goes first depends on the order their updates were seen.
    const first = await tainted();
    assert.equal(first.length, 1);
    assert.ok(['zb-0', 'zb-1'].includes(first[0]!), `the first taint went to ${first[0]}, not a zone b node`);
    now += 5000;
    await ctl.doNoExecuteTaintingPass();
    assert.deepEqual(await tainted(), first, 'no second token within 10 s');
    now += 5000;
    await ctl.doNoExecuteTaintingPass();
    assert.deepEqual(await tainted(), ['zb-0', 'zb-1']);
    now += 600_000;
    await ctl.doNoExecuteTaintingPass();
    assert.deepEqual(await tainted(), ['zb-0', 'zb-1'], 'a small zone in PartialDisruption never gets tainted');
  });

  it('lifts every NoExecute taint and taints nothing once all zones are fully disrupted (master disruption).', async () => {
    now += GRACE + 5000;
    await ctl.monitorNodeHealth();
    assert.equal(ctl.inMasterDisruption, true);
    assert.deepEqual([...ctl.zoneStates.values()], ['FullDisruption', 'FullDisruption']);
    await unknownSeen(all);
    for (const n of ['zb-0', 'zb-1']) await until(async () => (await noExec(n)).length === 0, `NoExecute taint lifted from ${n}`);
    now += 600_000;
    await ctl.doNoExecuteTaintingPass();
    for (const n of all) assert.deepEqual(await noExec(n), [], n);
    // The NoSchedule taints stay, and the newly silent nodes get theirs: no new pods go to nodes
    // nobody hears from. They come from the controller's workers after it sees each Unknown status,
    // so wait for them (the next test's heartbeat and pass would race those writes otherwise).
    await settled(all);
    assert.ok((await noSched('zb-5')).includes('node.kubernetes.io/unreachable'), 'zb-5 keeps its NoSchedule unreachable taint');
  });

  it('leaves master disruption when a node is Ready again and resumes tainting at the zones\' rates.', async () => {
    now += 1000;
    await heartbeat(['zb-9'], now);
    await ctl.monitorNodeHealth();
    assert.equal(ctl.inMasterDisruption, false);
    // Zone b: 1 Ready of 10 is a small PartialDisruption zone (rate 0); zone a is FullDisruption
    // while b is not, so a taints at the normal rate.
    assert.deepEqual([...ctl.zoneStates].map(([k, s]) => `${k.split(':\u0000:')[1]}=${s}`).sort(), ['a=FullDisruption', 'b=PartialDisruption']);
    await until(() => zoneA.every(queued), 'zone a nodes queued again');
    // Leaving a rate-0 limiter starts the new bucket drained: the first taint waits 10 s.
    await ctl.doNoExecuteTaintingPass();
    let count = 0;
    for (const n of zoneA) if ((await noExec(n)).length) count++;
    assert.equal(count, 0);
    now += 10_000;
    await ctl.doNoExecuteTaintingPass();
    count = 0;
    for (const n of zoneA) if ((await noExec(n)).length) count++;
    assert.equal(count, 1);
    for (const n of zoneB) assert.deepEqual(await noExec(n), [], n);
  });
});
