import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteBackend } from './sqlite-backend.js';

const size = (p: string) => {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
};

test('WAL checkpoints run in a worker thread: the commit path never checkpoints, yet the database file takes the writes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'k8ts-ckpt-'));
  const path = join(dir, 'state.db');
  const b = SqliteBackend.open({ path });
  try {
    // The writer's own connection never checkpoints (no fsync of the database inside a commit).
    assert.equal((b as any).db.pragma('wal_autocheckpoint', { simple: true }), 0);
    const before = size(path);
    const value = 'v'.repeat(1000);
    // ~2 MB: below SQLite's own automatic threshold (1000 pages, ~4 MB), so only the worker copies it.
    await Promise.all(Array.from({ length: 2000 }, (_, i) => b.create(`/registry/configmaps/default/c-${i}`, `${value}${i}`)));
    const deadline = Date.now() + 10_000;
    while (size(path) < before + 2_000_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(size(path) >= before + 2_000_000, `database file ${size(path)} bytes after the writes (was ${before}): not checkpointed`);
    // Everything is readable from another connection, and from the backend.
    const other = new Database(path, { readonly: true });
    try {
      assert.equal((other.prepare('SELECT count(*) FROM log').pluck().get() as number) >= 2000, true);
    } finally {
      other.close();
    }
    assert.equal((await b.get('/registry/configmaps/default/c-1999')).kv?.value, `${value}1999`);
    await b.close();
    // The last connection's close checkpoints and removes the WAL, as before.
    assert.equal(size(`${path}-wal`), 0);
  } finally {
    await b.close();
    await rm(dir, { recursive: true, force: true });
  }
});
