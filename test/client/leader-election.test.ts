// Leader election on a real Lease: one leader at a time, takeover after the leader stops
// renewing, quick handover on release, and stepping down when renewals fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { LeaderElector, type LeaderElectionConfig } from '../../src/client/leader-election.js';
import { resources } from '../../src/client/resources.js';
import type { RestClient } from '../../src/client/rest-client.js';
import { startCluster, until } from './cluster.js';

const timing = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 200 };

interface Candidate {
  le: LeaderElector;
  id: string;
  started: number;
  stopped: number;
  newLeaders: string[];
  leaderSignal?: AbortSignal;
  run: Promise<void>;
}

function candidate(client: RestClient, id: string, extra: Partial<LeaderElectionConfig> = {}): Candidate {
  const c = { id, started: 0, stopped: 0, newLeaders: [] as string[] } as Candidate;
  c.le = new LeaderElector({
    client,
    namespace: 'kube-system',
    name: 'test-lock',
    identity: id,
    ...timing,
    ...extra,
    callbacks: {
      onStartedLeading: (signal) => {
        c.started++;
        c.leaderSignal = signal;
      },
      onStoppedLeading: () => void c.stopped++,
      onNewLeader: (who) => void c.newLeaders.push(who),
    },
  });
  c.run = c.le.run();
  return c;
}

async function lease(client: RestClient) {
  return (await client.get(resources.leases, 'kube-system', 'test-lock')).spec;
}

test('Of two candidates for one lease exactly one leads, and when it stops renewing the other takes over within the lease duration.', async () => {
  const cluster = await startCluster({ storagePath: ':memory:' });
  const [ca, cb] = [cluster.client('a'), cluster.client('b')];
  const a = candidate(ca, 'candidate-a');
  const b = candidate(cb, 'candidate-b');
  try {
    await until(() => a.le.isLeader() || b.le.isLeader(), 'a leader', 5000);
    // Watch them for a while: never two leaders, never a change of leader.
    const first = a.le.isLeader() ? a : b;
    const second = first === a ? b : a;
    for (let i = 0; i < 100; i++) {
      assert.ok(!(a.le.isLeader() && b.le.isLeader()), 'both lead');
      assert.equal(first.le.isLeader(), true);
      await sleep(25);
    }
    const spec = await lease(ca);
    assert.equal(spec.holderIdentity, first.id);
    assert.equal(spec.leaseDurationSeconds, 2);
    assert.equal(spec.leaseTransitions, 0);
    assert.match(spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.notEqual(spec.renewTime, spec.acquireTime, 'the leader has renewed');
    assert.equal(first.started, 1);
    assert.equal(second.started, 0);
    assert.deepEqual(second.newLeaders, [first.id]);
    assert.equal(second.le.getLeader(), first.id);

    // The leader stops renewing without giving the lease up (as if it died).
    const t0 = Date.now();
    await first.le.stop();
    assert.equal(first.stopped, 1);
    assert.equal(first.leaderSignal?.aborted, true, 'the leading context is cancelled');
    await until(() => second.le.isLeader(), 'the takeover', 6000);
    const took = Date.now() - t0;
    assert.ok(took >= timing.leaseDurationMs - timing.retryPeriodMs - 100, `took over after ${took} ms, before the lease could have expired`);
    assert.ok(took <= timing.leaseDurationMs + 2.2 * timing.retryPeriodMs + 500, `took over after ${took} ms`);
    const after = await lease(ca);
    assert.equal(after.holderIdentity, second.id);
    assert.equal(after.leaseTransitions, 1);
    assert.deepEqual(second.newLeaders, [first.id, second.id]);
  } finally {
    await a.le.stop();
    await b.le.stop();
    await cluster.stop();
  }
});

test('A leader that releases the lease on stop hands over without waiting for it to expire.', async () => {
  const cluster = await startCluster({ storagePath: ':memory:' });
  const [ca, cb] = [cluster.client('a'), cluster.client('b')];
  const a = candidate(ca, 'a', { releaseOnCancel: true });
  try {
    await until(() => a.le.isLeader(), 'a to lead', 5000);
    const b = candidate(cb, 'b', { releaseOnCancel: true });
    await sleep(300);
    assert.equal(b.le.isLeader(), false);
    const t0 = Date.now();
    await a.le.stop();
    const released = await lease(ca);
    // Released (empty holder, one second), unless b was already quick enough to take it.
    if (released.holderIdentity) assert.equal(released.holderIdentity, 'b');
    else assert.equal(released.leaseDurationSeconds, 1);
    await until(() => b.le.isLeader(), 'b to lead', 3000);
    const took = Date.now() - t0;
    assert.ok(took < timing.leaseDurationMs - 500, `handover took ${took} ms`);
    assert.equal((await lease(ca)).leaseTransitions, 1);
    await b.le.stop();
    await b.run;
    assert.equal((await lease(ca)).holderIdentity ?? '', '');
  } finally {
    await a.le.stop();
    await cluster.stop();
  }
});

test('A leader that cannot renew steps down within the renew deadline.', async () => {
  const cluster = await startCluster({ storagePath: ':memory:' });
  const c = candidate(cluster.client('a'), 'a');
  try {
    await until(() => c.le.isLeader(), 'a to lead', 5000);
    const t0 = Date.now();
    await cluster.server.stop();
    await c.run; // run returns once leadership is lost
    const took = Date.now() - t0;
    assert.equal(c.le.isLeader(), false);
    assert.equal(c.stopped, 1);
    assert.equal(c.leaderSignal?.aborted, true);
    assert.ok(took >= timing.renewDeadlineMs - 200 && took <= timing.renewDeadlineMs + timing.retryPeriodMs + 1000, `stepped down after ${took} ms`);
  } finally {
    await c.le.stop();
    await cluster.stop().catch(() => {});
  }
});
