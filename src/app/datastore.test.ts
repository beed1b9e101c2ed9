import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { SqliteBackend } from '../storage/sqlite/sqlite-backend.js';
import type { Backend } from '../storage/interface.js';
import { assertSqliteNotInUse, checkDump, DatastoreFormatError, exportDatastore, importDatastore, openDatastore } from './datastore.js';

const mem = () => SqliteBackend.open({ path: ':memory:' });

async function dump(b: Backend, opts: Parameters<typeof exportDatastore>[2] = {}): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await exportDatastore(b, out, opts);
  out.end();
  return Buffer.concat(chunks).toString('utf8');
}

async function all(b: Backend): Promise<Record<string, string>> {
  const r = await b.list('');
  return Object.fromEntries(r.kvs.map((kv) => [kv.key, kv.value]));
}

const sample: Record<string, string> = {
  '/k8ts/bootstrap': '{"v":1}',
  '/registry/configmaps/default/a': '{"data":{"x":"line one\\nline two"}}',
  '/registry/configmaps/default/ünïcødé-☃': '{"emoji":"🚀","nul":"\\u0000"}',
  '/registry/k8ts/serviceips/10.43.0.5': 'default/web',
  '/registry/secrets/default/s': 'k8s:enc:aescbc:v1:key1:QUJD',
  '/registry/pods/default/p': 'a value with "quotes" and \\ backslashes\n and a newline',
};

async function seeded(): Promise<SqliteBackend> {
  const b = mem();
  for (const [k, v] of Object.entries(sample)) await b.create(k, v);
  // History the dump must not carry: an updated key and a deleted one.
  const kv = await b.get('/registry/configmaps/default/a');
  await b.update('/registry/configmaps/default/a', sample['/registry/configmaps/default/a']!, kv.kv!.modRevision);
  await b.create('/registry/gone', 'x');
  await b.delete('/registry/gone');
  return b;
}

