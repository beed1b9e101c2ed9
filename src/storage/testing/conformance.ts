/**
 * The backend-agnostic storage conformance suite. Every {@link Backend} runs it unchanged from its
 * own test file:
 *
 * ```ts
 * runBackendConformance('sqlite', async () => ({ backend, reopen, cleanup }));
 * ```
 *
 * It is written against the Backend interface only and registers node:test suites.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  type Backend,
  ClosedError,
  CompactedError,
  ConflictError,
  FutureRevisionError,
  KeyExistsError,
  type KeyValue,
  NotFoundError,
  SlowWatcherError,
  type Watch,
  type WatchEvent,
} from '../interface.js';

/** What a conformance factory returns: a fresh, empty backend and how to dispose of it. */
export interface ConformanceFixture {
  /** A fresh backend with no keys. */
  backend: Backend;
  /**
   * Open the same storage again. The suite closes the current backend first and uses the one returned
   * from then on. Omit for backends that cannot be reopened (the durability tests are then skipped).
   */
  reopen?: () => Promise<Backend>;
  /** Close whichever backend is open (it may already be closed) and delete its storage. */
  cleanup: () => Promise<void>;
  /**
   * The backend's watch buffer limit (undelivered events before a watcher counts as slow); the
   * slow-watcher test writes more events than this. Default 1000; keep it small for fast tests.
   */
  watchBufferLimit?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A JSON value of roughly the size of a small Kubernetes object. */
function value(tag: string | number): string {
  return JSON.stringify({ tag, spec: { containers: [{ name: 'app', image: 'registry.local/app:1.0' }] } });
}

/** Await a rejection of the given class and return the error for further checks. */
async function rejection<E extends Error>(p: Promise<unknown>, cls: new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${cls.name}, but the call succeeded`);
}

interface Collector {
  events: WatchEvent[];
  progress: number[];
  watch: Watch;
  closed: boolean;
  closeErr: Error | undefined;
  revisions(): number[];
}

/** Watch and record everything, checking that every batch is in strictly increasing revision order. */
function collect(b: Backend, prefix: string, afterRevision: number, progressNotify = false): Collector {
  const c: Collector = {
    events: [],
    progress: [],
    watch: undefined as unknown as Watch,
    closed: false,
    closeErr: undefined,
    revisions: () => c.events.map((e) => e.kv.modRevision),
  };
  c.watch = b.watch(
    prefix,
    { afterRevision, progressNotify },
    {
      onEvents: (evs) => {
        for (const e of evs) c.events.push(e);
      },
      onProgress: (r) => c.progress.push(r),
      onClose: (err) => {
        c.closed = true;
        c.closeErr = err;
      },
    },
  );
  return c;
}

function assertStrictlyIncreasing(revs: number[], what: string): void {
  for (let i = 1; i < revs.length; i++) {
    assert.ok(revs[i]! > revs[i - 1]!, `${what}: revision ${revs[i]} follows ${revs[i - 1]} at index ${i}`);
  }
}

/**
 * Register the conformance suite for one backend. `factory` is called once per test and must return
 * a fresh, empty backend.
 */
export function runBackendConformance(name: string, factory: () => Promise<ConformanceFixture>): void {
  describe(`storage backend conformance: ${name}`, () => {
    let fx: ConformanceFixture;
    let b: Backend;

    beforeEach(async () => {
      fx = await factory();
      b = fx.backend;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    describe('revisions', () => {
      it('Every write takes a new revision, strictly increasing across keys, and currentRevision reports the last one.', async () => {
        const r0 = await b.currentRevision();
        const a = await b.create('/r/a', value(1));
        const c = await b.create('/r/c', value(2));
        const a2 = await b.update('/r/a', value(3), a.modRevision);
        const cDel = await b.delete('/r/c');
        const revs = [r0, a.modRevision, c.modRevision, a2.modRevision, cDel.modRevision];
        assertStrictlyIncreasing(revs, 'write revisions');
        assert.equal(await b.currentRevision(), cDel.modRevision);
        assert.equal(a.createRevision, a.modRevision);
        assert.equal(a2.createRevision, a.createRevision);
      });

      it('Concurrent writes to different keys each get their own revision.', async () => {
        const kvs = await Promise.all(Array.from({ length: 50 }, (_, i) => b.create(`/r/k${i}`, value(i))));
        const revs = kvs.map((kv) => kv.modRevision);
        assert.equal(new Set(revs).size, 50);
        assert.equal(await b.currentRevision(), Math.max(...revs));
      });

      it('A read at a past revision returns the key as it was at that revision.', async () => {
        const before = await b.currentRevision();
        const v1 = await b.create('/g/k', value('v1'));
        const v2 = await b.update('/g/k', value('v2'), v1.modRevision);
        await b.create('/g/other', value('x'));
        const del = await b.delete('/g/k');

        const atV1 = await b.get('/g/k', { revision: v1.modRevision });
        assert.deepEqual(atV1, { revision: v1.modRevision, kv: v1 });
        const atV2 = await b.get('/g/k', { revision: v2.modRevision + 1 });
        assert.equal(atV2.revision, v2.modRevision + 1);
        assert.deepEqual(atV2.kv, v2);
        assert.equal((await b.get('/g/k', { revision: del.modRevision })).kv, undefined);
        if (before > 0) assert.equal((await b.get('/g/k', { revision: before })).kv, undefined);
        const now = await b.get('/g/k');
        assert.equal(now.kv, undefined);
        assert.equal(now.revision, del.modRevision);
      });

      it('A read at a revision newer than the current one fails with FutureRevisionError.', async () => {
        await b.create('/f/a', value(1));
        const rev = await b.currentRevision();
        const err = await rejection(b.get('/f/a', { revision: rev + 10 }), FutureRevisionError);
        assert.equal(err.requested, rev + 10);
        await rejection(b.list('/f/', { revision: rev + 1 }), FutureRevisionError);
      });
    });

    describe('writes and compare-and-swap', () => {
      it('Creating a key that exists fails with KeyExistsError and leaves the value alone.', async () => {
        const kv = await b.create('/w/a', value('first'));
        const err = await rejection(b.create('/w/a', value('second')), KeyExistsError);
        assert.equal(err.key, '/w/a');
        assert.deepEqual((await b.get('/w/a')).kv, kv);
      });

      it('Updating an absent key fails with NotFoundError.', async () => {
        const err = await rejection(b.update('/w/missing', value(1), 1), NotFoundError);
        assert.equal(err.key, '/w/missing');
      });

      it('Updating with a stale revision fails with ConflictError carrying the current value.', async () => {
        const v1 = await b.create('/w/a', value('v1'));
        const v2 = await b.update('/w/a', value('v2'), v1.modRevision);
        assert.equal(v2.value, value('v2'));
        assert.ok(v2.modRevision > v1.modRevision);
        assert.equal(v2.createRevision, v1.createRevision);
        const err = await rejection(b.update('/w/a', value('v3'), v1.modRevision), ConflictError);
        assert.deepEqual(err.current, v2);
        assert.deepEqual((await b.get('/w/a')).kv, v2);
      });

      it('Deleting with a stale revision fails with ConflictError carrying the current value, and the key stays.', async () => {
        const v1 = await b.create('/w/a', value('v1'));
        const v2 = await b.update('/w/a', value('v2'), v1.modRevision);
        const err = await rejection(b.delete('/w/a', v1.modRevision), ConflictError);
        assert.deepEqual(err.current, v2);
        assert.deepEqual((await b.get('/w/a')).kv, v2);
        const del = await b.delete('/w/a', v2.modRevision);
        assert.equal(del.value, value('v2'));
      });

      it('Deleting an absent key fails with NotFoundError, with or without an expected revision.', async () => {
        await rejection(b.delete('/w/missing'), NotFoundError);
        await rejection(b.delete('/w/missing', 3), NotFoundError);
      });

      it('A delete resolves to the last value with the deletion revision as modRevision.', async () => {
        const kv = await b.create('/w/a', value('last'));
        const del = await b.delete('/w/a');
        assert.equal(del.key, '/w/a');
        assert.equal(del.value, value('last'));
        assert.equal(del.createRevision, kv.createRevision);
        assert.ok(del.modRevision > kv.modRevision);
        assert.equal(await b.currentRevision(), del.modRevision);
        assert.equal((await b.get('/w/a')).kv, undefined);
      });

      it('A deleted key can be created again and gets a new createRevision.', async () => {
        const first = await b.create('/w/a', value(1));
        await b.delete('/w/a');
        const again = await b.create('/w/a', value(2));
        assert.ok(again.createRevision > first.createRevision);
        assert.equal(again.createRevision, again.modRevision);
      });

      it('Of many concurrent creates of one key exactly one wins and the rest fail with KeyExistsError.', async () => {
        const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => b.create('/w/race', value(i))));
        const won = results.filter((r): r is PromiseFulfilledResult<KeyValue> => r.status === 'fulfilled');
        assert.equal(won.length, 1);
        for (const r of results) {
          if (r.status === 'rejected') assert.ok(r.reason instanceof KeyExistsError, String(r.reason));
        }
        assert.deepEqual((await b.get('/w/race')).kv, won[0]!.value);
      });

      it('Of many concurrent updates from the same revision exactly one wins and the rest get ConflictError.', async () => {
        const base = await b.create('/w/cas', value('base'));
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => b.update('/w/cas', value(i), base.modRevision)),
        );
        const won = results.filter((r): r is PromiseFulfilledResult<KeyValue> => r.status === 'fulfilled');
        assert.equal(won.length, 1);
        for (const r of results) {
          if (r.status === 'rejected') {
            assert.ok(r.reason instanceof ConflictError, String(r.reason));
            assert.deepEqual(r.reason.current, won[0]!.value);
          }
        }
      });
    });

    describe('list and count', () => {
      it('A list returns keys in ascending order whatever the order of creation.', async () => {
        const names = ['m', 'b', 'z', 'a', 'k1', 'k10', 'k2', 'A', '0'];
        for (const n of names) await b.create(`/l/${n}`, value(n));
        const res = await b.list('/l/');
        assert.deepEqual(
          res.kvs.map((kv) => kv.key),
          names.map((n) => `/l/${n}`).sort(),
        );
        assert.equal(res.more, false);
        assert.equal(res.revision, await b.currentRevision());
      });

      it('Listing /a/b/ excludes the sibling /a/bc and the key /a/b itself.', async () => {
        for (const k of ['/a/b', '/a/b/1', '/a/b/2', '/a/bc', '/a/bc/1', '/a/a/1', '/a/c', '/a/b0']) {
          await b.create(k, value(k));
        }
        const res = await b.list('/a/b/');
        assert.deepEqual(
          res.kvs.map((kv) => kv.key),
          ['/a/b/1', '/a/b/2'],
        );
        assert.equal(await b.count('/a/b/'), 2);
        const raw = await b.list('/a/b');
        assert.deepEqual(
          raw.kvs.map((kv) => kv.key),
          ['/a/b', '/a/b/1', '/a/b/2', '/a/b0', '/a/bc', '/a/bc/1'],
        );
        assert.equal(await b.count('/a/'), 8);
        assert.deepEqual((await b.list('/nothing/')).kvs, []);
      });

      it('A limit returns the first keys with more and the count of the remaining ones.', async () => {
        for (let i = 0; i < 10; i++) await b.create(`/p/k${i}`, value(i));
        const page = await b.list('/p/', { limit: 3 });
        assert.deepEqual(
          page.kvs.map((kv) => kv.key),
          ['/p/k0', '/p/k1', '/p/k2'],
        );
        assert.equal(page.more, true);
        assert.equal(page.remaining, 7);
        const rest = await b.list('/p/', { limit: 10, startKey: '/p/k3' });
        assert.equal(rest.kvs.length, 7);
        assert.equal(rest.more, false);
        const exact = await b.list('/p/', { limit: 10 });
        assert.equal(exact.kvs.length, 10);
        assert.equal(exact.more, false);
        assert.equal((await b.list('/p/', { limit: 0 })).kvs.length, 10);
      });

      it('Pages read at a fixed revision stay consistent while writes continue.', async () => {
        for (let i = 0; i < 20; i++) await b.create(`/pg/k${String(i).padStart(2, '0')}`, value(i));
        const full = await b.list('/pg/');
        const rev = full.revision;
        const pages: KeyValue[] = [];
        let startKey: string | undefined;
        let n = 0;
        for (;;) {
          const page = await b.list('/pg/', { revision: rev, limit: 3, startKey });
          assert.equal(page.revision, rev);
          pages.push(...page.kvs);
          if (page.more) assert.equal(page.remaining, full.kvs.length - pages.length);
          // Writes between pages: new keys inside and after the page range, updates and deletes.
          n++;
          await b.create(`/pg/k${String(n).padStart(2, '0')}x`, value('new'));
          const last = page.kvs[page.kvs.length - 1];
          const cur = last && (await b.get(last.key)).kv;
          if (cur) await b.update(cur.key, value('changed'), cur.modRevision);
          const victim = full.kvs[full.kvs.length - n];
          if (victim) await b.delete(victim.key).catch(() => {});
          if (!page.more) break;
          startKey = `${last!.key}\x00`;
        }
        assert.deepEqual(pages, full.kvs);
        assert.notDeepEqual((await b.list('/pg/')).kvs, full.kvs);
      });

      it('A list at a past revision shows deleted keys and old values.', async () => {
        const a = await b.create('/h/a', value('a1'));
        const c = await b.create('/h/c', value('c1'));
        const rev = await b.currentRevision();
        await b.update('/h/a', value('a2'), a.modRevision);
        await b.delete('/h/c');
        await b.create('/h/b', value('b1'));
        const past = await b.list('/h/', { revision: rev });
        assert.deepEqual(past.kvs, [a, c]);
        assert.equal(past.revision, rev);
        const pastPage = await b.list('/h/', { revision: rev, limit: 1 });
        assert.deepEqual(pastPage.kvs, [a]);
        assert.equal(pastPage.more, true);
        assert.equal(pastPage.remaining, 1);
        assert.deepEqual(
          (await b.list('/h/')).kvs.map((kv) => kv.value),
          [value('a2'), value('b1')],
        );
      });

      it('count counts the live keys under a prefix.', async () => {
        for (let i = 0; i < 5; i++) await b.create(`/c/k${i}`, value(i));
        await b.create('/cc/k', value('x'));
        await b.delete('/c/k0');
        assert.equal(await b.count('/c/'), 4);
        assert.equal(await b.count('/cc/'), 1);
        assert.equal(await b.count('/none/'), 0);
      });

      it('The empty prefix lists every key.', async () => {
        await b.create('/x/1', value(1));
        await b.create('/y/1', value(2));
        const res = await b.list('');
        assert.deepEqual(
          res.kvs.map((kv) => kv.key),
          ['/x/1', '/y/1'],
        );
        assert.equal(await b.count(''), 2);
      });
    });

    describe('watch', () => {
      it('A watch delivers creates, updates and deletes in revision order with values and previous values.', async () => {
        const start = await b.currentRevision();
        const w = collect(b, '/wa/', start);
        const c1 = await b.create('/wa/k', value('v1'));
        const u1 = await b.update('/wa/k', value('v2'), c1.modRevision);
        const d1 = await b.delete('/wa/k');
        await waitFor(() => w.events.length >= 3, 'three events');
        w.watch.cancel();
        const [e1, e2, e3] = w.events;
        assert.deepEqual(e1, { type: 'put', kv: c1, isCreate: true });
        assert.deepEqual(e2, { type: 'put', kv: u1, prevKv: c1, isCreate: false });
        assert.equal(e3!.type, 'delete');
        assert.equal(e3!.isCreate, false);
        assert.deepEqual(e3!.kv, d1);
        assert.equal(e3!.kv.value, value('v2'));
        assert.deepEqual(e3!.prevKv, u1);
        assert.equal(w.events.length, 3);
      });

      it('A watch on a prefix sees only keys under that prefix.', async () => {
        const w = collect(b, '/wp/b/', await b.currentRevision());
        for (const k of ['/wp/b', '/wp/bc', '/wp/bc/1', '/wp/a/1', '/wp/b/1', '/wp/b0']) await b.create(k, value(k));
        const last = await b.create('/wp/b/2', value('last'));
        await waitFor(() => w.revisions().includes(last.modRevision), 'the last event');
        assert.deepEqual(
          w.events.map((e) => e.kv.key),
          ['/wp/b/1', '/wp/b/2'],
        );
        w.watch.cancel();
      });

      it('A watch from a past revision replays history and then continues live, with no gap or duplicate under concurrent writes.', async () => {
        const r0 = await b.currentRevision();
        const history = await Promise.all(Array.from({ length: 150 }, (_, i) => b.create(`/wr/h${i}`, value(i))));
        // Writes in flight while the watch starts.
        const inFlight = Array.from({ length: 150 }, (_, i) => b.create(`/wr/l${i}`, value(i)));
        const w = collect(b, '/wr/', r0);
        const more: KeyValue[] = [];
        for (let round = 0; round < 5; round++) {
          more.push(...(await Promise.all(Array.from({ length: 30 }, (_, i) => b.create(`/wr/m${round}-${i}`, value(i))))));
        }
        const live = await Promise.all(inFlight);
        const all = [...history, ...live, ...more].map((kv) => kv.modRevision).sort((x, y) => x - y);
        await waitFor(() => w.events.length >= all.length, `${all.length} events`);
        await sleep(20);
        w.watch.cancel();
        assert.deepEqual(w.revisions(), all);
        assert.equal(w.closed, false);
      });

      it('Resuming a watch from the last seen revision after cancelling it loses and repeats nothing.', async () => {
        const r0 = await b.currentRevision();
        const w1 = collect(b, '/wz/', r0);
        const written: number[] = [];
        const writer = (async () => {
          for (let round = 0; round < 60; round++) {
            const kvs = await Promise.all(Array.from({ length: 10 }, (_, i) => b.create(`/wz/${round}-${i}`, value(i))));
            written.push(...kvs.map((kv) => kv.modRevision));
          }
        })();
        await waitFor(() => w1.events.length >= 50, 'the first watcher to see 50 events');
        w1.watch.cancel();
        const seen = w1.events.length;
        const lastSeen = w1.events[seen - 1]!.kv.modRevision;
        const w2 = collect(b, '/wz/', lastSeen);
        await writer;
        const all = written.sort((x, y) => x - y);
        await waitFor(() => w2.events.length > 0 && w2.revisions().at(-1)! >= all.at(-1)!, 'the second watcher to catch up');
        await sleep(20);
        assert.equal(w1.events.length, seen, 'a cancelled watch receives nothing more');
        assert.deepEqual([...w1.revisions(), ...w2.revisions()], all);
        w2.watch.cancel();
      });

      it('An idle watch that asked for progress notifications receives the current revision.', async () => {
        const w = collect(b, '/wn/', await b.currentRevision(), true);
        const other = await b.create('/elsewhere/k', value(1));
        await waitFor(() => w.progress.some((r) => r >= other.modRevision), 'a progress notification', 8000);
        assert.deepEqual(w.events, []);
        w.watch.cancel();
      });

      it('A watcher that stops consuming is closed with SlowWatcherError while a fast watcher and writers carry on.', async () => {
        const limit = fx.watchBufferLimit ?? 1000;
        const start = await b.currentRevision();
        let release: () => void = () => {};
        const stalled = new Promise<void>((r) => (release = r));
        let slowErr: Error | undefined;
        let slowClosed = false;
        const slow = b.watch(
          '/ws/',
          { afterRevision: start },
          {
            onEvents: () => stalled,
            onClose: (err) => {
              slowClosed = true;
              slowErr = err;
            },
          },
        );
        const fast = collect(b, '/ws/', start);
        const total = limit + 300;
        const written: number[] = [];
        for (let i = 0; i < total; i += 50) {
          const n = Math.min(50, total - i);
          const kvs = await Promise.all(Array.from({ length: n }, (_, j) => b.create(`/ws/${i + j}`, value(j))));
          written.push(...kvs.map((kv) => kv.modRevision));
        }
        await waitFor(() => slowClosed, 'the slow watcher to be closed');
        assert.ok(slowErr instanceof SlowWatcherError, String(slowErr));
        await waitFor(() => fast.events.length >= total, 'the fast watcher to see every event');
        assert.deepEqual(fast.revisions(), written.sort((x, y) => x - y));
        assert.equal(fast.closed, false);
        release();
        slow.cancel();
        fast.watch.cancel();
      });
    });

    describe('compaction', () => {
      it('After compaction, reads and watches below the compacted revision fail with CompactedError and the latest values stay.', async () => {
        const k1 = await b.create('/k/1', value('1a'));
        const k1b = await b.update('/k/1', value('1b'), k1.modRevision);
        await b.create('/k/2', value('2a'));
        const gone = await b.delete('/k/2');
        const k3 = await b.create('/k/3', value('3a'));
        const target = k3.modRevision;
        const k3b = await b.update('/k/3', value('3b'), k3.modRevision);

        await b.compact(target);
        assert.equal(await b.compactedRevision(), target);

        const getErr = await rejection(b.get('/k/1', { revision: gone.modRevision }), CompactedError);
        assert.equal(getErr.compacted, target);
        await rejection(b.list('/k/', { revision: target - 1 }), CompactedError);

        // At the compacted revision itself, reads still see the state of that revision.
        assert.deepEqual((await b.get('/k/1', { revision: target })).kv, k1b);
        assert.deepEqual((await b.list('/k/', { revision: target })).kvs, [k1b, k3]);
        assert.deepEqual((await b.list('/k/')).kvs, [k1b, k3b]);
        assert.equal((await b.get('/k/2')).kv, undefined);

        const old = collect(b, '/k/', target - 1);
        await waitFor(() => old.closed, 'the watch from a compacted revision to close');
        assert.ok(old.closeErr instanceof CompactedError, String(old.closeErr));

        const fromTarget = collect(b, '/k/', target);
        await waitFor(() => fromTarget.events.length >= 1, 'the event after the compacted revision');
        assert.deepEqual(fromTarget.events, [{ type: 'put', kv: k3b, prevKv: k3, isCreate: false }]);
        fromTarget.watch.cancel();

        const after = await b.create('/k/4', value('4a'));
        assert.ok(after.modRevision > k3b.modRevision);
      });

      it('Compacting at a future revision fails, and compacting at or below the compacted revision changes nothing.', async () => {
        const a = await b.create('/k/a', value(1));
        await b.update('/k/a', value(2), a.modRevision);
        const rev = await b.currentRevision();
        await rejection(b.compact(rev + 5), FutureRevisionError);
        await b.compact(rev);
        await b.compact(rev - 1);
        await b.compact(rev);
        assert.equal(await b.compactedRevision(), rev);
      });

      it('Compacting away a large history keeps every live key at its latest value.', async () => {
        let kvs = await Promise.all(Array.from({ length: 100 }, (_, i) => b.create(`/big/${i}`, value(`${i}-0`))));
        for (let round = 1; round <= 5; round++) {
          kvs = await Promise.all(kvs.map((kv, i) => b.update(kv.key, value(`${i}-${round}`), kv.modRevision)));
        }
        await Promise.all(kvs.slice(0, 10).map((kv) => b.delete(kv.key)));
        await b.compact(await b.currentRevision());
        const res = await b.list('/big/');
        assert.deepEqual(
          res.kvs.map((kv) => kv.key),
          kvs
            .slice(10)
            .map((kv) => kv.key)
            .sort(),
        );
        for (const kv of res.kvs) assert.ok(kv.value.includes('-5'), kv.value);
      });
    });

    describe('durability and lifecycle', () => {
      it('After close and reopen, keys, revisions and the compacted revision are kept and revisions keep increasing.', async (t) => {
        if (!fx.reopen) {
          t.skip('backend cannot be reopened');
          return;
        }
        const kvs = await Promise.all(Array.from({ length: 30 }, (_, i) => b.create(`/d/${i}`, value(i))));
        await b.update('/d/0', value('changed'), kvs[0]!.modRevision);
        const del = await b.delete('/d/29');
        // The head revision is a delete, and compaction removes its tombstone: the revision must still survive.
        await b.compact(del.modRevision);
        const before = await b.list('/d/');
        await b.close();

        b = await fx.reopen();
        assert.equal(await b.currentRevision(), del.modRevision);
        assert.equal(await b.compactedRevision(), del.modRevision);
        assert.deepEqual(await b.list('/d/'), before);
        await rejection(b.get('/d/1', { revision: del.modRevision - 1 }), CompactedError);
        const w = collect(b, '/d/', del.modRevision);
        const next = await b.create('/d/new', value('new'));
        assert.ok(next.modRevision > del.modRevision);
        await waitFor(() => w.events.length === 1, 'the event after reopening');
        assert.equal(w.events[0]!.kv.modRevision, next.modRevision);
        w.watch.cancel();
      });

      it('Closing the store commits writes already issued, ends watches with onClose(undefined) and refuses later calls.', async () => {
        const w = collect(b, '/e/', await b.currentRevision());
        const pending = b.create('/e/last', value('last'));
        await b.close();
        const kv = await pending;
        assert.equal(kv.key, '/e/last');
        await waitFor(() => w.closed, 'the watch to close');
        assert.equal(w.closeErr, undefined);
        await rejection(b.get('/e/last'), ClosedError);
        await rejection(b.create('/e/other', value(1)), ClosedError);
        if (fx.reopen) {
          b = await fx.reopen();
          assert.deepEqual((await b.get('/e/last')).kv, kv);
        }
      });
    });
  });
}
