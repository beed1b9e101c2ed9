import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  WorkQueue,
  defaultControllerRateLimiter,
  processNextWorkItem,
  runWorkers,
} from './workqueue.js';

test('The per-item exponential limiter doubles from its base delay up to its cap, per item.', () => {
  const cases: { base: number; max: number; failures: number; want: number[] }[] = [
    { base: 5, max: 1000_000, failures: 5, want: [5, 10, 20, 40, 80] },
    { base: 5, max: 30, failures: 5, want: [5, 10, 20, 30, 30] },
    { base: 1, max: 1000, failures: 12, want: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 1000] },
  ];
  for (const c of cases) {
    const l = new ItemExponentialFailureRateLimiter<string>(c.base, c.max);
    const got = Array.from({ length: c.failures }, () => l.when('a'));
    assert.deepEqual(got, c.want);
    assert.equal(l.numRequeues('a'), c.failures);
    assert.equal(l.when('b'), c.base, 'another item starts at the base delay');
    l.forget('a');
    assert.equal(l.numRequeues('a'), 0);
    assert.equal(l.when('a'), c.base, 'forget resets the backoff');
  }
});

test('The per-item limiter stays at its cap after very many failures.', () => {
  const l = new ItemExponentialFailureRateLimiter<string>(5, 1000_000);
  let last = 0;
  for (let i = 0; i < 2000; i++) last = l.when('x');
  assert.equal(last, 1000_000);
});

test('The bucket limiter allows its burst at once, then spaces further items at 1/qps, and refills over time.', () => {
  let now = 0;
  const l = new BucketRateLimiter<string>(10, 100, () => now);
  for (let i = 0; i < 100; i++) assert.equal(l.when(`k${i}`), 0);
  assert.equal(Math.round(l.when('k100')), 100);
  assert.equal(Math.round(l.when('k101')), 200);
  now += 1000; // ten tokens back; two of them were already reserved
  for (let i = 0; i < 8; i++) assert.equal(l.when(`r${i}`), 0);
  assert.equal(Math.round(l.when('r8')), 100);
});

test('The max-of limiter reports the largest delay and forgets in every limiter.', () => {
  let now = 0;
  const item = new ItemExponentialFailureRateLimiter<string>(5, 1000);
  const bucket = new BucketRateLimiter<string>(1, 1, () => now);
  const l = new MaxOfRateLimiter(item, bucket);
  assert.equal(l.when('a'), 5); // bucket: 0, item: 5
  assert.equal(l.when('a'), 1000); // bucket: 1000 ms for the second token, item: 10
  assert.equal(l.numRequeues('a'), 2);
  l.forget('a');
  assert.equal(l.numRequeues('a'), 0);
  assert.equal(defaultControllerRateLimiter<string>().when('z'), 5, 'the default controller limiter starts at 5 ms');
});

test('Adding a key that is already queued does not queue it twice.', async () => {
  const q = new WorkQueue<string>();
  q.add('a');
  q.add('b');
  q.add('a');
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  assert.equal(q.len(), 0);
  q.done('a');
  q.done('b');
  q.shutDown();
});

test('A key re-added while it is being processed is handed out again only after done.', async () => {
  const q = new WorkQueue<string>();
  q.add('a');
  const first = await q.get();
  assert.equal(first, 'a');
  q.add('a');
  q.add('a');
  assert.equal(q.len(), 0, 'not queued while a worker holds it');
  let second: string | undefined;
  const p = q.get().then((v) => (second = v));
  await sleep(5);
  assert.equal(second, undefined, 'a second worker must not get the key concurrently');
  q.done('a');
  await p;
  assert.equal(second, 'a');
  q.done('a');
  assert.equal(q.len(), 0, 'the two re-adds collapsed into one');
  q.shutDown();
});

test('A blocked get receives an item added later.', async () => {
  const q = new WorkQueue<string>();
  const p = q.get();
  q.add('x');
  assert.equal(await p, 'x');
  q.done('x');
  q.shutDown();
});

test('addAfter delivers the item after the delay, and the earlier of two delays wins.', async () => {
  const q = new WorkQueue<string>();
  const t0 = performance.now();
  q.addAfter('a', 200);
  q.addAfter('a', 20);
  q.addAfter('a', 500);
  assert.equal(q.len(), 0);
  assert.equal(await q.get(), 'a');
  const waited = performance.now() - t0;
  assert.ok(waited >= 15 && waited < 190, `waited ${waited} ms`);
  q.done('a');
  await sleep(250);
  assert.equal(q.len(), 0, 'the later delayed adds were dropped');
  q.shutDown();
});

test('addAfter with no delay adds at once.', () => {
  const q = new WorkQueue<string>();
  q.addAfter('a', 0);
  q.addAfter('b', -5);
  assert.equal(q.len(), 2);
  q.shutDown();
});