describe('datastore dump format', () => {
  it('a dump round-trips every key and value exactly, across pages, with a header naming the count and revision', async () => {
    const src = await seeded();
    const text = await dump(src, { pageSize: 2, source: 'sqlite' });
    const lines = text.trimEnd().split('\n');
    const header = JSON.parse(lines[0]!);
    assert.equal(header.format, 'k8ts-datastore');
    assert.equal(header.version, 1);
    assert.equal(header.keys, Object.keys(sample).length);
    assert.equal(header.revision, await src.currentRevision());
    assert.equal(header.source, 'sqlite');
    assert.equal(lines.length, 1 + Object.keys(sample).length, 'one line per key, values with newlines stay on one line');

    const dst = mem();
    const r = await importDatastore(dst, Readable.from([text]));
    assert.equal(r.keys, Object.keys(sample).length);
    assert.deepEqual(await all(dst), sample);
    // Revisions are the target's own: a fresh store numbers the keys 1..N.
    assert.equal(await dst.currentRevision(), Object.keys(sample).length);
    await src.close();
    await dst.close();
  });

  it('export and import report progress up to the total', async () => {
    const src = await seeded();
    const seenOut: [number, number][] = [];
    const text = await dump(src, { pageSize: 4, onProgress: (d, t) => seenOut.push([d, t]) });
    const n = Object.keys(sample).length;
    assert.deepEqual(seenOut, [[4, n], [n, n]]);
    const seenIn: [number, number][] = [];
    const dst = mem();
    await importDatastore(dst, Readable.from([text]), { onProgress: (d, t) => seenIn.push([d, t]) });
    assert.deepEqual(seenIn.at(0), [0, n]);
    assert.deepEqual(seenIn.at(-1), [n, n]);
    await src.close();
    await dst.close();
  });

  it('an empty store exports a header with zero keys, which imports into an empty store', async () => {
    const src = mem();
    const text = await dump(src);
    assert.equal(JSON.parse(text.split('\n')[0]!).keys, 0);
    const dst = mem();
    assert.equal((await importDatastore(dst, Readable.from([text]))).keys, 0);
    await src.close();
    await dst.close();
  });

  it('importing into a store that holds keys is refused, and nothing is written', async () => {
    const src = await seeded();
    const text = await dump(src);
    const dst = mem();
    await dst.create('/registry/configmaps/default/other', 'keep me');
    await assert.rejects(importDatastore(dst, Readable.from([text])), /target store is not empty \(1 keys\).*--overwrite/);
    assert.deepEqual(await all(dst), { '/registry/configmaps/default/other': 'keep me' });
    await src.close();
    await dst.close();
  });

  it('overwrite replaces existing keys and deletes keys the dump lacks, so the store equals the dump', async () => {
    const src = await seeded();
    const text = await dump(src);
    const dst = mem();
    await dst.create('/registry/configmaps/default/a', 'old value');
    await dst.create('/registry/configmaps/default/stale', 'only in the target');
    const r = await importDatastore(dst, Readable.from([text]), { overwrite: true });
    assert.equal(r.replaced, 1);
    assert.equal(r.deleted, 1);
    assert.deepEqual(await all(dst), sample);
    await src.close();
    await dst.close();
  });

  const bad: { name: string; text: string; error: RegExp; line: number }[] = [
    { name: 'An empty input has no header.', text: '', error: /line 1: the dump is empty/, line: 1 },
    { name: 'A header of another format is refused.', text: '{"format":"other","version":1,"revision":1,"keys":0}\n', error: /line 1: not a k8ts-datastore dump/, line: 1 },
    { name: 'A newer format version is refused.', text: '{"format":"k8ts-datastore","version":2,"revision":1,"keys":0}\n', error: /line 1: unsupported k8ts-datastore version 2/, line: 1 },
    {
      name: 'A line that is not JSON names its line number.',
      text: '{"format":"k8ts-datastore","version":1,"revision":3,"keys":2}\n{"key":"/a","value":"1"}\n{"key":"/b","val\n',
      error: /line 3: not JSON/,
      line: 3,
    },
    {
      name: 'A line whose value is not a string names its line number.',
      text: '{"format":"k8ts-datastore","version":1,"revision":3,"keys":2}\n{"key":"/a","value":1}\n{"key":"/b","value":"2"}\n',
      error: /line 2: "value" of \/a must be a string/,
      line: 2,
    },
    {
      name: 'A key that does not start with a slash names its line number.',
      text: '{"format":"k8ts-datastore","version":1,"revision":3,"keys":1}\n{"key":"registry/a","value":"1"}\n',
      error: /line 2: "key" must be a string starting with \//,
      line: 2,
    },
    {
      name: 'A dump cut short of its header\'s key count is reported as truncated.',
      text: '{"format":"k8ts-datastore","version":1,"revision":3,"keys":3}\n{"key":"/a","value":"1"}\n',
      error: /ends after 1 of the header's 3 keys \(truncated\?\)/,
      line: 3,
    },
    {
      name: 'More key lines than the header announces are refused.',
      text: '{"format":"k8ts-datastore","version":1,"revision":3,"keys":1}\n{"key":"/a","value":"1"}\n{"key":"/b","value":"2"}\n',
      error: /line 3: more key lines than the header's 1/,
      line: 3,
    },
  ];
  for (const t of bad) {
    it(t.name, async () => {
      await assert.rejects(checkDump(Readable.from([t.text])), (e: unknown) => {
        assert.ok(e instanceof DatastoreFormatError);
        assert.equal(e.line, t.line);
        assert.match(e.message, t.error);
        return true;
      });
      const dst = mem();
      await assert.rejects(importDatastore(dst, Readable.from([t.text])), t.error);
      await dst.close();
    });
  }

  it('checking a dump catches a duplicate key before anything is written; importing one fails naming the line', async () => {
    const text = '{"format":"k8ts-datastore","version":1,"revision":3,"keys":2}\n{"key":"/a","value":"1"}\n{"key":"/a","value":"2"}\n';
    await assert.rejects(checkDump(Readable.from([text])), /line 3: duplicate key \/a/);
    const dst = mem();
    await assert.rejects(importDatastore(dst, Readable.from([text]), { concurrency: 1 }), /line 3: duplicate key \/a/);
    await dst.close();
  });

  it('a SQLite database that a backend has open is refused as in use, and free again once closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-ds-unit-'));
    try {
      const path = join(dir, 'db', 'state.db');
      await assert.rejects(openDatastore({ kind: 'sqlite', path }), /no k8ts database at/);
      const created = await openDatastore({ kind: 'sqlite', path, create: true });
      await created.create('/registry/x', '1');
      assert.throws(() => assertSqliteNotInUse(path), /is in use \(is a k8ts server running on this data dir\?\)/);
      await assert.rejects(openDatastore({ kind: 'sqlite', path }), /is in use/);
      await created.close();
      assertSqliteNotInUse(path);
      const again = await openDatastore({ kind: 'sqlite', path });
      assert.equal(await again.count(''), 1);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('import refuses a store that a k8ts server is using', () => {
  const T = Date.parse('2026-01-01T00:00:00Z');
  const leaseKey = (name: string) => `/registry/coordination.k8s.io/leases/kube-system/${name}`;
  const lease = (name: string, renewTime: string, extra: Record<string, any> = {}) =>
    JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: 'kube-system', labels: { 'apiserver.kubernetes.io/identity': 'kube-apiserver' }, annotations: { 'k8ts.io/advertise-address': '192.0.2.9', 'k8ts.io/advertise-port': '6443' }, ...extra },
      spec: { holderIdentity: `${name}_1234`, leaseDurationSeconds: 15, renewTime },
    });
  const emptyDump = () => Readable.from(['{"format":"k8ts-datastore","version":1,"revision":1,"keys":0}\n']);

  const cases: { name: string; keys: Record<string, string>; refused: RegExp | undefined }[] = [
    { name: 'a lease renewed 5 s ago is live: refused, naming the lease, holder, address and expiry', keys: { [leaseKey('apiserver-live')]: lease('apiserver-live', '2025-12-31T23:59:55.000000Z') }, refused: /1 live API server lease\):\n {2}lease kube-system\/apiserver-live \(holder apiserver-live_1234, advertising 192\.0\.2\.9:6443\): renewed 5s ago, expires in 10s\n.*pass --force/ },
    { name: 'a lease renewed 16 s ago has expired: allowed', keys: { [leaseKey('apiserver-dead')]: lease('apiserver-dead', '2025-12-31T23:59:44.000000Z') }, refused: undefined },
    { name: 'a lease that cannot be read (encrypted at rest) counts as live', keys: { [leaseKey('apiserver-enc')]: 'k8s:enc:aescbc:v1:key1:QUJD' }, refused: /lease kube-system\/apiserver-enc: cannot be read/ },
    { name: 'other leases in kube-system (leader election) do not count', keys: { [leaseKey('kube-scheduler')]: lease('kube-scheduler', '2025-12-31T23:59:59.000000Z') }, refused: undefined },
    { name: 'a lease named like a server but without the identity label does not count', keys: { [leaseKey('apiserver-x')]: lease('apiserver-x', '2025-12-31T23:59:59.000000Z', { labels: {} }) }, refused: undefined },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const b = mem();
      try {
        for (const [k, v] of Object.entries(c.keys)) await b.create(k, v);
        const run = importDatastore(b, emptyDump(), { overwrite: true, now: () => T });
        if (c.refused) {
          await assert.rejects(run, (e: Error) => {
            assert.equal(e.name, 'LiveServersError');
            assert.match(e.message, c.refused!);
            return true;
          });
          // Nothing was touched.
          assert.deepEqual(Object.keys(await all(b)), Object.keys(c.keys));
        } else {
          const r = await run;
          assert.equal(r.deleted, Object.keys(c.keys).length);
        }
      } finally {
        await b.close();
      }
    });
  }

  it('--force imports despite a live lease', async () => {
    const b = mem();
    try {
      await b.create(leaseKey('apiserver-live'), lease('apiserver-live', '2025-12-31T23:59:55.000000Z'));
      const r = await importDatastore(b, emptyDump(), { overwrite: true, force: true, now: () => T });
      assert.equal(r.deleted, 1);
      assert.deepEqual(await all(b), {});
    } finally {
      await b.close();
    }
  });
});
