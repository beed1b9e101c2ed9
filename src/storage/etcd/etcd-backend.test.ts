import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CompactedError } from '../interface.js';
import { runBackendConformance } from '../testing/conformance.js';
import { EtcdBackend } from './etcd-backend.js';
import { EtcdProcess, etcdBinary, freePort, haveEtcd } from '../testing/etcd-process.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

if (!haveEtcd) {
  console.error(
    `\n*** SKIPPING the etcd storage backend tests: no '${etcdBinary}' binary (install etcd-server, or set ETCD_BIN). ***\n`,
  );
  describe('EtcdBackend', () => {
    it('needs an etcd binary to run against.', (t) => {
      t.skip(`no '${etcdBinary}' binary: install etcd-server or set ETCD_BIN`);
    });
  });
} else {
  const etcd = new EtcdProcess();
  before(() => etcd.start());
  after(() => etcd.stop());

  let n = 0;
  runBackendConformance('etcd', async () => {
    // A fresh key prefix per test: the tests share one etcd (and its revision counter) but not keys.
    const opts = { endpoints: [etcd.endpoint], prefix: `/conformance/${String(++n).padStart(4, '0')}`, watchBufferLimit: 300 };
    let backend = await EtcdBackend.open(opts);
    return {
      backend,
      watchBufferLimit: 300,
      reopen: async () => (backend = await EtcdBackend.open(opts)),
      cleanup: () => backend.close(),
    };
  });

  describe('EtcdBackend specifics', () => {
    it('Keys are stored under the configured prefix and the prefix is invisible to the caller.', async () => {
      const a = await EtcdBackend.open({ endpoints: [etcd.endpoint], prefix: '/specifics/a' });
      const raw = await EtcdBackend.open({ endpoints: [etcd.endpoint] });
      try {
        const kv = await a.create('/registry/pods/default/web', '{"kind":"Pod"}');
        assert.equal(kv.key, '/registry/pods/default/web');
        assert.deepEqual((await raw.get('/specifics/a/registry/pods/default/web')).kv, { ...kv, key: '/specifics/a/registry/pods/default/web' });
        assert.deepEqual(
          (await a.list('/registry/')).kvs.map((x) => x.key),
          ['/registry/pods/default/web'],
        );
        assert.equal(await raw.count('/specifics/a/'), 1);
      } finally {
        await a.close();
        await raw.close();
      }
    });

    it('A list larger than gRPC\'s default 4 MiB message cap comes back whole.', async () => {
      const b = await EtcdBackend.open({ endpoints: [etcd.endpoint], prefix: '/specifics/big' });
      try {
        const value = 'x'.repeat(100_000);
        for (let i = 0; i < 60; i++) await b.create(`/registry/configmaps/big/${String(i).padStart(3, '0')}`, value);
        const l = await b.list('/registry/configmaps/');
        assert.equal(l.kvs.length, 60);
        assert.equal(l.kvs[59].value.length, 100_000);
      } finally {
        await b.close();
      }
    });

    it('Cancelling many watches in a row leaves the client usable.', async () => {
      const b = await EtcdBackend.open({ endpoints: [etcd.endpoint], prefix: '/specifics/cancel' });
      try {
        for (let i = 0; i < 8; i++) {
          let created = false;
          const w = b.watch('/k/', { afterRevision: await b.currentRevision() }, { onEvents: () => (created = true), onClose: () => {} });
          await b.create(`/k/${i}`, '{}');
          const deadline = Date.now() + 5000;
          while (!created && Date.now() < deadline) await sleep(5);
          assert.ok(created, `watch ${i} saw its event`);
          w.cancel();
        }
        // The etcd3 client counts failed streams towards a circuit breaker: a plain read must still work.
        assert.equal(await b.count('/k/'), 8);
      } finally {
        await b.close();
      }
    });

    it('A client that did not compact finds the compacted revision and reports it in CompactedError.', async () => {
      const a = await EtcdBackend.open({ endpoints: [etcd.endpoint], prefix: '/specifics/compact' });
      const other = await EtcdBackend.open({ endpoints: [etcd.endpoint], prefix: '/specifics/compact' });
      try {
        const kv = await a.create('/k', '1');
        await a.update('/k', '2', kv.modRevision);
        const target = await a.currentRevision();
        await a.compact(target);
        await a.create('/after', '3');
        assert.equal(await other.compactedRevision(), target);
        const err = await other.get('/k', { revision: kv.modRevision }).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof CompactedError, String(err));
        assert.equal(err.compacted, target);
        assert.equal(err.requested, kv.modRevision);
      } finally {
        await a.close();
        await other.close();
      }
    });

    it('Auto-compaction keeps the configured number of recent revisions.', async () => {
      const b = await EtcdBackend.open({ endpoints: [etcd.endpoint], prefix: '/specifics/auto', compactIntervalMs: 50, compactKeepRevisions: 5 });
      try {
        let kv = await b.create('/k', '0');
        for (let i = 1; i <= 20; i++) kv = await b.update('/k', String(i), kv.modRevision);
        const head = kv.modRevision;
        const deadline = Date.now() + 5000;
        while ((await b.compactedRevision()) < head - 5 && Date.now() < deadline) await sleep(20);
        assert.equal(await b.compactedRevision(), head - 5);
        assert.equal((await b.get('/k', { revision: head - 5 })).kv?.value, '15');
        await assert.rejects(b.get('/k', { revision: head - 6 }), CompactedError);
      } finally {
        await b.close();
      }
    });

    it('A watch survives an etcd restart and resumes with no gap or duplicate.', async () => {
      const b = await EtcdBackend.open({ endpoints: [etcd.endpoint], prefix: '/specifics/restart' });
      try {
        const events: number[] = [];
        let closed = false;
        const w = b.watch('/k/', { afterRevision: await b.currentRevision() }, {
          onEvents: (evs) => events.push(...evs.map((e) => e.kv.modRevision)),
          onClose: () => (closed = true),
        });
        const written: number[] = [];
        for (let i = 0; i < 5; i++) written.push((await b.create(`/k/a${i}`, '{}')).modRevision);
        await etcd.restart();
        // Writes through a second client, so the first client's recovery is only the watch's.
        const other = await EtcdBackend.open({ endpoints: [etcd.endpoint], prefix: '/specifics/restart' });
        for (let i = 0; i < 5; i++) written.push((await other.create(`/k/b${i}`, '{}')).modRevision);
        await other.close();
        const deadline = Date.now() + 15_000;
        while (events.length < written.length && Date.now() < deadline) await sleep(20);
        await sleep(50);
        w.cancel();
        assert.deepEqual(events, written);
        assert.equal(closed, false);
      } finally {
        await b.close();
      }
    });

    it('Opening against an endpoint where nothing listens fails instead of hanging.', async () => {
      const port = await freePort();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new assert.AssertionError({ message: 'open did not fail within 20 s' })), 20_000);
      });
      await assert.rejects(
        Promise.race([EtcdBackend.open({ endpoints: [`http://127.0.0.1:${port}`] }), timeout]).finally(() => clearTimeout(timer)),
        /cannot reach etcd/,
      );
    });
  });
}