test('addRateLimited backs off per item and numRequeues counts until forget.', async () => {
  const q = new WorkQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter<string>(10, 1000) });
  q.add('a');
  const a = (await q.get())!;
  q.addRateLimited(a);
  q.done(a);
  assert.equal(q.numRequeues('a'), 1);
  assert.equal(q.len(), 0, 'not back before its delay');
  assert.equal(await q.get(), 'a');
  q.addRateLimited('a');
  q.done('a');
  assert.equal(q.numRequeues('a'), 2);
  assert.equal(await q.get(), 'a');
  q.forget('a');
  q.done('a');
  assert.equal(q.numRequeues('a'), 0);
  q.shutDown();
});

test('Shutting down wakes blocked workers, still hands out queued items, and ignores new adds and pending delays.', async () => {
  const q = new WorkQueue<string>();
  const blocked = q.get();
  q.shutDown();
  assert.equal(await blocked, undefined);

  const q2 = new WorkQueue<string>();
  q2.add('a');
  q2.addAfter('later', 10);
  q2.shutDown();
  q2.add('b');
  assert.equal(await q2.get(), 'a');
  q2.done('a');
  assert.equal(await q2.get(), undefined);
  await sleep(30);
  assert.equal(q2.len(), 0, 'the delayed add was cancelled');
});

test('shutDownWithDrain waits for in-flight items to be done.', async () => {
  const q = new WorkQueue<string>();
  q.add('a');
  const a = (await q.get())!;
  let drained = false;
  const p = q.shutDownWithDrain().then(() => (drained = true));
  await sleep(5);
  assert.equal(drained, false);
  q.done(a);
  await p;
  assert.equal(drained, true);
});

test('processNextWorkItem forgets on success and re-queues rate-limited on error.', async () => {
  const table: { name: string; fail: boolean; wantRequeues: number; wantLen: number }[] = [
    { name: 'success', fail: false, wantRequeues: 0, wantLen: 0 },
    { name: 'failure', fail: true, wantRequeues: 1, wantLen: 1 },
  ];
  for (const c of table) {
    const q = new WorkQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter<string>(1, 1) });
    q.add('k');
    q.addRateLimited('k'); // one earlier failure on record
    await sleep(5);
    const ok = await processNextWorkItem(
      q,
      () => {
        if (c.fail) throw new Error('boom');
      },
      { onError: () => {} },
    );
    assert.equal(ok, true, c.name);
    assert.equal(q.numRequeues('k'), c.fail ? 2 : 0, c.name);
    await sleep(10);
    assert.equal(q.len(), c.wantLen, c.name);
    q.shutDown();
    assert.equal(await processNextWorkItem(q, () => {}), c.wantLen > 0, `${c.name}: after shutdown`);
  }
});

test('runWorkers retries a failing key with backoff until it succeeds, then forgets it.', async () => {
  const q = new WorkQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter<string>(2, 50) });
  let calls = 0;
  let resolveDone!: () => void;
  const finished = new Promise<void>((r) => (resolveDone = r));
  const errors: number[] = [];
  const run = runWorkers(
    q,
    2,
    async (key) => {
      assert.equal(key, 'ns/a');
      calls++;
      if (calls < 4) throw new Error(`fail ${calls}`);
      resolveDone();
    },
    { onError: (_k, _e, n) => errors.push(n) },
  );
  q.add('ns/a');
  await finished;
  await sleep(5);
  assert.equal(calls, 4);
  assert.deepEqual(errors, [0, 1, 2]);
  assert.equal(q.numRequeues('ns/a'), 0);
  q.shutDown();
  await run;
});

test('runWorkers gives up on a key after maxRetries.', async () => {
  const q = new WorkQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter<string>(1, 1) });
  let calls = 0;
  const run = runWorkers(
    q,
    1,
    () => {
      calls++;
      throw new Error('always');
    },
    { maxRetries: 3, onError: () => {} },
  );
  q.add('k');
  await sleep(100);
  assert.equal(calls, 4, 'the first try and three retries');
  assert.equal(q.numRequeues('k'), 0);
  q.shutDown();
  await run;
});

test('runWorkers processes different keys in parallel but never the same key twice at once.', async () => {
  const q = new WorkQueue<string>();
  let active = 0;
  let maxActive = 0;
  const activeKeys = new Set<string>();
  let overlaps = 0;
  let processed = 0;
  const run = runWorkers(q, 4, async (key) => {
    if (activeKeys.has(key)) overlaps++;
    activeKeys.add(key);
    active++;
    maxActive = Math.max(maxActive, active);
    await sleep(10);
    // Re-adding the key being processed must not let another worker take it.
    if (processed < 20) q.add(key);
    processed++;
    active--;
    activeKeys.delete(key);
  });
  for (const k of ['a', 'b', 'c', 'd', 'e', 'f']) q.add(k);
  await sleep(150);
  q.shutDown();
  await run;
  assert.equal(overlaps, 0);
  assert.equal(maxActive, 4);
  assert.ok(processed >= 20, `processed ${processed}`);
});
