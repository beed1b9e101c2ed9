import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuditWriter } from './writer.js';

describe('audit log writer', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'k8ts-audit-writer-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('Lines are appended after existing content, in order, and all are on disk once close resolves.', async () => {
    const path = join(dir, 'a.log');
    await writeFile(path, 'earlier\n');
    const w = new AuditWriter({ path });
    for (let i = 0; i < 5000; i++) {
      w.write(`{"n":${i}}`);
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    await w.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    assert.equal(lines.at(-1), '', 'the file ends with a newline');
    assert.equal(lines[0], 'earlier');
    assert.deepEqual(lines.slice(1, -1).map((l) => JSON.parse(l).n), Array.from({ length: 5000 }, (_, i) => i));
    assert.equal(w.dropped, 0);
  });

  it('Writes after close, or beyond the pending-bytes limit, are dropped and counted instead of throwing.', async () => {
    const w = new AuditWriter({ path: join(dir, 'b.log'), maxPendingBytes: 0 });
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 50; i++) {
      w.write(big);
      await new Promise((r) => setImmediate(r));
    }
    await w.close();
    w.write('late');
    assert.ok(w.dropped >= 1, `dropped ${w.dropped}`);
    const written = (await readFile(join(dir, 'b.log'), 'utf8')).split('\n').filter(Boolean).length;
    assert.equal(written + w.dropped, 51);
  });

  it('A log that cannot be opened fails at construction, naming the path.', () => {
    assert.throws(() => new AuditWriter({ path: join(dir, 'missing', 'c.log') }), /ENOENT.*missing\/c\.log/);
  });
});
