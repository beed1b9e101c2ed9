import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedRunner } from './runner.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A runner whose runs take `runMs` and are recorded with their start times (ms since creation). */
function recorder(o: { minIntervalMs: number; burst?: number; runMs?: number; failFirst?: number; retryMs?: number }) {
  const t0 = performance.now();
  const starts: number[] = [];
  let fails = o.failFirst ?? 0;
  const errors: unknown[] = [];
  const runner = new BoundedRunner(
    async () => {
      starts.push(performance.now() - t0);
      await sleep(o.runMs ?? 0);
      if (fails > 0) {
        fails--;
        throw new Error('boom');
      }
    },
    { minIntervalMs: o.minIntervalMs, burst: o.burst, retryMs: o.retryMs, onError: (e) => errors.push(e) },
  );
  return { runner, starts, errors, since: () => performance.now() - t0 };
}

describe('BoundedRunner runs at once when quiet and coalesces under bursts', () => {
  it('runs the first request at once even with a long minimum interval', async () => {
    const r = recorder({ minIntervalMs: 10_000 });
    r.runner.request();
    for (let i = 0; i < 100 && !r.starts.length; i++) await sleep(10);
    assert.equal(r.starts.length, 1);
    // Not the interval: a busy machine may still delay timers by tens of ms.
    assert.ok(r.starts[0] < 1000, `started after ${r.starts[0]} ms`);
    await r.runner.stop();
  });

  it('allows a burst of two back to back, then makes the third wait for a refill', async () => {
    const r = recorder({ minIntervalMs: 300, burst: 2 });
    r.runner.request();
    await sleep(20);
    r.runner.request();
    await sleep(20);
    r.runner.request();
    await sleep(60);
    assert.equal(r.starts.length, 2, 'two runs without waiting');
    for (let i = 0; i < 50 && r.starts.length < 3; i++) await sleep(20);
    assert.equal(r.starts.length, 3);
    // The bucket was empty at about 40 ms and refills one run per 300 ms.
    assert.ok(r.starts[2] >= 250, `third run at ${r.starts[2]} ms`);
    await r.runner.stop();
  });

  it('folds requests made during a run into one run after it', async () => {
    const r = recorder({ minIntervalMs: 0, runMs: 80 });
    r.runner.request();
    await sleep(20);
    for (let i = 0; i < 5; i++) r.runner.request();
    await sleep(250);
    assert.equal(r.starts.length, 2);
    assert.ok(r.starts[1] >= r.starts[0] + 80, 'never two runs at a time');
    await r.runner.stop();
  });

  it('retries a failed run after the retry delay without another request', async () => {
    const r = recorder({ minIntervalMs: 10, failFirst: 1, retryMs: 100 });
    r.runner.request();
    for (let i = 0; i < 50 && r.starts.length < 2; i++) await sleep(10);
    assert.equal(r.starts.length, 2);
    assert.equal(r.errors.length, 1);
    assert.ok(r.starts[1] - r.starts[0] >= 90, `retried after ${r.starts[1] - r.starts[0]} ms`);
    await r.runner.stop();
  });

  it('runNow runs even with an empty bucket and reports a failure to its caller', async () => {
    const r = recorder({ minIntervalMs: 10_000, burst: 1, failFirst: 1, retryMs: 60_000 });
    await assert.rejects(r.runner.runNow(), /boom/);
    await r.runner.runNow();
    assert.equal(r.starts.length, 2);
    await r.runner.stop();
  });

  it('does nothing after stop', async () => {
    const r = recorder({ minIntervalMs: 0 });
    await r.runner.stop();
    r.runner.request();
    await sleep(20);
    assert.equal(r.starts.length, 0);
  });
});
