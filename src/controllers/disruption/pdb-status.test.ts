import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../client/rest-client.js';
import type { OwnerReference } from '../common/controller-ref.js';
import {
  buildDisruptedPodMap,
  countHealthyPods,
  desiredPdbStatus,
  disruptionsAllowed,
  expectedPodCount,
  failSafeStatus,
  podsForPdb,
  rfc3339,
  scaledIntOrPercent,
  setStatusCondition,
  staleDisruptionConditionIn,
  DELETION_TIMEOUT_MS,
  type ControllerFinder,
} from './pdb-status.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

function pod(name: string, opts: { labels?: Record<string, string>; ready?: boolean; owner?: string; ns?: string; deleting?: boolean } = {}): KObject {
  const { labels = { app: 'web' }, ready = true, owner, ns = 'default', deleting = false } = opts;
  return {
    metadata: {
      name,
      namespace: ns,
      labels,
      ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner, uid: `uid-${owner}`, controller: true }] } : {}),
      ...(deleting ? { deletionTimestamp: rfc3339(NOW) } : {}),
    },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

function pdb(spec: KObject, status: KObject = {}, generation = 1): KObject {
  return { metadata: { name: 'budget', namespace: 'default', generation }, spec: { selector: { matchLabels: { app: 'web' } }, ...spec }, status };
}

/** A finder over a fixed table of controller name → replicas. */
const finder =
  (scales: Record<string, number>): ControllerFinder =>
  (ref: OwnerReference) =>
    ref.name in scales ? { uid: ref.uid, replicas: scales[ref.name]! } : undefined;

/** The whole computation the controller does per sync, without the API. */
async function compute(p: KObject, pods: KObject[], scales: Record<string, number>, now = NOW) {
  const matched = podsForPdb(p, pods);
  const counts = await expectedPodCount(p, matched, finder(scales));
  const { disruptedPods } = buildDisruptedPodMap(p, matched, now);
  const currentHealthy = countHealthyPods(matched, disruptedPods, now);
  return { expected: counts.expectedCount, desired: counts.desiredHealthy, healthy: currentHealthy, allowed: disruptionsAllowed({ currentHealthy, desiredHealthy: counts.desiredHealthy, expectedCount: counts.expectedCount }), unmanaged: counts.unmanagedPods };
}

describe('IntOrString scaling', () => {
  const cases: [string, unknown, number, boolean, number][] = [
    ['An integer is taken as is.', 2, 10, true, 2],
    ['50% of 5 rounds up to 3.', '50%', 5, true, 3],
    ['50% of 5 rounds down to 2 when asked.', '50%', 5, false, 2],
    ['10% of 1 rounds up to 1.', '10%', 1, true, 1],
    ['0% of anything is 0.', '0%', 7, true, 0],
    ['100% of 4 is 4.', '100%', 4, true, 4],
  ];
  for (const [name, v, total, up, want] of cases) it(name, () => assert.equal(scaledIntOrPercent(v, total, up), want));
  it('refuses a string that is not a percentage.', () => assert.throws(() => scaledIntOrPercent('three', 5, true), /IntOrString/));
});

