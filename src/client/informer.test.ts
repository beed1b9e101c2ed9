import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { StatusError } from '../api/errors.js';
import { setLogLevel } from '../base/log.js';
import {
  DeletedFinalStateUnknown,
  NODE_NAME_INDEX,
  SharedInformer,
  isResourceExpired,
  nodeNameIndexFunc,
  type ListerWatcher,
  type WatchOpts,
} from './informer.js';
import type { KObject, ListOpts, WatchEvent, WatchHandle } from './rest-client.js';

setLogLevel('error');

/** An in-memory collection with a revision history, served as list pages and watch streams. */
class FakeSource implements ListerWatcher {
  rev = 10;
  compacted = 0;
  objs = new Map<string, KObject>();
  history: { rev: number; ev: WatchEvent }[] = [];
  listCalls: ListOpts[] = [];
  watchCalls: WatchOpts[] = [];
  /** Errors for the next list or watch calls, consumed in order. */
  listErrors: unknown[] = [];
  watchErrors: unknown[] = [];
  private watchers = new Set<{ from: number; onEvent: (ev: WatchEvent) => void; end: () => void }>();

  put(name: string, data: Record<string, unknown> = {}, ns = 'default'): KObject {
    const key = `${ns}/${name}`;
    const type = this.objs.has(key) ? 'MODIFIED' : 'ADDED';
    const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: ns, name, resourceVersion: String(++this.rev) }, ...data };
    this.objs.set(key, obj);
    this.emit({ type, object: obj });
    return obj;
  }

  remove(name: string, ns = 'default'): void {
    const key = `${ns}/${name}`;
    const old = this.objs.get(key)!;
    this.objs.delete(key);
    this.emit({ type: 'DELETED', object: { ...old, metadata: { ...old.metadata, resourceVersion: String(++this.rev) } } });
  }

  private emit(ev: WatchEvent): void {
    this.history.push({ rev: this.rev, ev });
    for (const w of this.watchers) setImmediate(() => w.onEvent(structuredClone(ev)));
  }

  /** Send an event to the open watches only. */
  send(ev: WatchEvent): void {
    for (const w of this.watchers) setImmediate(() => w.onEvent(ev));
  }

  /** Close every open watch, as a server does at timeoutSeconds. */
  closeWatches(): void {
    for (const w of [...this.watchers]) {
      this.watchers.delete(w);
      setImmediate(() => w.end());
    }
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  async list(opts: ListOpts): Promise<KObject> {
    this.listCalls.push(opts);
    await sleep(1);
    const err = this.listErrors.shift();
    if (err) throw err;
    const all = [...this.objs.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    const start = opts.continue ? Number(opts.continue) : 0;
    const end = opts.limit ? start + opts.limit : all.length;
    const items = all.slice(start, end).map((o) => {
      const { kind: _k, apiVersion: _a, ...rest } = structuredClone(o);
      return rest;
    });
    return { kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rev), continue: end < all.length ? String(end) : undefined }, items };
  }

  watch(opts: WatchOpts, onEvent: (ev: WatchEvent) => void): WatchHandle {
    this.watchCalls.push(opts);
    const err = this.watchErrors.shift();
    if (err) return { done: Promise.reject(err), abort() {} };
    let end!: () => void;
    const done = new Promise<void>((r) => (end = r));
    const from = Number(opts.resourceVersion || this.rev);
    const w = {
      from,
      onEvent,
      end: () => {
        this.watchers.delete(w);
        end();
      },
    };
    if (from < this.compacted) {
      setImmediate(() => {
        onEvent({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: `too old resource version: ${from} (${this.compacted})` } });
        w.end();
      });
      return { done, abort: w.end };
    }
    const replay = this.history.filter((h) => h.rev > from).map((h) => structuredClone(h.ev));
    setImmediate(() => {
      for (const ev of replay) onEvent(ev);
      this.watchers.add(w);
    });
    return { done, abort: () => w.end() };
  }
}

