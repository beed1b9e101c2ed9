import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaderElector, microTime, validateLeaderElectionConfig, type LeaderElectionConfig } from './leader-election.js';
import { RestClient } from './rest-client.js';

const base = (): LeaderElectionConfig => ({
  client: new RestClient({ server: 'http://127.0.0.1:1' }),
  namespace: 'kube-system',
  name: 'kube-scheduler',
  identity: 'a',
  callbacks: { onStartedLeading: () => {} },
});

test('Leader election configurations client-go would refuse are refused with its messages.', () => {
  const table: { name: string; patch: Partial<LeaderElectionConfig>; err?: RegExp }[] = [
    { name: 'the defaults', patch: {} },
    { name: 'short test timings', patch: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 300 } },
    { name: 'lease not longer than the renew deadline', patch: { leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }, err: /leaseDuration must be greater than renewDeadline/ },
    { name: 'renew deadline within the jittered retry', patch: { renewDeadlineMs: 2400, retryPeriodMs: 2000 }, err: /renewDeadline must be greater than retryPeriod\*JitterFactor/ },
    { name: 'zero retry', patch: { retryPeriodMs: 0 }, err: /retryPeriod must be greater than zero/ },
    { name: 'no identity', patch: { identity: '' }, err: /Lock identity is empty/ },
    { name: 'no lease name', patch: { name: '' }, err: /namespace and name are required/ },
    { name: 'no callback', patch: { callbacks: {} as never }, err: /OnStartedLeading callback must not be nil/ },
  ];
  for (const c of table) {
    const cfg = { ...base(), ...c.patch };
    if (c.err) {
      assert.throws(() => validateLeaderElectionConfig(cfg), c.err, c.name);
      assert.throws(() => new LeaderElector(cfg), c.err, c.name);
    } else assert.doesNotThrow(() => validateLeaderElectionConfig(cfg), c.name);
    cfg.client.close();
  }
});

test('Lease times are written as MicroTime with six fractional digits.', () => {
  assert.equal(microTime(Date.UTC(2024, 4, 6, 7, 8, 9, 123)), '2024-05-06T07:08:09.123000Z');
});

test('A candidate that cannot reach the server keeps trying and never leads; stop ends run.', async () => {
  let led = false;
  const cfg = { ...base(), leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 20, callbacks: { onStartedLeading: () => void (led = true) } };
  const le = new LeaderElector(cfg);
  const run = le.run();
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(le.isLeader(), false);
  await le.stop();
  await run;
  assert.equal(led, false);
  cfg.client.close();
});

test('Timings passed through as undefined take the defaults, so an idle candidate does not spin.', () => {
  const cfg = { ...base(), leaseDurationMs: undefined, renewDeadlineMs: undefined, retryPeriodMs: undefined };
  const e = new LeaderElector(cfg);
  assert.deepEqual([e.config.leaseDurationMs, e.config.renewDeadlineMs, e.config.retryPeriodMs], [15_000, 10_000, 2_000]);
  cfg.client.close();
});
