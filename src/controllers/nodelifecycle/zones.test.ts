import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../client/rest-client.js';
import { planTaints } from './node-lifecycle-controller.js';
import {
  computeZoneState,
  decideDisruption,
  DEFAULT_ZONE_EVICTION,
  excludedFromDisruption,
  RateLimitedNodeQueue,
  TokenBucket,
  zoneDisplay,
  zoneEvictionFromFlags,
  zoneEvictionRate,
  zoneKey,
  type ZoneState,
} from './zones.js';

const cfg = DEFAULT_ZONE_EVICTION;
const T = 'True';
const F = 'False';
const U = 'Unknown';
const times = (n: number, s: string | undefined) => Array.from({ length: n }, () => s);

describe('zone keys', () => {
  const cases: { name: string; labels?: Record<string, string>; want: string }[] = [
    { name: 'a node without topology labels is in the unnamed zone', want: '' },
    { name: 'the GA zone and region labels make the key', labels: { 'topology.kubernetes.io/region': 'r1', 'topology.kubernetes.io/zone': 'a' }, want: 'r1:\u0000:a' },
    { name: 'a zone label alone makes a key with an empty region', labels: { 'topology.kubernetes.io/zone': 'a' }, want: ':\u0000:a' },
    { name: 'the deprecated beta labels are used when the GA ones are missing', labels: { 'failure-domain.beta.kubernetes.io/region': 'r2', 'failure-domain.beta.kubernetes.io/zone': 'b' }, want: 'r2:\u0000:b' },
    { name: 'the GA labels win over the beta ones', labels: { 'topology.kubernetes.io/zone': 'a', 'failure-domain.beta.kubernetes.io/zone': 'b' }, want: ':\u0000:a' },
  ];
  for (const c of cases) {
    it(`${c.name}.`, () => {
      assert.equal(zoneKey({ metadata: { name: 'n', labels: c.labels } }), c.want);
    });
  }

  it('displays keys as region/zone.', () => {
    assert.equal(zoneDisplay('r1:\u0000:a'), 'r1/a');
    assert.equal(zoneDisplay(':\u0000:a'), 'a');
    assert.equal(zoneDisplay(''), '(no zone)');
  });

  it('leaves nodes labelled node.kubernetes.io/exclude-disruption out of the disruption checks.', () => {
    assert.equal(excludedFromDisruption({ metadata: { labels: { 'node.kubernetes.io/exclude-disruption': '' } } }), true);
    assert.equal(excludedFromDisruption({ metadata: { labels: { other: 'x' } } }), false);
  });
});

describe('zone state', () => {
  const cases: { name: string; statuses: (string | undefined)[]; want: ZoneState; notReady: number }[] = [
    { name: 'all Ready nodes make a Normal zone', statuses: times(5, T), want: 'Normal', notReady: 0 },
    { name: 'no Ready node makes a FullDisruption zone', statuses: [U, F, undefined], want: 'FullDisruption', notReady: 3 },
    { name: 'a single silent node is a fully disrupted zone of one', statuses: [U], want: 'FullDisruption', notReady: 1 },
    { name: 'two of three nodes down is still Normal, as at most 2 not-Ready nodes never count as partial', statuses: [T, U, U], want: 'Normal', notReady: 2 },
    { name: 'three of five down (60 %) is PartialDisruption', statuses: [T, T, U, F, U], want: 'PartialDisruption', notReady: 3 },
    { name: 'three of six down (50 %) is under the 55 % threshold and Normal', statuses: [...times(3, T), ...times(3, U)], want: 'Normal', notReady: 3 },
    { name: 'exactly 55 of 100 down reaches the threshold', statuses: [...times(45, T), ...times(55, U)], want: 'PartialDisruption', notReady: 55 },
    { name: 'a node without a Ready condition counts as not Ready', statuses: [T, undefined, undefined, undefined], want: 'PartialDisruption', notReady: 3 },
  ];
  for (const c of cases) {
    it(`${c.name}.`, () => {
      assert.deepEqual(computeZoneState(c.statuses, cfg.unhealthyZoneThreshold), { notReady: c.notReady, state: c.want });
    });
  }
});

