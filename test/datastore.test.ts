// Moving a cluster between SQLite and etcd with `k8ts datastore export|import`, and etcd snapshots
// with `k8ts etcd-snapshot save|restore`: real servers, a real etcd, the CLI entry points.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer, type RunningServer } from '../src/app/server.js';
import { RestClient } from '../src/client/rest-client.js';
import { runDatastore } from '../src/cli/datastore.js';
import { runEtcdSnapshot } from '../src/cli/etcd-snapshot.js';
import { EtcdProcess, etcdBinary, haveEtcd } from '../src/storage/testing/etcd-process.js';
import { setLogLevel } from '../src/base/log.js';
import { writeEncryptionConfig } from './helpers.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'warn');

const configmaps = { group: '', version: 'v1', resource: 'configmaps', namespaced: true };
const secrets = { group: '', version: 'v1', resource: 'secrets', namespaced: true };
const services = { group: '', version: 'v1', resource: 'services', namespaced: true };
const namespaces = { group: '', version: 'v1', resource: 'namespaces', namespaced: false };
const csrs = { group: 'certificates.k8s.io', version: 'v1', resource: 'certificatesigningrequests', namespaced: false };

const haveEtcdctl = spawnSync(process.env.ETCDCTL_BIN ?? 'etcdctl', ['version'], { stdio: 'ignore' }).status === 0;

