import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { validatePayloadPath, writeAtomic, type Payload } from './atomic-writer.js';

const root = mkdtempSync(path.join(tmpdir(), 'k8ts-aw-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(root, `v${n++}`);
const payload = (o: Record<string, [string, number]>): Payload => new Map(Object.entries(o).map(([k, [d, m]]) => [k, { data: Buffer.from(d), mode: m }]));

describe('writeAtomic', () => {
  it('lays files out as a timestamped directory, a ..data symlink and per-name symlinks', async () => {
    const dir = fresh();
    assert.equal(await writeAtomic(dir, payload({ a: ['A', 0o644], 'sub/b': ['B', 0o400] })), true);
    const ts = readlinkSync(path.join(dir, '..data'));
    assert.match(ts, /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\w+$/);
    assert.equal(readlinkSync(path.join(dir, 'a')), '..data/a');
    assert.equal(readlinkSync(path.join(dir, 'sub')), '..data/sub');
    assert.equal(readFileSync(path.join(dir, 'sub/b'), 'utf8'), 'B');
    assert.equal(statSync(path.join(dir, 'a')).mode & 0o777, 0o644);
    assert.equal(statSync(path.join(dir, 'sub/b')).mode & 0o777, 0o400);
    assert.deepEqual(readdirSync(dir).sort(), ['..data', ts, 'a', 'sub'].sort());
  });

  it('does nothing when the payload is unchanged', async () => {
    const dir = fresh();
    await writeAtomic(dir, payload({ a: ['A', 0o644] }));
    const ts = readlinkSync(path.join(dir, '..data'));
    assert.equal(await writeAtomic(dir, payload({ a: ['A', 0o644] })), false);
    assert.equal(readlinkSync(path.join(dir, '..data')), ts);
  });

  it('swaps to a new version, removing the old directory and the names that went away', async () => {
    const dir = fresh();
    await writeAtomic(dir, payload({ a: ['A', 0o644], gone: ['G', 0o644] }));
    const old = readlinkSync(path.join(dir, '..data'));
    // A reader holding the old path keeps working until the swap; afterwards it sees the new data.
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(await writeAtomic(dir, payload({ a: ['A2', 0o644], c: ['C', 0o644] })), true);
    const cur = readlinkSync(path.join(dir, '..data'));
    assert.notEqual(cur, old);
    assert.equal(readFileSync(path.join(dir, 'a'), 'utf8'), 'A2');
    assert.deepEqual(readdirSync(dir).sort(), ['..data', cur, 'a', 'c'].sort());
  });

  it('rewrites when only a mode changed', async () => {
    const dir = fresh();
    await writeAtomic(dir, payload({ a: ['A', 0o644] }));
    assert.equal(await writeAtomic(dir, payload({ a: ['A', 0o600] })), true);
    assert.equal(statSync(path.join(dir, 'a')).mode & 0o777, 0o600);
  });

  it('keeps every read consistent while versions swap', async () => {
    const dir = fresh();
    await writeAtomic(dir, payload({ x: ['0', 0o644], y: ['0', 0o644] }));
    let stop = false;
    const torn: string[] = [];
    const reader = (async () => {
      while (!stop) {
        // Reading both through one resolved ..data gives a consistent pair.
        const ts = readlinkSync(path.join(dir, '..data'));
        try {
          const x = readFileSync(path.join(dir, ts, 'x'), 'utf8');
          const y = readFileSync(path.join(dir, ts, 'y'), 'utf8');
          if (x !== y) torn.push(`${x}/${y}`);
        } catch {
          // Only legitimate if that version was removed after ..data moved on.
          if (readlinkSync(path.join(dir, '..data')) === ts) torn.push(`missing in current ${ts}`);
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 1; i <= 20; i++) await writeAtomic(dir, payload({ x: [String(i), 0o644], y: [String(i), 0o644] }));
    stop = true;
    await reader;
    assert.deepEqual(torn, []);
    assert.equal(readFileSync(path.join(dir, 'x'), 'utf8'), '20');
  });

  const bad: [string, string][] = [
    ['/abs', 'invalid path: must be relative path: /abs'],
    ['..x', "invalid path: must not start with '..': ..x"],
    ['a/../b', "invalid path: must not contain '..': a/../b"],
  ];
  for (const [p, msg] of bad) {
    it(`rejects the payload path ${p}`, async () => {
      assert.throws(() => validatePayloadPath(p), { message: msg });
      await assert.rejects(writeAtomic(fresh(), payload({ [p]: ['x', 0o644] })), { message: msg });
    });
  }
});
