/**
 * k8ts on an etcd that requires TLS with client certificates (issue 6), certificates made with
 * k8ts's own PKI code: two `k8ts server` processes on it with the --etcd-* TLS flags, the
 * `kubernetes` Service's endpoints following the servers' identity leases (both addresses; one
 * gone at once after SIGTERM; one gone within the lease duration after SIGKILL), `k8ts datastore
 * export|import` and `k8ts etcd-snapshot save|status` with the same flags, and import refusing a
 * store a live server uses.
 *
 * The servers listen on 127.0.0.2 and 127.0.0.3 (one port) and advertise 192.0.2.2 and 192.0.2.3
 * (documentation addresses: only written to the endpoints, never dialled), since Endpoints refuse
 * loopback addresses.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import https from 'node:https';
import { generateCA, issueCertificate } from '../src/base/pki.js';
import { freePort } from '../src/base/ports.js';
import { runDatastore } from '../src/cli/datastore.js';
import { runEtcdSnapshot } from '../src/cli/etcd-snapshot.js';
import { etcdBinary, haveEtcd } from '../src/storage/testing/etcd-process.js';
import { setLogLevel } from '../src/base/log.js';
import { eventually, kubectlBinary } from './helpers.js';

setLogLevel('error');

const haveEtcdctl = spawnSync(process.env.ETCDCTL_BIN ?? 'etcdctl', ['version'], { stdio: 'ignore' }).status === 0;
const main = resolve('src/cli/main.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run a CLI entry point, capturing what it prints. */
async function cli(run: (args: string[], io: { out: (s: string) => void; err: (s: string) => void }) => Promise<number>, args: string[]) {
  let out = '';
  let err = '';
  const code = await run(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

/** A one-member etcd serving clients only over TLS with client certificate authentication. */
class TLSEtcd {
  endpoint = '';
  files = { ca: '', cert: '', key: '' };
  private child?: ChildProcess;
  private watchdog?: ChildProcess;
  private log = '';
  constructor(private readonly dir: string) {}

  async start(): Promise<void> {
    const ca = await generateCA('etcd-test-ca');
    const serving = await issueCertificate(ca, { commonName: 'etcd', ips: ['127.0.0.1'], dnsNames: ['localhost'], usage: 'server' });
    const client = await issueCertificate(ca, { commonName: 'k8ts', usage: 'client' });
    const write = (name: string, text: string) => {
      const p = join(this.dir, name);
      writeFileSync(p, text, { mode: 0o600 });
      return p;
    };
    const caFile = write('ca.crt', ca.cert);
    const servingCert = write('etcd.crt', serving.cert);
    const servingKey = write('etcd.key', serving.key);
    this.files = { ca: caFile, cert: write('client.crt', client.cert), key: write('client.key', client.key) };
    const [cport, pport] = [await freePort(), await freePort()];
    this.endpoint = `https://127.0.0.1:${cport}`;
    const peer = `http://127.0.0.1:${pport}`;
    this.child = spawn(
      etcdBinary,
      [
        '--name', 'tls',
        '--data-dir', join(this.dir, 'etcd-data'),
        '--listen-client-urls', this.endpoint,
        '--advertise-client-urls', this.endpoint,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `tls=${peer}`,
        '--cert-file', servingCert,
        '--key-file', servingKey,
        '--client-cert-auth',
        '--trusted-ca-file', caFile,
        '--log-level', 'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.watchdog = spawn('sh', ['-c', `read _; kill -9 ${this.child.pid}`], { stdio: ['pipe', 'ignore', 'ignore'] });
    const append = (d: Buffer) => (this.log = (this.log + d.toString()).slice(-4000));
    this.child.stdout!.on('data', append);
    this.child.stderr!.on('data', append);
    const agent = new https.Agent({ ca: ca.cert, cert: client.cert, key: client.key });
    await eventually(
      () =>
        new Promise<boolean>((res) => {
          if (this.child!.exitCode !== null) return res(false);
          const q = https.get(`${this.endpoint}/health`, { agent }, (m) => {
            let body = '';
            m.on('data', (d) => (body += d));
            m.on('end', () => res(/"health":"true"/.test(body)));
          });
          q.on('error', () => res(false));
        }),
      20_000,
      100,
    ).catch((e) => {
      throw new Error(`TLS etcd did not become healthy: ${(e as Error).message}\n${this.log}`);
    });
    agent.destroy();
  }

  async stop(): Promise<void> {
    for (const p of [this.watchdog, this.child]) {
      if (!p || p.exitCode !== null || p.signalCode !== null) continue;
      const gone = new Promise<void>((r) => p.once('exit', () => r()));
      process.kill(p.pid!, p === this.watchdog ? 'SIGKILL' : 'SIGTERM');
      await gone;
    }
  }
}

interface ServerProc {
  name: string;
  dataDir: string;
  bind: string;
  advertise: string;
  child?: ChildProcess;
  log: string;
}

if (!haveEtcd || !haveEtcdctl) {
  console.error(`\n*** SKIPPING the etcd TLS tests: no '${etcdBinary}' or 'etcdctl' binary (scripts/setup.sh installs etcd-server and etcd-client). ***\n`);
} else {
  describe('k8ts on an etcd with TLS client authentication', () => {
    let dir: string;
    let etcd: TLSEtcd;
    let port: number;
    let tlsFlags: string[];
    const prefix = '/tls';
    const servers: ServerProc[] = [];
    let home: string;

    const startServerProc = async (s: ServerProc, extra: string[] = []) => {
      s.log = '';
      s.child = spawn(
        process.execPath,
        [
          '--import', 'tsx', main, 'server',
          '--data-dir', s.dataDir,
          '--bind-address', s.bind,
          '--port', String(port),
          '--tls-san', s.bind,
          '--advertise-address', s.advertise,
          '--disable-agent', '--disable-cloud-controller', '--disable-scheduler', '--disable-controller-manager',
          '--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', prefix, ...tlsFlags,
          ...extra,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, K8TS_LOG_LEVEL: 'warn' } },
      );
      const append = (d: Buffer) => (s.log = (s.log + d.toString()).slice(-4000));
      s.child.stdout!.on('data', append);
      s.child.stderr!.on('data', append);
      const probe = new https.Agent({ rejectUnauthorized: false });
      await eventually(
        () =>
          new Promise<boolean>((res) => {
            if (s.child!.exitCode !== null) return res(false);
            const q = https.get({ host: s.bind, port, path: '/readyz', agent: probe }, (m) => {
              m.resume();
              res(m.statusCode === 200);
            });
            q.on('error', () => res(false));
          }),
        90_000,
        200,
      ).catch((e) => {
        throw new Error(`server ${s.name}: ${(e as Error).message}\n${s.log}`);
      });
      probe.destroy();
    };
    const killServer = async (s: ServerProc, sig: NodeJS.Signals) => {
      const c = s.child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise<void>((res) => c.once('exit', () => res()));
      process.kill(c.pid!, sig);
      const timer = setTimeout(() => process.kill(c.pid!, 'SIGKILL'), 20_000);
      await gone;
      clearTimeout(timer);
    };
    /** `kubectl get endpoints kubernetes` through a server's own kubeconfig: the addresses it lists. */
    const kubectlEndpoints = (s: ServerProc): string => {
      const r = spawnSync(kubectlBinary(), ['get', 'endpoints', 'kubernetes', '--no-headers'], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECONFIG: join(s.dataDir, 'kubeconfig.yaml') },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 0, r.stderr);
      // NAME ENDPOINTS AGE
      return r.stdout.trim().split(/\s+/)[1] ?? '';
    };
    const both = () => `192.0.2.2:${port},192.0.2.3:${port}`;
    /** Wait until kubectl through `s` lists `want` (a server is ready a moment before its first reconcile). */
    const expectEndpoints = async (s: ServerProc, want: string, timeoutMs = 10_000) => {
      let got = '';
      const deadline = Date.now() + timeoutMs;
      while ((got = kubectlEndpoints(s)) !== want && Date.now() < deadline) await sleep(250);
      assert.equal(got, want);
    };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'k8ts-etcd-tls-'));
      home = join(dir, 'home');
      etcd = new TLSEtcd(dir);
      await etcd.start();
      tlsFlags = ['--etcd-cafile', etcd.files.ca, '--etcd-certfile', etcd.files.cert, '--etcd-keyfile', etcd.files.key];
      port = await freePort();
      servers.push({ name: 'a', dataDir: join(dir, 'a'), bind: '127.0.0.2', advertise: '192.0.2.2', log: '' });
      servers.push({ name: 'b', dataDir: join(dir, 'b'), bind: '127.0.0.3', advertise: '192.0.2.3', log: '' });
    });
    after(async () => {
      for (const s of servers) await killServer(s, 'SIGTERM');
      await etcd?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('clients without a client certificate, or with half of one, are refused', async () => {
      const noCert = await cli(runDatastore, ['export', '--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-cafile', etcd.files.ca, '-o', join(dir, 'x.jsonl'), '-q']);
      assert.equal(noCert.code, 1);
      assert.match(noCert.err, /cannot reach etcd/);
      const half = await cli(runDatastore, ['export', '--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-cafile', etcd.files.ca, '--etcd-certfile', etcd.files.cert, '-o', join(dir, 'x.jsonl')]);
      assert.equal(half.code, 1);
      assert.match(half.err, /--etcd-certfile and --etcd-keyfile go together/);
      const noCA = await cli(runDatastore, ['export', '--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-certfile', etcd.files.cert, '--etcd-keyfile', etcd.files.key, '-o', join(dir, 'x.jsonl')]);
      assert.equal(noCA.code, 1);
      assert.match(noCA.err, /need --etcd-cafile/);
    });

    it('two servers on the TLS etcd: the kubernetes endpoints hold both; SIGTERM takes one out at once', async () => {
      const [a, b] = servers;
      await startServerProc(a);
      const token = readFileSync(join(a.dataDir, 'token'), 'utf8').trim();
      await startServerProc(b, ['--token', token, '--server', `https://${a.bind}:${port}`]);
      await expectEndpoints(a, both());
      assert.equal(kubectlEndpoints(b), both());
      await killServer(a, 'SIGTERM');
      assert.equal(a.child!.exitCode, 0, a.log);
      // A clean stop deletes the lease and rewrites the endpoints before exiting.
      assert.equal(kubectlEndpoints(b), `192.0.2.3:${port}`);
    });

    it('import refuses the store while a server uses it, naming the lease; --force is the escape', async () => {
      const dump = join(dir, 'live.jsonl');
      // Export works on a live store (one consistent revision).
      const ex = await cli(runDatastore, ['export', '--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', prefix, ...tlsFlags, '-o', dump, '-q']);
      assert.equal(ex.code, 0, ex.err);
      assert.match(readFileSync(dump, 'utf8'), /"key":"\/registry\/coordination\.k8s\.io\/leases\/kube-system\/apiserver-/);
      const im = await cli(runDatastore, ['import', '--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', prefix, ...tlsFlags, '-f', dump, '--overwrite', '-q']);
      assert.equal(im.code, 1);
      assert.match(im.err, /a k8ts server is using the target store \(1 live API server lease\):\n {2}lease kube-system\/apiserver-[a-z2-7]+ \(holder apiserver-[a-z2-7]+_[0-9a-f-]+, advertising 192\.0\.2\.3:\d+\): renewed \d+s ago, expires in \d+s/);
      assert.match(im.err, /pass --force/);
      // --force skips only this check: the store is still not empty, so without --overwrite it is refused.
      const forced = await cli(runDatastore, ['import', '--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', prefix, ...tlsFlags, '-f', dump, '--force', '-q']);
      assert.equal(forced.code, 1);
      assert.match(forced.err, /the target store is not empty/);
    });

    it('SIGKILL: the dead server leaves the endpoints within its lease duration (15 s)', async () => {
      const [a, b] = servers;
      await startServerProc(a);
      await expectEndpoints(b, both());
      // Right after a renewal is the worst case: wait for one, then kill.
      await sleep(1000);
      const killed = Date.now();
      await killServer(b, 'SIGKILL');
      let left = 0;
      await eventually(
        async () => {
          if (kubectlEndpoints(a) !== `192.0.2.2:${port}`) return false;
          left = Date.now() - killed;
          return true;
        },
        25_000,
        250,
      );
      console.error(`# the SIGKILLed server left the kubernetes endpoints ${(left / 1000).toFixed(1)} s after the kill`);
      // The survivor wakes when the lease expires (at most 15 s after the last renewal); the rest is
      // kubectl polling on a busy machine.
      assert.ok(left <= 20_000, `gone after ${left} ms: at most the 15 s lease duration and some slack`);
      assert.ok(left >= 5_000, `gone after ${left} ms: not before its lease could have expired`);
    });

    it('etcd-snapshot save and status with the TLS flags, while a server runs', async () => {
      const snap = join(dir, 'snap.db');
      const saved = await cli(runEtcdSnapshot, ['save', '--etcd-endpoints', etcd.endpoint, ...tlsFlags, '-o', snap]);
      assert.equal(saved.code, 0, saved.err);
      assert.match(saved.err, /Snapshot of https:\/\/127\.0\.0\.1:\d+ saved to /);
      const status = await cli(runEtcdSnapshot, ['status', '-f', snap]);
      assert.equal(status.code, 0, status.err);
      assert.match(status.out, /HASH\s*\|\s*REVISION\s*\|\s*TOTAL KEYS/);
      // Without the client certificate etcd refuses the save: reported within seconds (etcdctl's
      // own save would retry the handshake for ever), leaving no file behind.
      const t0 = Date.now();
      const refused = await cli(runEtcdSnapshot, ['save', '--etcd-endpoints', etcd.endpoint, '--etcd-cafile', etcd.files.ca, '-o', join(dir, 'nope.db')]);
      assert.equal(refused.code, 1);
      assert.match(refused.err, /cannot reach etcd at https:\/\/127\.0\.0\.1:\d+ \(check the URL and the --etcd-cafile, --etcd-certfile and --etcd-keyfile TLS flags\)/);
      assert.ok(Date.now() - t0 < 15_000);
      assert.equal(existsSync(join(dir, 'nope.db')) || existsSync(join(dir, 'nope.db.part')), false);
      const half = await cli(runEtcdSnapshot, ['save', '--etcd-endpoints', etcd.endpoint, '--etcd-cafile', etcd.files.ca, '--etcd-keyfile', etcd.files.key, '-o', join(dir, 'nope.db')]);
      assert.equal(half.code, 1);
      assert.match(half.err, /--etcd-certfile and --etcd-keyfile go together/);
    });

    it('after the last server stops cleanly, import into the TLS etcd is allowed and the server comes back on it', async () => {
      const [a] = servers;
      await killServer(a, 'SIGTERM');
      const dump = join(dir, 'stopped.jsonl');
      const ex = await cli(runDatastore, ['export', '--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', prefix, ...tlsFlags, '-o', dump, '-q']);
      assert.equal(ex.code, 0, ex.err);
      assert.doesNotMatch(readFileSync(dump, 'utf8'), /leases\/kube-system\/apiserver-/, 'no server lease is left behind');
      // Into a fresh prefix of the same etcd, then over the old one.
      const fresh = await cli(runDatastore, ['import', '--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', '/tls-copy', ...tlsFlags, '-f', dump, '-q']);
      assert.equal(fresh.code, 0, fresh.err);
      assert.match(fresh.err, /Imported \d+ keys into etcd https:\/\/127\.0\.0\.1:\d+ \(prefix \/tls-copy\)/);
      const over = await cli(runDatastore, ['import', '--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', prefix, ...tlsFlags, '-f', dump, '--overwrite', '-q']);
      assert.equal(over.code, 0, over.err);
      await startServerProc(a);
      await expectEndpoints(a, `192.0.2.2:${port}`);
    });
  });
}
