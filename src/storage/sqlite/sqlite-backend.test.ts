import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { KeyValue, WatchEvent } from '../interface.js';
import { runBackendConformance } from '../testing/conformance.js';
import { SqliteBackend, type SqliteBackendOptions } from './sqlite-backend.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');

runBackendConformance('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'k8ts-sqlite-'));
  // A small ring makes watches replay from SQLite, not only from memory.
  const opts: SqliteBackendOptions = { path: join(dir, 'db.sqlite'), watchBufferLimit: 500, watchRingSize: 64, progressNotifyIntervalMs: 50 };
  let backend = SqliteBackend.open(opts);
  return {
    backend,
    watchBufferLimit: 500,
    reopen: async () => (backend = SqliteBackend.open(opts)),
    cleanup: async () => {
      await backend.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const value = (n: number | string) => JSON.stringify({ n, pad: 'p'.repeat(200) });

describe('SqliteBackend specifics', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'k8ts-sqlite-x-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Log rows on disk, read through a second connection. */
  const logRows = (path: string) => {
    const db = new Database(path, { readonly: true });
    try {
      return db.prepare('SELECT count(*) FROM log').pluck().get() as number;
    } finally {
      db.close();
    }
  };

  it('Every create acknowledged before a kill -9 is present after reopening.', async () => {
    const path = join(dir, 'kill.sqlite');
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'testdata', 'write-until-killed.ts'), path, '16'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
    try {
      const deadline = Date.now() + 15_000;
      // Kill mid-stream, once a good number of writes have been acknowledged.
      while (out.split('\n').length < 3000) {
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`child did not write enough: ${err}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    }
    assert.equal(await exited, 'SIGKILL');

    const lines = out.split('\n');
    lines.pop(); // a partial last line was not fully printed
    const acked = lines.map((l) => {
      const [key, rev] = l.split(' ');
      return { key: key!, rev: Number(rev) };
    });
    assert.ok(acked.length >= 3000);

    const b = SqliteBackend.open({ path });
    try {
      const missing: string[] = [];
      for (const { key, rev } of acked) {
        const kv = (await b.get(key)).kv;
        if (!kv || kv.modRevision !== rev) missing.push(key);
      }
      assert.deepEqual(missing, [], 'acknowledged keys lost by kill -9');
      const maxAcked = Math.max(...acked.map((a) => a.rev));
      assert.ok((await b.currentRevision()) >= maxAcked);
      assert.ok((await b.count('/kill/')) >= acked.length);
      assert.ok((await b.create('/kill/after', value(0))).modRevision > maxAcked);
    } finally {
      await b.close();
    }
  });

  it('A large compaction runs in small steps, so writers are never stalled for long.', async () => {
    const path = join(dir, 'compact.sqlite');
    const b = SqliteBackend.open({ path, compactBatchSize: 500 });
    try {
      let kvs: KeyValue[] = await Promise.all(Array.from({ length: 200 }, (_, i) => b.create(`/c/${i}`, value(i))));
      for (let round = 1; round < 100; round++) {
        kvs = await Promise.all(kvs.map((kv) => b.update(kv.key, value(round), kv.modRevision)));
      }
      const head = await b.currentRevision();
      assert.equal(logRows(path), 20_000);

      let done = false;
      let maxLatency = 0;
      let writesDuringCompaction = 0;
      const compaction = b.compact(head).then(() => (done = true));
      for (let i = 0; !done; i++) {
        const t0 = performance.now();
        await b.create(`/w/${i}`, value(i));
        maxLatency = Math.max(maxLatency, performance.now() - t0);
        if (!done) writesDuringCompaction++;
      }
      await compaction;
      // One monolithic delete would let no write through until it finished.
      assert.ok(writesDuringCompaction >= 5, `only ${writesDuringCompaction} writes completed during compaction`);
      assert.ok(maxLatency < 500, `a write waited ${maxLatency.toFixed(1)} ms`);
      assert.equal(logRows(path), 200 + writesDuringCompaction + 1);
      const latest = await b.list('/c/');
      assert.deepEqual(latest.kvs, [...kvs].sort((x, y) => (x.key < y.key ? -1 : 1)));
    } finally {
      await b.close();
    }
  });

  it('A compaction interrupted by close is finished after reopening.', async () => {
    const path = join(dir, 'resume.sqlite');
    const opts = { path, compactBatchSize: 100 };
    let b = SqliteBackend.open(opts);
    let kv = await b.create('/r/k', value(0));
    for (let i = 1; i < 2000; i++) kv = await b.update('/r/k', value(i), kv.modRevision);
    const compaction = b.compact(kv.modRevision);
    await b.close();
    await compaction;
    assert.ok(logRows(path) > 1000, 'close should have interrupted the compaction');

    b = SqliteBackend.open(opts);
    try {
      assert.equal(await b.compactedRevision(), kv.modRevision);
      const deadline = Date.now() + 5000;
      while (logRows(path) > 1) {
        assert.ok(Date.now() < deadline, 'the compaction did not resume');
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.deepEqual((await b.get('/r/k')).kv, kv);
    } finally {
      await b.close();
    }
  });

  it('A watch replaying a long history from the database sees exactly the events under its prefix.', async () => {
    const b = SqliteBackend.open({ path: join(dir, 'replay.sqlite'), watchRingSize: 16 });
    try {
      const start = await b.currentRevision();
      const wanted: number[] = [];
      for (let round = 0; round < 30; round++) {
        const kvs = await Promise.all(
          Array.from({ length: 100 }, (_, i) => b.create(`/${i % 7 === 0 ? 'y' : 'x'}/${round}-${i}`, value(i))),
        );
        wanted.push(...kvs.filter((kv) => kv.key.startsWith('/y/')).map((kv) => kv.modRevision));
      }
      const got: WatchEvent[] = [];
      const w = b.watch('/y/', { afterRevision: start }, { onEvents: (e) => got.push(...e), onClose: () => {} });
      const last = await b.create('/y/last', value('last'));
      wanted.push(last.modRevision);
      const deadline = Date.now() + 5000;
      while (got.length < wanted.length) {
        assert.ok(Date.now() < deadline, `saw ${got.length} of ${wanted.length} events`);
        await new Promise((r) => setTimeout(r, 5));
      }
      w.cancel();
      assert.deepEqual(
        got.map((e) => e.kv.modRevision),
        wanted.sort((x, y) => x - y),
      );
    } finally {
      await b.close();
    }
  });

  it('Auto-compaction keeps only the configured window of recent revisions.', async () => {
    const b = SqliteBackend.open({ path: join(dir, 'auto.sqlite'), compactIntervalMs: 20, compactKeepRevisions: 50 });
    try {
      let kv = await b.create('/a/k', value(0));
      for (let i = 1; i < 300; i++) kv = await b.update('/a/k', value(i), kv.modRevision);
      const deadline = Date.now() + 5000;
      while ((await b.compactedRevision()) !== kv.modRevision - 50) {
        assert.ok(Date.now() < deadline, `compacted revision ${await b.compactedRevision()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.deepEqual((await b.get('/a/k')).kv, kv);
    } finally {
      await b.close();
    }
  });

  // Reads and CAS checks at the head are served from memory for recent keys: they must agree with
  // what a fresh connection reads from the file, over more keys than are kept in memory.
  it('Reads at the head agree with the database after creates, updates and deletes of many keys.', async () => {
    const path = join(dir, 'heads.sqlite');
    const b = SqliteBackend.open({ path });
    const model = new Map<string, KeyValue>();
    try {
      const n = 5000;
      const created = await Promise.all(Array.from({ length: n }, (_, i) => b.create(`/h/${i}`, value(i))));
      for (const kv of created) model.set(kv.key, kv);
      // Updates in one group: each CAS check sees the ops before it in the same transaction.
      const k = '/h/7';
      const first = b.update(k, value('x'), model.get(k)!.modRevision);
      const stale = b.update(k, value('y'), model.get(k)!.modRevision);
      model.set(k, await first);
      await assert.rejects(stale, /conflict|modified|revision/i);
      for (let i = 0; i < n; i += 7) {
        const key = `/h/${i}`;
        if (i % 2) model.set(key, await b.update(key, value(`u${i}`), model.get(key)!.modRevision));
        else {
          await b.delete(key, model.get(key)!.modRevision);
          model.delete(key);
        }
      }
      await assert.rejects(b.update('/h/0', value('gone'), 1), /not found/i);
      const disk = new Database(path, { readonly: true });
      try {
        const row = disk.prepare('SELECT c.rev AS rev, l.value AS value FROM current c JOIN log l ON l.rev = c.rev WHERE c.key = ?');
        for (let i = 0; i < n; i++) {
          const key = `/h/${i}`;
          const got = (await b.get(key)).kv;
          assert.deepEqual(got, model.get(key), key);
          const r = row.get(key) as { rev: number; value: string } | undefined;
          assert.deepEqual(r && { rev: r.rev, value: r.value }, got && { rev: got.modRevision, value: got.value }, key);
        }
      } finally {
        disk.close();
      }
    } finally {
      await b.close();
    }
  });

  it('A group commit that rolls back leaves reads at the head on the values before it.', async () => {
    const b = SqliteBackend.open({ path: join(dir, 'rollback.sqlite') });
    try {
      const a = await b.create('/r/a', value('a'));
      assert.equal((await b.get('/r/a')).kv?.value, value('a'));
      // Same turn, one transaction: the update applies, then a NULL value fails the insert and
      // the whole group rolls back.
      const upd = b.update('/r/a', value('b'), a.modRevision);
      const bad = b.create('/r/b', null as unknown as string);
      await assert.rejects(upd);
      await assert.rejects(bad);
      assert.deepEqual((await b.get('/r/a')).kv, a);
      assert.equal((await b.get('/r/b')).kv, undefined);
      const again = await b.update('/r/a', value('c'), a.modRevision);
      assert.equal((await b.get('/r/a')).kv?.value, value('c'));
      assert.equal(again.modRevision, a.modRevision + 1);
    } finally {
      await b.close();
    }
  });
});