describe('PDB status computation', () => {
  const three = [pod('a', { owner: 'rs' }), pod('b', { owner: 'rs' }), pod('c', { owner: 'rs' })];
  type Case = [string, KObject, KObject[], Record<string, number>, { expected: number; desired: number; healthy: number; allowed: number }];
  const cases: Case[] = [
    ['minAvailable 2 over three ready pods allows one disruption.', pdb({ minAvailable: 2 }), three, { rs: 3 }, { expected: 3, desired: 2, healthy: 3, allowed: 1 }],
    ['An integer minAvailable counts the matched pods, not the controller scale.', pdb({ minAvailable: 1 }), three, { rs: 10 }, { expected: 3, desired: 1, healthy: 3, allowed: 2 }],
    ['minAvailable 3 over three ready pods allows none.', pdb({ minAvailable: 3 }), three, { rs: 3 }, { expected: 3, desired: 3, healthy: 3, allowed: 0 }],
    ['A not-ready pod is not healthy.', pdb({ minAvailable: 2 }), [pod('a', { owner: 'rs' }), pod('b', { owner: 'rs', ready: false }), pod('c', { owner: 'rs' })], { rs: 3 }, { expected: 3, desired: 2, healthy: 2, allowed: 0 }],
    ['A pod being deleted is not healthy.', pdb({ minAvailable: 1 }), [pod('a', { owner: 'rs' }), pod('b', { owner: 'rs', deleting: true })], { rs: 2 }, { expected: 2, desired: 1, healthy: 1, allowed: 0 }],
    ['minAvailable 50% of a 5-replica controller wants 3 (rounded up).', pdb({ minAvailable: '50%' }), [...three, pod('d', { owner: 'rs' }), pod('e', { owner: 'rs' })], { rs: 5 }, { expected: 5, desired: 3, healthy: 5, allowed: 2 }],
    ['A percentage scales against spec.replicas, even with fewer pods.', pdb({ minAvailable: '50%' }), three, { rs: 6 }, { expected: 6, desired: 3, healthy: 3, allowed: 0 }],
    ['maxUnavailable 1 of a 3-replica controller wants 2.', pdb({ maxUnavailable: 1 }), three, { rs: 3 }, { expected: 3, desired: 2, healthy: 3, allowed: 1 }],
    ['maxUnavailable 30% of 3 rounds up to 1 and wants 2.', pdb({ maxUnavailable: '30%' }), three, { rs: 3 }, { expected: 3, desired: 2, healthy: 3, allowed: 1 }],
    ['maxUnavailable larger than the scale floors desiredHealthy at 0.', pdb({ maxUnavailable: 5 }), three, { rs: 3 }, { expected: 3, desired: 0, healthy: 3, allowed: 3 }],
    ['Pods of two controllers add up their scales, each counted once.', pdb({ maxUnavailable: 0 }), [pod('a', { owner: 'one' }), pod('b', { owner: 'one' }), pod('c', { owner: 'two' })], { one: 2, two: 4 }, { expected: 6, desired: 6, healthy: 3, allowed: 0 }],
    ['An empty selector matches every pod in the namespace.', pdb({ minAvailable: 1, selector: {} }), [pod('a', { labels: { x: '1' } }), pod('b', { labels: {} }), pod('c', { ns: 'other' })], {}, { expected: 2, desired: 1, healthy: 2, allowed: 1 }],
    ['A missing selector matches no pod, and no pods allow no disruption.', pdb({ minAvailable: 0, selector: undefined }), three, { rs: 3 }, { expected: 0, desired: 0, healthy: 0, allowed: 0 }],
    ['Pods of another namespace or with other labels are not counted.', pdb({ minAvailable: 1 }), [pod('a'), pod('b', { ns: 'other' }), pod('c', { labels: { app: 'db' } })], {}, { expected: 1, desired: 1, healthy: 1, allowed: 0 }],
  ];
  for (const [name, p, pods, scales, want] of cases) {
    it(name, async () => {
      const got = await compute(p, pods, scales);
      assert.deepEqual({ expected: got.expected, desired: got.desired, healthy: got.healthy, allowed: got.allowed }, want);
    });
  }

  it('leaves pods without a controller out of a percentage and names them as unmanaged.', async () => {
    const got = await compute(pdb({ maxUnavailable: 1 }), [pod('a', { owner: 'rs' }), pod('b', { owner: 'rs' }), pod('bare')], { rs: 2 });
    assert.deepEqual(got, { expected: 2, desired: 1, healthy: 3, allowed: 2, unmanaged: ['bare'] });
  });

  it('fails when a pod’s controller cannot be found, naming the pod.', async () => {
    await assert.rejects(compute(pdb({ minAvailable: '50%' }), [pod('a', { owner: 'gone' })], {}), /found no controllers for pod "a"/);
  });

  it('does not look for controllers for an integer minAvailable.', async () => {
    const got = await compute(pdb({ minAvailable: 1 }), [pod('a', { owner: 'gone' }), pod('bare')], {});
    assert.deepEqual(got, { expected: 2, desired: 1, healthy: 2, allowed: 1, unmanaged: [] });
  });
});

describe('disruptedPods', () => {
  const at = (agoMs: number) => rfc3339(NOW - agoMs);
  const pods = [pod('a'), pod('b'), pod('c'), pod('d', { deleting: true })];
  const p = pdb({ minAvailable: 1 }, { disruptedPods: { a: at(10_000), b: at(DELETION_TIMEOUT_MS + 1000), d: at(5_000), gone: at(1000) } });

  it('keeps a recent eviction, and drops expired ones, deleted pods and pods being deleted.', () => {
    const m = buildDisruptedPodMap(p, pods, NOW);
    assert.deepEqual(m.disruptedPods, { a: at(10_000) });
    assert.deepEqual(
      m.notDeleted.map((x) => x.metadata.name),
      ['b'],
    );
  });

  it('asks to look again when the oldest kept entry expires.', () => {
    const two = pdb({ minAvailable: 1 }, { disruptedPods: { a: at(10_000), c: at(60_000) } });
    assert.equal(buildDisruptedPodMap(two, pods, NOW).recheckAtMs, NOW - 60_000 + DELETION_TIMEOUT_MS);
    assert.equal(buildDisruptedPodMap(pdb({ minAvailable: 1 }), pods, NOW).recheckAtMs, undefined);
  });

  it('counts a recently evicted pod as unhealthy until its record expires.', async () => {
    const two = pdb({ minAvailable: 1 }, { disruptedPods: { a: at(10_000) } });
    const live = [pod('a'), pod('b')];
    assert.deepEqual(await compute(two, live, {}), { expected: 2, desired: 1, healthy: 1, allowed: 0, unmanaged: [] });
    assert.deepEqual(await compute(two, live, {}, NOW + DELETION_TIMEOUT_MS), { expected: 2, desired: 1, healthy: 2, allowed: 1, unmanaged: [] });
  });
});

