// `bin/k8ts server` as a real process: first start writes the kubeconfig before /readyz is ok,
// authentication is enforced, acknowledged writes survive kill -9, and SIGTERM shuts down cleanly.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import https from 'node:https';
import { RestClient } from '../src/client/rest-client.js';
import { eventually } from './helpers.js';
import { freePort } from '../src/base/ports.js';

const bin = resolve('bin/k8ts');
const configmaps = { group: '', version: 'v1', resource: 'configmaps', namespaced: true };

function get(url: string, opts: https.RequestOptions = {}): Promise<{ code: number; body: string }> {
  return new Promise((res, rej) => {
    const r = https.get(url, { rejectUnauthorized: false, ...opts }, (m) => {
      let body = '';
      m.on('data', (d) => (body += d));
      m.on('end', () => res({ code: m.statusCode ?? 0, body }));
    });
    r.on('error', rej);
  });
}

interface Proc {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

function startProc(dataDir: string, port: number): Proc {
  const child = spawn(bin, ['server', '--data-dir', dataDir, '--port', String(port), '--disable-agent'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited, output: () => out };
}

async function waitReady(port: number, dataDir: string): Promise<void> {
  await eventually(async () => {
    const r = await get(`https://127.0.0.1:${port}/readyz`).catch(() => undefined);
    if (r?.code === 200) {
      assert.ok(existsSync(join(dataDir, 'kubeconfig.yaml')), 'kubeconfig is written before /readyz reports ok');
      return true;
    }
    return false;
  }, 20_000, 50);
}

function clientFor(dataDir: string, port: number): RestClient {
  const tls = join(dataDir, 'tls');
  return new RestClient({
    server: `https://127.0.0.1:${port}`,
    ca: readFileSync(join(tls, 'ca.crt'), 'utf8'),
    cert: readFileSync(join(tls, 'admin.crt'), 'utf8'),
    key: readFileSync(join(tls, 'admin.key'), 'utf8'),
  });
}

describe('k8ts server process', () => {
  const dirs: string[] = [];
  const procs: Proc[] = [];
  after(() => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null && p.child.pid) process.kill(p.child.pid, 'SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('starts, enforces authentication, and keeps objects, revisions and certificates across kill -9', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-proc-'));
    dirs.push(dataDir);
    const port = await freePort();
    let p = startProc(dataDir, port);
    procs.push(p);
    await waitReady(port, dataDir);
    assert.ok(existsSync(join(dataDir, 'token')), 'a join token is written');
    assert.equal((await get(`https://127.0.0.1:${port}/api/v1/namespaces`)).code, 401);
    assert.equal((await get(`https://127.0.0.1:${port}/api/v1/namespaces`, { headers: { Authorization: 'Bearer abcdef.0123456789abcdef' } })).code, 401);
    const token = readFileSync(join(dataDir, 'token'), 'utf8').trim();
    // The join token authenticates, and may only ask for node credentials (TLS bootstrap).
    const asBootstrapper = await get(`https://127.0.0.1:${port}/api/v1/namespaces`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(asBootstrapper.code, 403);
    assert.match(JSON.parse(asBootstrapper.body).message, new RegExp(`User "system:bootstrap:${token.split('.')[0]}" cannot list resource "namespaces"`));
    assert.equal((await get(`https://127.0.0.1:${port}/apis/certificates.k8s.io/v1/certificatesigningrequests`, { headers: { Authorization: `Bearer ${token}` } })).code, 200);
    const version = JSON.parse((await get(`https://127.0.0.1:${port}/version`)).body);
    assert.equal(version.minor, '32');
    const verbose = await get(`https://127.0.0.1:${port}/readyz?verbose`);
    assert.match(verbose.body, /\[\+\]ping ok/);
    const caBefore = readFileSync(join(dataDir, 'tls', 'ca.crt'), 'utf8');

    // A stream of creates from 16 concurrent clients; kill -9 in the middle.
    const client = clientFor(dataDir, port);
    const acked = new Map<string, string>();
    let stop = false;
    let n = 0;
    const worker = async () => {
      while (!stop) {
        const name = `cm-${n++}`;
        try {
          const o = await client.create(configmaps, 'default', { metadata: { name }, data: { n: name } });
          acked.set(name, o.metadata.resourceVersion);
        } catch {
          return;
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    await eventually(async () => acked.size >= 300, 20_000, 10);
    process.kill(p.child.pid!, 'SIGKILL');
    stop = true;
    await Promise.all(workers);
    await p.exited;
    client.close();
    assert.ok(acked.size >= 300);

    p = startProc(dataDir, port);
    procs.push(p);
    await waitReady(port, dataDir);
    assert.equal(readFileSync(join(dataDir, 'tls', 'ca.crt'), 'utf8'), caBefore, 'the CA survives a restart');
    const c2 = clientFor(dataDir, port);
    const list = await c2.list(configmaps, 'default');
    const stored = new Map<string, string>(list.items.map((i: any) => [i.metadata.name, i.metadata.resourceVersion]));
    for (const [name, rv] of acked) {
      assert.equal(stored.get(name), rv, `acknowledged create ${name} survives kill -9 with its resourceVersion`);
    }
    // Revisions keep increasing after the restart.
    const next = await c2.create(configmaps, 'default', { metadata: { name: 'after-restart' } });
    assert.ok(Number(next.metadata.resourceVersion) > Math.max(...[...acked.values()].map(Number)));

    // SIGTERM: an open watch ends, and the process exits 0.
    let watchEnded = false;
    const w = c2.watch(configmaps, 'default', { resourceVersion: next.metadata.resourceVersion }, () => undefined);
    w.done.then(() => (watchEnded = true), () => (watchEnded = true));
    await new Promise((r) => setTimeout(r, 200));
    process.kill(p.child.pid!, 'SIGTERM');
    assert.equal(await p.exited, 0, p.output());
    await eventually(async () => watchEnded, 5000);
    c2.close();
  });
});