describe('zone eviction rate', () => {
  const cases: { name: string; state: ZoneState; size: number; want: number }[] = [
    { name: 'a Normal zone taints at --node-eviction-rate', state: 'Normal', size: 10, want: 0.1 },
    { name: 'a zone not yet checked taints at --node-eviction-rate', state: 'Initial', size: 10, want: 0.1 },
    { name: 'a large PartialDisruption zone slows to --secondary-node-eviction-rate', state: 'PartialDisruption', size: 51, want: 0.01 },
    { name: 'a PartialDisruption zone of exactly --large-cluster-size-threshold nodes stops', state: 'PartialDisruption', size: 50, want: 0 },
    { name: 'a small PartialDisruption zone stops', state: 'PartialDisruption', size: 5, want: 0 },
    { name: 'one FullDisruption zone among healthy ones taints at the normal rate', state: 'FullDisruption', size: 5, want: 0.1 },
  ];
  for (const c of cases) {
    it(`${c.name}.`, () => {
      assert.equal(zoneEvictionRate(c.state, c.size, cfg), c.want);
    });
  }
});

describe('disruption decisions', () => {
  const z = (entries: [string, (string | undefined)[]][]) => new Map(entries);
  const s = (entries: [string, ZoneState][]) => new Map(entries);
  const cases: {
    name: string;
    prev: Map<string, ZoneState>;
    zones: Map<string, (string | undefined)[]>;
    transition: 'enter' | 'exit' | 'none';
    states: [string, ZoneState][];
    rates: [string, number][];
  }[] = [
    {
      name: 'new healthy zones become Normal with the normal rate',
      prev: s([]),
      zones: z([['a', [T, T]], ['b', [T]]]),
      transition: 'none',
      states: [['a', 'Normal'], ['b', 'Normal']],
      rates: [['a', 0.1], ['b', 0.1]],
    },
    {
      name: 'an unchanged zone keeps its limiter',
      prev: s([['a', 'Normal']]),
      zones: z([['a', [T, U]]]),
      transition: 'none',
      states: [['a', 'Normal']],
      rates: [],
    },
    {
      name: 'a small zone falling into PartialDisruption stops tainting',
      prev: s([['a', 'Normal'], ['b', 'Normal']]),
      zones: z([['a', [T, U, U, U]], ['b', [T]]]),
      transition: 'none',
      states: [['a', 'PartialDisruption'], ['b', 'Normal']],
      rates: [['a', 0]],
    },
    {
      name: 'a large zone falling into PartialDisruption slows to the secondary rate',
      prev: s([['a', 'Normal']]),
      zones: z([['a', [...times(20, T), ...times(40, U)]]]),
      transition: 'none',
      states: [['a', 'PartialDisruption']],
      rates: [['a', 0.01]],
    },
    {
      name: 'one zone fully down while another is healthy keeps the normal rate there',
      prev: s([['a', 'Normal'], ['b', 'Normal']]),
      zones: z([['a', [U, U]], ['b', [T]]]),
      transition: 'none',
      states: [['a', 'FullDisruption'], ['b', 'Normal']],
      rates: [['a', 0.1]],
    },
    {
      name: 'every zone fully down enters master disruption and stops all tainting',
      prev: s([['a', 'Normal'], ['b', 'FullDisruption']]),
      zones: z([['a', [U, U]], ['b', [U]]]),
      transition: 'enter',
      states: [['a', 'FullDisruption'], ['b', 'FullDisruption']],
      rates: [['a', 0], ['b', 0]],
    },
    {
      name: 'a single-node cluster whose node goes silent enters master disruption',
      prev: s([['', 'Normal']]),
      zones: z([['', [U]]]),
      transition: 'enter',
      states: [['', 'FullDisruption']],
      rates: [['', 0]],
    },
    {
      name: 'staying fully down changes nothing',
      prev: s([['a', 'FullDisruption']]),
      zones: z([['a', [U, U]]]),
      transition: 'none',
      states: [['a', 'FullDisruption']],
      rates: [],
    },
    {
      name: 'one Ready node exits master disruption and resets every zone for its new state',
      prev: s([['a', 'FullDisruption'], ['b', 'FullDisruption']]),
      zones: z([['a', [T, U, U, U]], ['b', [U]]]),
      transition: 'exit',
      states: [['a', 'PartialDisruption'], ['b', 'FullDisruption']],
      rates: [['a', 0], ['b', 0.1]],
    },
    {
      name: 'a zone whose nodes are all gone is forgotten',
      prev: s([['a', 'Normal'], ['gone', 'PartialDisruption']]),
      zones: z([['a', [T]]]),
      transition: 'none',
      states: [['a', 'Normal']],
      rates: [],
    },
    {
      name: 'a cluster whose nodes are all down from the first pass enters master disruption',
      prev: s([]),
      zones: z([['a', [U, U, U]]]),
      transition: 'enter',
      states: [['a', 'FullDisruption']],
      rates: [['a', 0]],
    },
  ];
  for (const c of cases) {
    it(`${c.name}.`, () => {
      const d = decideDisruption(c.prev, c.zones, cfg);
      assert.equal(d.transition, c.transition);
      assert.deepEqual([...d.states].sort(), c.states);
      assert.deepEqual([...d.rates].sort(), c.rates);
    });
  }
});