/** Run a CLI entry point, capturing what it prints. */
async function cli(run: (args: string[], io: { out: (s: string) => void; err: (s: string) => void }) => Promise<number>, args: string[]) {
  let out = '';
  let err = '';
  const code = await run(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

/** An admin client from a kubeconfig object, against `url` (the kubeconfig's own server by default). */
function clientFrom(kubeconfig: Record<string, any>, url?: string): RestClient {
  const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  return new RestClient({
    server: url ?? kubeconfig.clusters[0].cluster.server,
    ca: b64(kubeconfig.clusters[0].cluster['certificate-authority-data']),
    cert: b64(kubeconfig.users[0].user['client-certificate-data']),
    key: b64(kubeconfig.users[0].user['client-key-data']),
  });
}

/** The join token still authenticates as a bootstrapper: it may list CSRs, not namespaces. */
async function assertJoinTokenWorks(server: RunningServer, token: string): Promise<void> {
  const c = new RestClient({ server: server.url, ca: server.ca, token });
  try {
    const list = await c.list(csrs, undefined);
    assert.ok(Array.isArray(list.items), 'the join token may list CSRs');
    await assert.rejects(c.list(namespaces, undefined), new RegExp(`system:bootstrap:${token.split('.')[0]}" cannot list resource "namespaces"`));
  } finally {
    c.close();
  }
}

if (!haveEtcd || !haveEtcdctl) {
  console.error(`\n*** SKIPPING the datastore migration and etcd snapshot tests: no '${etcdBinary}' or 'etcdctl' binary (scripts/setup.sh installs etcd-server and etcd-client). ***\n`);
} else {
  describe('k8ts datastore: a cluster moves from SQLite to etcd and back', () => {
    let dir: string;
    let dataDir: string;
    let enc: string;
    const etcd = new EtcdProcess();
    const prefix = `/k8ts-migrate-${Date.now()}`;
    let etcdFlags: string[];
    const plaintext = `s3cret-${randomBytes(8).toString('hex')}`;
    let first: RunningServer | undefined;
    let onEtcd: RunningServer | undefined;
    let backOnSqlite: RunningServer | undefined;
    let firstKubeconfig: Record<string, any>;
    let firstToken: string;
    let firstServiceIP: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'k8ts-datastore-'));
      dataDir = join(dir, 'data');
      enc = writeEncryptionConfig(join(dir, 'encryption.yaml'));
      await etcd.start();
      etcdFlags = ['--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', prefix];
      first = await startServer({ dataDir, controllers: false, encryptionProviderConfig: enc });
      firstKubeconfig = first.kubeconfig;
      firstToken = first.token;
      const c = clientFrom(firstKubeconfig);
      try {
        await c.create(configmaps, 'default', { metadata: { name: 'moved' }, data: { text: 'line one\nline two ☃' } });
        await c.create(configmaps, 'default', { metadata: { name: 'deleted-later' }, data: { x: '1' } });
        await c.create(secrets, 'default', { metadata: { name: 'pw' }, stringData: { password: plaintext } });
        const svc = await c.create(services, 'default', { metadata: { name: 'web' }, spec: { ports: [{ port: 80 }], selector: { app: 'web' } } });
        firstServiceIP = svc.spec.clusterIP;
      } finally {
        c.close();
      }
    });
    after(async () => {
      await first?.stop();
      await onEtcd?.stop();
      await backOnSqlite?.stop();
      await etcd.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('export refuses a SQLite data dir whose server is running', async () => {
      const r = await cli(runDatastore, ['export', '--data-dir', dataDir, '-o', join(dir, 'never.jsonl')]);
      assert.equal(r.code, 1);
      assert.match(r.err, /state\.db is in use \(is a k8ts server running on this data dir\?\): stop the server first/);
      assert.equal(existsSync(join(dir, 'never.jsonl')), false);
    });

    it('SQLite → etcd: export, import, and a server on etcd with the same data dir serves the same cluster', async () => {
      await first!.stop();
      first = undefined;
      const dump = join(dir, 'dump.jsonl');
      const ex = await cli(runDatastore, ['export', '--data-dir', dataDir, '-o', dump, '-q']);
      assert.equal(ex.code, 0, ex.err);
      assert.match(ex.err, /^Exported \d+ keys \(revision \d+\) from .*state\.db to /m);
      assert.equal(statSync(dump).mode & 0o777, 0o600, 'the dump holds secrets: private to its owner');
      const text = readFileSync(dump, 'utf8');
      const header = JSON.parse(text.slice(0, text.indexOf('\n')));
      assert.equal(header.format, 'k8ts-datastore');
      assert.equal(header.source, 'sqlite');
      assert.equal(text.trimEnd().split('\n').length, header.keys + 1);
      assert.ok(text.includes('/registry/configmaps/default/moved'));
      assert.ok(!text.includes(plaintext), 'secrets encrypted at rest stay encrypted in the dump');

      const im = await cli(runDatastore, ['import', ...etcdFlags, '-f', dump]);
      assert.equal(im.code, 0, im.err);
      assert.match(im.err, new RegExp(`Imported ${header.keys} keys into etcd`));
      // A second import would mix two clusters: refused.
      const again = await cli(runDatastore, ['import', ...etcdFlags, '-f', dump]);
      assert.equal(again.code, 1);
      assert.match(again.err, /the target store is not empty \(\d+ keys\)/);

      onEtcd = await startServer({ dataDir, controllers: false, encryptionProviderConfig: enc, etcd: { endpoints: [etcd.endpoint], prefix } });
      assert.equal(onEtcd.token, firstToken, 'the join token is kept');
      // The old kubeconfig's CA and admin credentials work against the server on etcd.
      const c = clientFrom(firstKubeconfig, onEtcd.url);
      try {
        const cm = await c.get(configmaps, 'default', 'moved');
        assert.equal(cm.data.text, 'line one\nline two ☃');
        const s = await c.get(secrets, 'default', 'pw');
        assert.equal(Buffer.from(s.data.password, 'base64').toString('utf8'), plaintext);
        assert.equal((await c.get(services, 'default', 'web')).spec.clusterIP, firstServiceIP);
        // The allocation keys came along: a new Service gets another address.
        const other = await c.create(services, 'default', { metadata: { name: 'other' }, spec: { ports: [{ port: 80 }], selector: { app: 'other' } } });
        assert.notEqual(other.spec.clusterIP, firstServiceIP);
        // Changes for the way back.
        await c.delete(configmaps, 'default', 'deleted-later');
        await c.create(configmaps, 'default', { metadata: { name: 'made-on-etcd' }, data: { y: '2' } });
      } finally {
        c.close();
      }
      await assertJoinTokenWorks(onEtcd, firstToken);
      // While the server on etcd runs, importing into its store is refused: its identity lease is live.
      const live = await cli(runDatastore, ['import', ...etcdFlags, '-f', dump, '--overwrite']);
      assert.equal(live.code, 1);
      assert.match(live.err, /k8ts datastore import: a k8ts server is using the target store \(1 live API server lease\):\n {2}lease kube-system\/apiserver-\w+ \(holder apiserver-\w+_[\w-]+\): renewed \d+s ago, expires in \d+s\n/);
      const check = clientFrom(firstKubeconfig, onEtcd.url);
      try {
        assert.equal((await check.get(configmaps, 'default', 'made-on-etcd')).data.y, '2', 'nothing was imported');
      } finally {
        check.close();
      }
    });

    it('etcd → SQLite: export from etcd, import over the old database with --overwrite, and the server on SQLite has etcd\'s state', async () => {
      assert.ok(onEtcd, 'runs after the move to etcd');
      await onEtcd.stop();
      onEtcd = undefined;
      // Another cluster on the same etcd under a longer prefix: not part of this one.
      const { EtcdBackend } = await import('../src/storage/etcd/etcd-backend.js');
      const neighbour = await EtcdBackend.open({ endpoints: [etcd.endpoint], prefix: `${prefix}-neighbour` });
      await neighbour.create('/registry/configmaps/default/neighbour', '{}');
      await neighbour.close();
      const dump = join(dir, 'back.jsonl');
      const ex = await cli(runDatastore, ['export', ...etcdFlags, '-o', dump, '-q']);
      assert.equal(ex.code, 0, ex.err);
      const text = readFileSync(dump, 'utf8');
      assert.ok(text.includes('"key":"/k8ts/bootstrap"'), 'the keys outside /registry come along');
      assert.ok(!text.includes(prefix), 'keys are written without the etcd prefix');
      assert.ok(!text.includes('neighbour'), 'keys of a neighbouring prefix are left out');

      // The data dir still holds the pre-migration database: refused unless overwritten.
      const refused = await cli(runDatastore, ['import', '--data-dir', dataDir, '-f', dump]);
      assert.equal(refused.code, 1);
      assert.match(refused.err, /not empty/);
      const im = await cli(runDatastore, ['import', '--data-dir', dataDir, '-f', dump, '--overwrite', '-q']);
      assert.equal(im.code, 0, im.err);
      assert.match(im.err, /Imported \d+ keys into .*state\.db \(\d+ replaced, [1-9]\d* deleted\)/);

      backOnSqlite = await startServer({ dataDir, controllers: false, encryptionProviderConfig: enc });
      assert.equal(backOnSqlite.token, firstToken);
      const c = clientFrom(firstKubeconfig, backOnSqlite.url);
      try {
        assert.equal((await c.get(configmaps, 'default', 'made-on-etcd')).data.y, '2');
        await assert.rejects(c.get(configmaps, 'default', 'deleted-later'), /not found/);
        const s = await c.get(secrets, 'default', 'pw');
        assert.equal(Buffer.from(s.data.password, 'base64').toString('utf8'), plaintext);
        assert.equal((await c.get(services, 'default', 'web')).spec.clusterIP, firstServiceIP);
      } finally {
        c.close();
      }
      await assertJoinTokenWorks(backOnSqlite, firstToken);
    });

    it('a corrupt dump is refused whole, naming its bad line, before anything is written', async () => {
      const bad = join(dir, 'bad.jsonl');
      writeFileSync(bad, '{"format":"k8ts-datastore","version":1,"revision":9,"keys":2}\n{"key":"/registry/a","value":"1"}\n{"key":"/registry/b",\n');
      const fresh = join(dir, 'fresh');
      const r = await cli(runDatastore, ['import', '--data-dir', fresh, '-f', bad]);
      assert.equal(r.code, 1);
      assert.match(r.err, /datastore dump line 3: not JSON/);
      assert.equal(existsSync(join(fresh, 'db', 'state.db')), false, 'nothing was written');
    });
  });

  describe('k8ts etcd-snapshot: a snapshot restored into a new etcd data dir brings the cluster back', () => {
    let dir: string;
    const etcd = new EtcdProcess();
    let restored: EtcdProcess | undefined;
    let server: RunningServer | undefined;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'k8ts-etcd-snap-'));
      await etcd.start();
    });
    after(async () => {
      await server?.stop();
      await restored?.stop();
      await etcd.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('save while the server runs, stop everything, restore, start etcd and a server on it: the objects are there', async () => {
      const dataDir = join(dir, 'data');
      const store = { endpoints: [etcd.endpoint], prefix: '/snap' };
      server = await startServer({ dataDir, controllers: false, etcd: store });
      const kubeconfig = server.kubeconfig;
      const token = server.token;
      let c = clientFrom(kubeconfig);
      for (let i = 0; i < 5; i++) await c.create(configmaps, 'default', { metadata: { name: `cm-${i}` }, data: { i: String(i) } });
      c.close();

      const snap = join(dir, 'snapshot.db');
      const saved = await cli(runEtcdSnapshot, ['save', '--etcd-endpoints', etcd.endpoint, '-o', snap]);
      assert.equal(saved.code, 0, saved.err);
      assert.match(saved.err, /Snapshot of .* saved to /);
      assert.ok(statSync(snap).size > 0);
      const status = await cli(runEtcdSnapshot, ['status', '-f', snap]);
      assert.equal(status.code, 0, status.err);
      assert.match(status.out, /HASH\s*\|\s*REVISION\s*\|\s*TOTAL KEYS/);

      // Written after the snapshot: must not come back.
      c = clientFrom(kubeconfig);
      await c.create(configmaps, 'default', { metadata: { name: 'after-snapshot' }, data: {} });
      c.close();
      await server.stop();
      server = undefined;
      await etcd.stop();

      const etcdData = join(dir, 'etcd-restored');
      const r = await cli(runEtcdSnapshot, ['restore', '-f', snap, '--data-dir', etcdData, '--name', 'restored']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /Start etcd on it with:\n  etcd --name restored --data-dir /);
      // A restore never lands on a data dir that holds something.
      const twice = await cli(runEtcdSnapshot, ['restore', '-f', snap, '--data-dir', etcdData]);
      assert.equal(twice.code, 1);
      assert.match(twice.err, /is not empty: restore into a new directory/);

      restored = new EtcdProcess({ dataDir: etcdData, name: 'restored' });
      await restored.start();
      server = await startServer({ dataDir, controllers: false, etcd: { endpoints: [restored.endpoint], prefix: '/snap' } });
      assert.equal(server.token, token);
      c = clientFrom(kubeconfig, server.url);
      try {
        for (let i = 0; i < 5; i++) assert.equal((await c.get(configmaps, 'default', `cm-${i}`)).data.i, String(i));
        await assert.rejects(c.get(configmaps, 'default', 'after-snapshot'), /not found/);
        // The restored store takes writes.
        await c.create(configmaps, 'default', { metadata: { name: 'after-restore' }, data: {} });
      } finally {
        c.close();
      }
      await assertJoinTokenWorks(server, token);
      await server.stop();
      server = undefined;
      await restored.stop();
      assert.ok(existsSync(etcdData), 'an EtcdProcess on a given data dir leaves it in place');
    });

    it('save and restore explain what they need', async () => {
      const cases: { args: string[]; error: RegExp }[] = [
        { args: ['save', '-o', join(dir, 'x.db')], error: /--etcd-endpoints: give the one etcd member/ },
        { args: ['save', '--etcd-endpoints', 'http://127.0.0.1:1,http://127.0.0.1:2', '-o', join(dir, 'x.db')], error: /give the one etcd member/ },
        { args: ['restore', '--data-dir', join(dir, 'y')], error: /-f FILE is required/ },
        { args: ['restore', '-f', join(dir, 'missing.db'), '--data-dir', join(dir, 'y')], error: /no snapshot file/ },
        { args: ['copy'], error: /unknown subcommand "copy"/ },
      ];
      for (const t of cases) {
        const r = await cli(runEtcdSnapshot, t.args);
        assert.equal(r.code, 1, t.args.join(' '));
        assert.match(r.err, t.error);
      }
    });
  });
}