/** Records handler calls as short strings. */
function recorder() {
  const calls: string[] = [];
  return {
    calls,
    handler: {
      onAdd: (o: KObject, initial: boolean) => calls.push(`add ${o.metadata.name}${initial ? ' (initial)' : ''}`),
      onUpdate: (a: KObject, b: KObject) => calls.push(`update ${b.metadata.name} ${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`),
      onDelete: (o: KObject | DeletedFinalStateUnknown) =>
        calls.push(o instanceof DeletedFinalStateUnknown ? `tombstone ${o.key}` : `delete ${o.metadata.name}`),
    },
  };
}

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

const fast = { backoffInitialMs: 5, backoffMaxMs: 20 };

test('The informer lists every page, syncs, then applies watch events to the cache and handlers in order.', async () => {
  const src = new FakeSource();
  for (const n of ['a', 'b', 'c', 'd', 'e']) src.put(n);
  const inf = new SharedInformer(src, { ...fast, pageSize: 2 });
  const r = recorder();
  inf.addEventHandler(r.handler);
  inf.start();
  assert.equal(await inf.waitForSync({ timeoutMs: 2000 }), true);
  assert.equal(src.listCalls.length, 3, 'five objects in pages of two');
  assert.deepEqual(src.listCalls.map((c) => c.continue), [undefined, '2', '4']);
  assert.equal(inf.lister.list().length, 5);
  assert.equal(inf.lister.get('default', 'a')?.kind, 'ConfigMap', 'list items get the kind of the list');
  assert.deepEqual(r.calls, ['add a (initial)', 'add b (initial)', 'add c (initial)', 'add d (initial)', 'add e (initial)']);
  assert.equal(inf.lastSyncResourceVersion(), '15');

  await until(() => src.openWatches === 1, 'a watch');
  const w = src.watchCalls[0]!;
  assert.equal(w.resourceVersion, '15');
  assert.equal(w.allowWatchBookmarks, true);
  assert.ok(w.timeoutSeconds! >= 300 && w.timeoutSeconds! < 600, `timeout ${w.timeoutSeconds}`);

  r.calls.length = 0;
  src.put('f');
  src.put('a', { data: { x: '1' } });
  src.remove('b');
  await until(() => r.calls.length === 3, 'three events');
  assert.deepEqual(r.calls, ['add f', 'update a 11->17', 'delete b']);
  assert.equal(inf.lister.get('default', 'a')?.data?.x, '1');
  assert.equal(inf.lister.get('default', 'b'), undefined);
  assert.equal(inf.lastSyncResourceVersion(), '18');
  await inf.stop();
  assert.equal(src.openWatches, 0, 'stop closes the watch');
});

test('A watch that ends is resumed from the last resourceVersion without a relist, and nothing is missed.', async () => {
  const src = new FakeSource();
  src.put('a');
  const inf = new SharedInformer(src, fast);
  const r = recorder();
  inf.addEventHandler(r.handler);
  inf.start();
  await until(() => src.openWatches === 1, 'a watch');
  src.put('b');
  await until(() => r.calls.includes('add b'), 'b');
  src.closeWatches();
  // Written while no watch was open: the resumed watch replays it.
  src.put('c');
  assert.equal(r.calls.includes('add c'), false);
  await until(() => r.calls.includes('add c'), 'c via the resumed watch');
  assert.equal(src.listCalls.length, 1);
  assert.equal(src.watchCalls.length, 2);
  assert.equal(src.watchCalls[1]!.resourceVersion, '12');
  await inf.stop();
});

test('Bookmarks advance the resourceVersion the next watch resumes from, without touching the cache.', async () => {
  const src = new FakeSource();
  src.put('a');
  const inf = new SharedInformer(src, fast);
  const r = recorder();
  inf.addEventHandler(r.handler);
  inf.start();
  await until(() => src.openWatches === 1, 'a watch');
  src.send({ type: 'BOOKMARK', object: { kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: '99' } } });
  await until(() => inf.lastSyncResourceVersion() === '99', 'the bookmark');
  assert.deepEqual(r.calls, ['add a (initial)']);
  src.closeWatches();
  await until(() => src.watchCalls.length === 2, 'a second watch');
  assert.equal(src.watchCalls[1]!.resourceVersion, '99');
  await inf.stop();
});