describe('PDB status object', () => {
  const counts = { currentHealthy: 3, desiredHealthy: 2, expectedCount: 3, disruptedPods: {} };

  it('reports the numbers, observedGeneration and a True SufficientPods condition.', () => {
    const st = desiredPdbStatus(pdb({ minAvailable: 2 }, {}, 4), counts, NOW)!;
    assert.deepEqual(st, {
      observedGeneration: 4,
      disruptionsAllowed: 1,
      currentHealthy: 3,
      desiredHealthy: 2,
      expectedPods: 3,
      conditions: [{ type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods', message: '', observedGeneration: 4, lastTransitionTime: rfc3339(NOW) }],
    });
  });

  it('writes nothing when the status is already current.', () => {
    const p = pdb({ minAvailable: 2 });
    p.status = desiredPdbStatus(p, counts, NOW)!;
    assert.equal(desiredPdbStatus(p, counts, NOW + 5000), undefined);
    assert.ok(desiredPdbStatus({ ...p, metadata: { ...p.metadata, generation: 2 } }, counts, NOW), 'a new generation is written');
    assert.ok(desiredPdbStatus(p, { ...counts, disruptedPods: { a: rfc3339(NOW) } }, NOW), 'a new disruptedPods entry is written');
  });

  it('flips the condition to False InsufficientPods with a new transition time, and keeps disruptedPods.', () => {
    const p = pdb({ minAvailable: 2 });
    p.status = desiredPdbStatus(p, counts, NOW)!;
    const st = desiredPdbStatus(p, { ...counts, currentHealthy: 2, disruptedPods: { a: rfc3339(NOW) } }, NOW + 60_000)!;
    assert.equal(st.disruptionsAllowed, 0);
    assert.deepEqual(st.disruptedPods, { a: rfc3339(NOW) });
    assert.deepEqual(st.conditions, [{ type: 'DisruptionAllowed', status: 'False', reason: 'InsufficientPods', message: '', observedGeneration: 1, lastTransitionTime: rfc3339(NOW + 60_000) }]);
  });

  it('keeps lastTransitionTime while the condition status stays the same.', () => {
    const first = setStatusCondition([], { type: 'X', status: 'False', reason: 'A', message: 'm' }, NOW);
    const second = setStatusCondition(first, { type: 'X', status: 'False', reason: 'B', message: 'n' }, NOW + 1000);
    assert.deepEqual(second, [{ type: 'X', status: 'False', reason: 'B', message: 'n', lastTransitionTime: rfc3339(NOW) }]);
  });

  it('fails safe: no disruptions, SyncFailed with the error, other numbers untouched.', () => {
    const p = pdb({ minAvailable: '50%' }, { observedGeneration: 1, disruptionsAllowed: 2, currentHealthy: 4, desiredHealthy: 2, expectedPods: 4 });
    const st = failSafeStatus(p, new Error('found no controllers for pod "a"'), NOW);
    assert.equal(st.disruptionsAllowed, 0);
    assert.equal(st.currentHealthy, 4);
    assert.deepEqual(st.conditions, [{ type: 'DisruptionAllowed', status: 'False', reason: 'SyncFailed', message: 'found no controllers for pod "a"', observedGeneration: 1, lastTransitionTime: rfc3339(NOW) }]);
    // A later successful sync with 0 allowed still rewrites the reason.
    assert.ok(desiredPdbStatus({ ...p, status: st }, { currentHealthy: 4, desiredHealthy: 4, expectedCount: 4, disruptedPods: {} }, NOW));
  });
});

describe('stale DisruptionTarget condition', () => {
  const withCond = (cond: KObject, extra: KObject = {}): KObject => ({ metadata: { name: 'p', ...extra.metadata }, status: { phase: 'Running', conditions: [cond], ...extra.status } });
  const cond = (agoMs: number, reason = 'EvictionByEvictionAPI', status = 'True') => ({ type: 'DisruptionTarget', status, reason, lastTransitionTime: rfc3339(NOW - agoMs) });
  const cases: [string, KObject, number | undefined][] = [
    ['A fresh condition is cleared after the rest of its two minutes.', withCond(cond(30_000)), 90_000],
    ['A condition older than two minutes is cleared now.', withCond(cond(180_000)), 0],
    ['A condition set by the kubelet is left alone.', withCond(cond(180_000, 'TerminationByKubelet')), undefined],
    ['A False condition needs nothing.', withCond(cond(180_000, 'x', 'False')), undefined],
    ['A pod being deleted is left alone.', withCond(cond(180_000), { metadata: { deletionTimestamp: rfc3339(NOW) } }), undefined],
    ['A terminated pod is left alone.', withCond(cond(180_000), { status: { phase: 'Failed' } }), undefined],
  ];
  for (const [name, p, want] of cases) it(name, () => assert.equal(staleDisruptionConditionIn(p, NOW), want));
});
