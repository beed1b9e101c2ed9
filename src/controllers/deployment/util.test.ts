import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeHash, equalIgnoreHash, maxSurge, maxUnavailable, newRSNewReplicas, proportion, resolveFenceposts, setNewReplicaSetAnnotations } from './util.js';

const dep = (replicas: number, surge: number | string, unavail: number | string, type = 'RollingUpdate') => ({
  metadata: { name: 'web', annotations: { team: 'a' } },
  spec: { replicas, strategy: { type, rollingUpdate: { maxSurge: surge, maxUnavailable: unavail } }, template: { metadata: { labels: { app: 'web' } } } },
});

test('Surge rounds percentages up and unavailable rounds them down, and both zero allows one unavailable.', () => {
  const table: { name: string; surge: number | string; unavail: number | string; desired: number; want: [number, number] }[] = [
    { name: 'defaults on 10', surge: '25%', unavail: '25%', desired: 10, want: [3, 2] },
    { name: 'defaults on 1', surge: '25%', unavail: '25%', desired: 1, want: [1, 0] },
    { name: 'plain integers', surge: 2, unavail: 1, desired: 5, want: [2, 1] },
    { name: 'both zero', surge: 0, unavail: '0%', desired: 5, want: [0, 1] },
    { name: 'integer strings', surge: '3', unavail: '0', desired: 5, want: [3, 0] },
  ];
  for (const c of table) {
    const got = resolveFenceposts(c.surge, c.unavail, c.desired);
    assert.deepEqual([got.surge, got.unavailable], c.want, c.name);
  }
  assert.equal(maxUnavailable(dep(2, 0, 5)), 2, 'never more than replicas');
  assert.equal(maxUnavailable(dep(0, 1, 1)), 0);
  assert.equal(maxSurge(dep(4, 1, 1, 'Recreate')), 0);
});

test('The new ReplicaSet grows only within the surge allowance.', () => {
  const d = dep(4, 1, 1);
  const rs = (replicas: number) => ({ spec: { replicas } });
  const table: { name: string; old: number; cur: number; want: number }[] = [
    { name: 'fresh rollout, old at full size', old: 4, cur: 0, want: 1 },
    { name: 'old already scaled down', old: 2, cur: 1, want: 3 },
    { name: 'at the surge limit', old: 3, cur: 2, want: 2 },
    { name: 'never beyond replicas', old: 0, cur: 3, want: 4 },
  ];
  for (const c of table) {
    const newRS = rs(c.cur);
    assert.equal(newRSNewReplicas(d, [rs(c.old), newRS], newRS), c.want, c.name);
  }
  assert.equal(newRSNewReplicas(dep(4, 1, 1, 'Recreate'), [rs(4), rs(0)], rs(0)), 4);
});

test('The template hash is stable, depends on the template and collision count, and equality ignores the hash label.', () => {
  const t = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'a' }] } };
  const reordered = { spec: { containers: [{ image: 'a', name: 'c' }] }, metadata: { labels: { app: 'web' } } };
  assert.equal(computeHash(t), computeHash(reordered));
  assert.notEqual(computeHash(t), computeHash({ ...t, spec: { containers: [{ name: 'c', image: 'b' }] } }));
  assert.notEqual(computeHash(t, 1), computeHash(t));
  assert.match(computeHash(t), /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
  assert.ok(equalIgnoreHash({ ...t, metadata: { labels: { app: 'web', 'pod-template-hash': 'x' } } }, t));
  assert.ok(!equalIgnoreHash({ ...t, metadata: { labels: { app: 'api' } } }, t));
});

test('A reused ReplicaSet takes the next revision and remembers its old one; deployment annotations are copied.', () => {
  const d = dep(3, 1, 0);
  const rs: any = { metadata: { annotations: { 'deployment.kubernetes.io/revision': '1' } } };
  assert.equal(setNewReplicaSetAnnotations(d, rs, 3, true), true);
  assert.equal(rs.metadata.annotations['deployment.kubernetes.io/revision'], '3');
  assert.equal(rs.metadata.annotations['deployment.kubernetes.io/revision-history'], '1');
  assert.equal(rs.metadata.annotations.team, 'a');
  assert.equal(setNewReplicaSetAnnotations(d, rs, 3, true), false, 'nothing left to change');
  const fresh: any = { metadata: {} };
  setNewReplicaSetAnnotations(d, fresh, 1, false);
  assert.equal(fresh.metadata.annotations['deployment.kubernetes.io/desired-replicas'], '3');
  assert.equal(fresh.metadata.annotations['deployment.kubernetes.io/max-replicas'], '4');
});

test('Proportional scaling gives each ReplicaSet its share and never more than allowed.', () => {
  const d = { ...dep(15, 3, 0), status: { replicas: 10 } };
  const rs = (replicas: number, max?: number) => ({ metadata: { annotations: max ? { 'deployment.kubernetes.io/max-replicas': String(max) } : {} }, spec: { replicas } });
  // Scaling 10 (+2 surge = 12 max) up to 15 (+3 = 18): an RS with 6 of 12 gets half of the 6 added.
  assert.equal(proportion(rs(6, 12), d, 6, 0), 3);
  assert.equal(proportion(rs(6, 12), d, 6, 5), 1, 'capped by what is left to add');
  assert.equal(proportion(rs(0, 12), d, 6, 0), 0, 'never from zero');
  assert.equal(proportion(rs(4), { ...d, spec: { ...d.spec, replicas: 0 } }, -4, 0), -4, 'scaling to zero removes everything');
});