test('A 410 Gone, as a watch ERROR event or as the response, makes the informer relist and report missed deletions as tombstones.', async () => {
  for (const how of ['ERROR event', 'response'] as const) {
    const src = new FakeSource();
    src.put('keep');
    src.put('doomed');
    const inf = new SharedInformer(src, { ...fast, indexers: { [NODE_NAME_INDEX]: nodeNameIndexFunc } });
    const r = recorder();
    inf.addEventHandler(r.handler);
    inf.start();
    await until(() => src.openWatches === 1, 'a watch');
    r.calls.length = 0;

    // The informer is cut off while changes happen and the history is compacted away.
    inf.addEventHandler({}); // an empty handler registered late must not disturb anything
    src.closeWatches();
    src.remove('doomed');
    src.put('keep', { data: { v: '2' } });
    src.put('new', { spec: { nodeName: 'n1' } });
    src.compacted = src.rev;
    if (how === 'response') {
      src.watchErrors.push(
        new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' }),
      );
    }

    await until(() => src.listCalls.length === 2, `a relist after a 410 ${how}`);
    await until(() => r.calls.length === 3, 'the relist notifications');
    assert.deepEqual(r.calls.sort(), ['add new', 'tombstone default/doomed', 'update keep 11->14'], how);
    assert.equal(inf.stats.expired, 1, how);
    assert.deepEqual(inf.lister.list().map((o) => o.metadata.name).sort(), ['keep', 'new'], how);
    assert.deepEqual(inf.lister.byIndex(NODE_NAME_INDEX, 'n1').map((o) => o.metadata.name), ['new'], how);
    await until(() => src.openWatches === 1, 'a new watch');
    assert.equal(src.watchCalls.at(-1)!.resourceVersion, String(src.rev), `${how}: the new watch starts at the relist's version`);
    await inf.stop();
  }
});

test('An unreachable server is retried by watching again from the same resourceVersion, not by relisting.', async () => {
  const src = new FakeSource();
  src.put('a');
  const inf = new SharedInformer(src, fast);
  inf.start();
  await until(() => src.openWatches === 1, 'a watch');
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  src.watchErrors.push(refused, refused);
  src.closeWatches();
  await until(() => src.watchCalls.length === 4 && src.openWatches === 1, 'the watch to come back');
  assert.deepEqual(src.watchCalls.map((c) => c.resourceVersion), ['11', '11', '11', '11']);
  assert.equal(src.listCalls.length, 1);
  await inf.stop();
});

test('Other watch failures make the informer relist after a backoff.', async () => {
  const src = new FakeSource();
  src.put('a');
  const inf = new SharedInformer(src, fast);
  inf.start();
  await until(() => src.openWatches === 1, 'a watch');
  src.send({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 500, reason: 'InternalError', message: 'boom' } });
  await until(() => src.listCalls.length === 2, 'a relist');
  assert.equal(inf.stats.errors, 1);
  assert.equal(inf.stats.expired, 0);
  await inf.stop();
});

test('A failing list is retried; waitForSync reports false on timeout, then true once a list succeeds.', async () => {
  const src = new FakeSource();
  src.put('a');
  const boom = new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 503, message: 'unavailable' });
  src.listErrors.push(boom, boom, boom);
  const inf = new SharedInformer(src, { backoffInitialMs: 20, backoffMaxMs: 40 });
  inf.start();
  assert.equal(await inf.waitForSync({ timeoutMs: 10 }), false);
  assert.equal(inf.hasSynced(), false);
  assert.equal(await inf.waitForSync({ timeoutMs: 2000 }), true);
  assert.equal(src.listCalls.length, 4);
  await inf.stop();
});