describe('token bucket and rate-limited node queue', () => {
  it('a token bucket admits its burst at once and then one per 1/qps seconds.', () => {
    const b = new TokenBucket(0.1, 1, 0);
    assert.equal(b.tryAccept(0), true);
    assert.equal(b.tryAccept(1), false);
    assert.equal(b.tryAccept(9_999), false);
    assert.equal(b.tryAccept(10_000), true);
    assert.equal(b.tryAccept(10_001), false);
  });

  it('a rate of 0 admits nothing, ever.', () => {
    const b = new TokenBucket(0, 1, 0);
    assert.equal(b.tryAccept(0), false);
    assert.equal(b.tryAccept(1e9), false);
  });

  it('drains queued nodes in order at the zone rate, one token per attempt.', async () => {
    const q = new RateLimitedNodeQueue(0.5, 0);
    for (const n of ['a', 'b', 'c']) q.add(n, 0);
    assert.equal(q.add('a', 0), false, 'a node is queued once');
    const done: string[] = [];
    const fn = async (n: string) => (done.push(n), true);
    assert.equal(await q.drain(0, fn), 1);
    assert.equal(await q.drain(1000, fn), 0);
    assert.equal(await q.drain(2000, fn), 1);
    assert.equal(await q.drain(10_000, fn), 1);
    assert.deepEqual(done, ['a', 'b', 'c']);
    assert.equal(q.size, 0);
  });

  it('keeps a node whose tainting failed and retries it after the others.', async () => {
    const q = new RateLimitedNodeQueue(1000, 0);
    q.add('a', 0);
    q.add('b', 0);
    let fail = true;
    const seen: string[] = [];
    await q.drain(0, async (n) => {
      seen.push(n);
      if (n === 'a' && fail) return (fail = false);
      return true;
    });
    assert.deepEqual(seen, ['a']);
    // Burst 1: one attempt per token, the failed node now behind the other.
    await q.drain(1, async (n) => (seen.push(n), true));
    await q.drain(2, async (n) => (seen.push(n), true));
    assert.deepEqual(seen, ['a', 'b', 'a']);
  });

  it('swapping to rate 0 stops the queue and swapping back resumes it without a fresh burst.', async () => {
    const q = new RateLimitedNodeQueue(0.1, 0);
    q.add('a', 0);
    q.add('b', 0);
    q.setRate(0, 0);
    const fn = async () => true;
    assert.equal(await q.drain(100_000, fn), 0);
    // The rate-0 limiter had no token, so the new bucket starts drained.
    q.setRate(0.1, 100_000);
    assert.equal(await q.drain(100_000, fn), 0);
    assert.equal(await q.drain(110_000, fn), 1);
    // A bucket with a token left hands a full one to its successor.
    q.setRate(0.2, 200_000);
    assert.equal(await q.drain(200_000, fn), 1);
    assert.equal(q.size, 0);
  });
});

describe('NoExecute taint planning', () => {
  const node = (ready: string, taints: KObject[] = []): KObject => ({ metadata: { name: 'n' }, spec: { taints }, status: { conditions: [{ type: 'Ready', status: ready }] } });
  const keys = (ts?: KObject[]) => ts?.map((t) => `${t.key}:${t.effect}`);
  const unreachableNS = { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: 'x' };
  const cases: { name: string; node: KObject; mode: 'apply' | 'defer' | 'suppress'; taints?: string[]; pending: boolean }[] = [
    {
      name: 'deferring leaves a new NoExecute taint to the zone queue but adds the NoSchedule one at once',
      node: node(U),
      mode: 'defer',
      taints: ['node.kubernetes.io/unreachable:NoSchedule'],
      pending: true,
    },
    {
      name: 'deferring with the NoSchedule taint already there changes nothing but stays pending',
      node: node(U, [unreachableNS]),
      mode: 'defer',
      taints: undefined,
      pending: true,
    },
    {
      name: 'deferring swaps an existing not-ready NoExecute taint for unreachable at once',
      node: node(U, [unreachableNS, { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }]),
      mode: 'defer',
      taints: ['node.kubernetes.io/unreachable:NoSchedule', 'node.kubernetes.io/unreachable:NoExecute'],
      pending: false,
    },
    {
      name: 'applying adds the NoExecute taint now',
      node: node(F),
      mode: 'apply',
      taints: ['node.kubernetes.io/not-ready:NoSchedule', 'node.kubernetes.io/not-ready:NoExecute'],
      pending: false,
    },
    {
      name: 'suppressing (master disruption) lifts the NoExecute taint and keeps the NoSchedule one',
      node: node(U, [unreachableNS, { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }]),
      mode: 'suppress',
      taints: ['node.kubernetes.io/unreachable:NoSchedule'],
      pending: false,
    },
    {
      name: 'a Ready node loses its NoExecute taint at once whatever the mode',
      node: node(T, [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }]),
      mode: 'defer',
      taints: [],
      pending: false,
    },
  ];
  for (const c of cases) {
    it(`${c.name}.`, () => {
      const p = planTaints(c.node, 0, c.mode);
      assert.deepEqual(keys(p.taints), c.taints);
      assert.equal(p.pendingNoExecute, c.pending);
    });
  }
});

describe('eviction flags', () => {
  it('parses the four flags.', () => {
    assert.deepEqual(zoneEvictionFromFlags({ 'node-eviction-rate': '0.5', 'secondary-node-eviction-rate': '0', 'unhealthy-zone-threshold': '0.7', 'large-cluster-size-threshold': '10' }), {
      nodeEvictionRate: 0.5,
      secondaryNodeEvictionRate: 0,
      unhealthyZoneThreshold: 0.7,
      largeClusterSizeThreshold: 10,
    });
    assert.deepEqual(zoneEvictionFromFlags({}), {});
  });
  const bad: [string, Record<string, string>, RegExp][] = [
    ['a rate that is not a number', { 'node-eviction-rate': 'fast' }, /--node-eviction-rate: invalid number "fast"/],
    ['a negative secondary rate', { 'secondary-node-eviction-rate': '-1' }, /must not be negative/],
    ['a threshold above 1', { 'unhealthy-zone-threshold': '1.5' }, /--unhealthy-zone-threshold/],
    ['a fractional cluster size', { 'large-cluster-size-threshold': '2.5' }, /non-negative integer/],
  ];
  for (const [name, flags, re] of bad) {
    it(`rejects ${name}.`, () => {
      assert.throws(() => zoneEvictionFromFlags(flags), re);
    });
  }
});