test('A continue token that expires mid-list falls back to one unpaginated list.', async () => {
  const src = new FakeSource();
  for (const n of ['a', 'b', 'c']) src.put(n);
  const orig = src.list.bind(src);
  src.list = async (opts) => {
    if (opts.continue) {
      src.listCalls.push(opts);
      throw new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 410, reason: 'Expired', message: 'continue expired' });
    }
    return orig(opts);
  };
  const inf = new SharedInformer(src, { ...fast, pageSize: 2 });
  inf.start();
  assert.equal(await inf.waitForSync({ timeoutMs: 2000 }), true);
  assert.deepEqual(
    src.listCalls.map((c) => [c.limit, c.continue]),
    [
      [2, undefined],
      [2, '2'],
      [undefined, undefined],
    ],
  );
  assert.equal(inf.lister.list().length, 3);
  await inf.stop();
});

test('A handler added to a running informer is replayed the cached objects; removed handlers hear nothing more.', async () => {
  const src = new FakeSource();
  src.put('a');
  src.put('b');
  const inf = new SharedInformer(src, fast);
  inf.start();
  await inf.waitForSync();
  const late = recorder();
  const reg = inf.addEventHandler(late.handler);
  assert.equal(reg.hasSynced(), true);
  assert.deepEqual(late.calls.sort(), ['add a (initial)', 'add b (initial)']);
  await until(() => src.openWatches === 1, 'a watch');
  reg.remove();
  src.put('c');
  await until(() => inf.lister.get('default', 'c') !== undefined, 'c');
  assert.equal(late.calls.length, 2);
  await inf.stop();
});

test('A throwing handler does not stop the cache or the other handlers.', async () => {
  const src = new FakeSource();
  const inf = new SharedInformer(src, fast);
  inf.addEventHandler({
    onAdd: () => {
      throw new Error('handler bug');
    },
  });
  const r = recorder();
  inf.addEventHandler(r.handler);
  inf.start();
  await until(() => src.openWatches === 1, 'a watch');
  src.put('a');
  src.put('b');
  await until(() => r.calls.length === 2, 'both adds');
  assert.equal(inf.lister.list().length, 2);
  await inf.stop();
});

test('Periodic resync re-delivers every cached object as an update with the same object.', async () => {
  const src = new FakeSource();
  src.put('a');
  const inf = new SharedInformer(src, { ...fast, resyncPeriodMs: 20 });
  const r = recorder();
  inf.addEventHandler(r.handler);
  const quiet = recorder();
  inf.addEventHandler(quiet.handler, { resyncPeriodMs: 0 });
  inf.start();
  await until(() => r.calls.filter((c) => c === 'update a 11->11').length >= 2, 'two resyncs');
  assert.deepEqual(quiet.calls, ['add a (initial)'], 'a handler can opt out of resync');
  await inf.stop();
  const n = r.calls.length;
  await sleep(50);
  assert.equal(r.calls.length, n, 'no resync after stop');
});

test('A test hook can start the next watch from a stale resourceVersion, which leads to a relist.', async () => {
  const src = new FakeSource();
  src.put('a');
  const inf = new SharedInformer(src, fast);
  inf.start();
  await until(() => src.openWatches === 1, 'a watch');
  src.compacted = 5;
  inf.nextWatchResourceVersion = '1';
  src.closeWatches();
  await until(() => src.listCalls.length === 2, 'a relist');
  assert.equal(src.watchCalls[1]!.resourceVersion, '1');
  await inf.stop();
});

test('isResourceExpired recognises 410 Gone and the Expired reason only.', () => {
  const st = (code: number, reason?: string) => new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, reason });
  const table: [unknown, boolean][] = [
    [st(410, 'Expired'), true],
    [st(410), true],
    [st(500, 'Expired'), true],
    [st(500, 'InternalError'), false],
    [new Error('x'), false],
  ];
  for (const [e, want] of table) assert.equal(isResourceExpired(e), want);
});
