/**
 * API server benchmarks against a real `bin/k8ts server` process on loopback:
 *   1. cold start to /readyz ok, and idle RSS;
 *   2. sustained durable pod creates/s with concurrent keep-alive clients;
 *   3. create latency p50/p99 at a fixed rate (default 1,000/s);
 *   4. list of 10,000 pods;
 *   5. watch delivery latency with 500 concurrent watchers.
 * Usage: node --import tsx bench/api/run.ts [--quick] [--with-control-plane] [--etcd] [--watch-only] [--raw-watchers] [--c-watchers] [--commit-times]
 * (--raw-watchers: the watch clients read raw TLS bytes instead of going through node:https; see
 * watchers.ts. --c-watchers: the watch clients are c-watcher.c (OpenSSL, one epoll loop per process),
 * whose CPU per event is far below Node's. --watch-gap MS: pause between the watched creates, default 20;
 * --watch-warmup N unmeasured creates first, default 100; --watch-events N measured ones, default 200.)
 *   --etcd: run everything twice, on SQLite and on a real single-member etcd (started here on
 *   loopback), and print them side by side with the etcd/SQLite ratio.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import https from 'node:https';
import { freePort } from '../../src/base/ports.js';

const quick = process.argv.includes('--quick');
const watchOnly = process.argv.includes('--watch-only');
/**
 * --commit-times: the server is started with bench/api/commit-clock.mjs preloaded, which logs when
 * each commit became durable, so watch latency is also reported exactly from the commit.
 */
const commitTimes = process.argv.includes('--commit-times');
const watcherMode = process.argv.includes('--c-watchers') ? 'c' : process.argv.includes('--raw-watchers') ? 'raw' : 'https';

/**
 * The C watch client (c-watcher.c), built once into the bench cache: OpenSSL, one epoll loop per
 * process serving all its watches, a small fraction of a Node client's CPU per event. Installs libssl-dev when missing.
 */
function cWatcherBinary(): string {
  const src = resolve('bench/api/c-watcher.c');
  const out = join(tmpdir(), `k8ts-bench-c-watcher-${createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 12)}`);
  if (existsSync(out)) return out;
  if (!existsSync('/usr/include/openssl/ssl.h')) execFileSync('apt-get', ['install', '-y', '-q', 'libssl-dev'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  execFileSync('cc', ['-O2', '-pthread', '-o', `${out}.tmp`, src, '-lssl', '-lcrypto'], { stdio: 'inherit' });
  renameSync(`${out}.tmp`, out);
  return out;
}
/** The number after `--name` on the command line, if given. */
function numberArg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
}
/** --watch-warmup N: unmeasured creates with the watches open before the measured ones (default 100). */
const watchWarmup = numberArg('watch-warmup') ?? 100;
/** --watch-events N: measured creates, each fanned out to every watcher (default 200; 20 with --quick). */
const watchEvents = numberArg('watch-events');
const watchGapMs = numberArg('watch-gap') ?? 20;
// The API server alone by default; --with-control-plane keeps the scheduler and controllers running.
const serverFlags = process.argv.includes('--with-control-plane') ? [] : ['--disable-scheduler', '--disable-controller-manager'];
// BENCH_K8TS_BIN: another build's launcher, for A/B runs with the same clients.
const bin = resolve(process.env.BENCH_K8TS_BIN ?? 'bin/k8ts');
const compareEtcd = process.argv.includes('--etcd');
/** Extra `k8ts server` flags for the store (set per suite run). */
let storageFlags: string[] = [];
/** Server processes still up: a failed run stops them (by PID) before it exits. */
const running = new Set<ChildProcess>();

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const median = (xs: number[]) => pct(xs, 50);

interface Conn {
  agent: https.Agent;
  port: number;
  ca: string;
  cert: string;
  key: string;
}

function request(c: Conn, method: string, path: string, body?: unknown): Promise<{ code: number; body: string }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((res, rej) => {
    const r = https.request(
      {
        host: '127.0.0.1',
        port: c.port,
        method,
        path,
        agent: c.agent,
        headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length, Accept: 'application/json' } : { Accept: 'application/json' },
      },
      (m) => {
        const chunks: Buffer[] = [];
        m.on('data', (d: Buffer) => chunks.push(d));
        m.on('end', () => res({ code: m.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    r.on('error', rej);
    r.end(payload);
  });
}

function pod(name: string, extra: Record<string, string> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'bench', tier: 'web' }, annotations: extra },
    spec: {
      containers: [
        {
          name: 'main',
          image: 'registry.example/bench/app:1.2.3',
          ports: [{ containerPort: 8080, name: 'http' }],
          env: [
            { name: 'MODE', value: 'bench' },
            { name: 'LEVEL', value: 'info' },
          ],
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
        },
      ],
    },
  };
}

async function startServer(dataDir: string): Promise<{ proc: ChildProcess; port: number; conn: Conn; coldStartMs: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const nodeArgs = [...(commitTimes ? ['--import', resolve('bench/api/commit-clock.mjs')] : []), ...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [])];
  const serverCmd = nodeArgs.length ? ([process.execPath, [...nodeArgs, resolve('dist/cli/main.js')]] as const) : ([bin, []] as const);
  const env = { ...process.env, K8TS_LOG_LEVEL: 'warn', ...(commitTimes ? { K8TS_BENCH_COMMIT_LOG: join(dataDir, 'commits.log') } : {}) };
  const proc = spawn(serverCmd[0], [...serverCmd[1], 'server', '--data-dir', dataDir, '--port', String(port), '--disable-agent', ...serverFlags, ...storageFlags], { stdio: ['ignore', 'ignore', 'inherit'], env });
  let exited = false;
  running.add(proc);
  proc.once('exit', () => {
    exited = true;
    running.delete(proc);
  });
  const probe = new https.Agent({ rejectUnauthorized: false, keepAlive: false });
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const r = https.get({ host: '127.0.0.1', port, path: '/readyz', agent: probe }, (m) => {
        m.resume();
        m.on('end', () => res(m.statusCode === 200));
      });
      r.on('error', () => res(false));
    });
    if (ok) break;
    if (exited) throw new Error('the server exited before it was ready');
    await new Promise((r) => setTimeout(r, 5));
  }
  const coldStartMs = performance.now() - t0;
  const tls = join(dataDir, 'tls');
  const ca = readFileSync(join(tls, 'ca.crt'), 'utf8');
  const cert = readFileSync(join(tls, 'admin.crt'), 'utf8');
  const key = readFileSync(join(tls, 'admin.key'), 'utf8');
  const conn: Conn = { agent: new https.Agent({ keepAlive: true, maxSockets: 256, ca, cert, key }), port, ca, cert, key };
  return { proc, port, conn, coldStartMs };
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** user+system CPU time of a process, in ms. */
function cpuMsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

async function stopServer(proc: ChildProcess): Promise<void> {
  const exited = new Promise((r) => proc.on('exit', r));
  process.kill(proc.pid!, 'SIGTERM');
  await exited;
}

async function ensureNamespace(c: Conn, name: string): Promise<void> {
  const r = await request(c, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  if (r.code !== 201 && r.code !== 409) throw new Error(`namespace ${name}: ${r.code} ${r.body}`);
  // The controllers are off here: the account ServiceAccount admission requires of pods, by hand.
  const sa = await request(c, 'POST', `/api/v1/namespaces/${name}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
  if (sa.code !== 201 && sa.code !== 409) throw new Error(`serviceaccount ${name}/default: ${sa.code} ${sa.body}`);
}

async function sustainedCreates(c: Conn, concurrency: number, durationMs: number, ns: string): Promise<number> {
  let n = 0;
  let ok = 0;
  const end = performance.now() + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const r = await request(c, 'POST', `/api/v1/namespaces/${ns}/pods`, pod(`p-${concurrency}-${n++}`));
      if (r.code !== 201) throw new Error(`create: ${r.code} ${r.body}`);
      ok++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ok / ((performance.now() - t0) / 1000);
}

async function fixedRate(c: Conn, rate: number, durationMs: number, ns: string): Promise<number[]> {
  const lat: number[] = [];
  const total = Math.floor((rate * durationMs) / 1000);
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const s = performance.now();
    pending.push(
      request(c, 'POST', `/api/v1/namespaces/${ns}/pods`, pod(`r-${i}`)).then((r) => {
        if (r.code !== 201) throw new Error(`create: ${r.code}`);
        lat.push(performance.now() - s);
      }),
    );
  }
  await Promise.all(pending);
  return lat;
}

/**
 * Watch delivery: `watchers` watches spread over 4 client processes (as that many real clients
 * would be), one create every 20 ms (--watch-gap); latency = event arrival − create sent (an upper bound on
 * commit → event, since it includes the create's own request time).
 */
async function watchLatency(c: Conn, dataDir: string, watchers: number, events: number, ns: string, serverPid: number): Promise<{ lat: number[]; spread: number[]; acked: number[]; fromCommit: number[]; clientCpuPerEvent: number; serverCpuPerEvent: number }> {
  const list = JSON.parse((await request(c, 'GET', `/api/v1/namespaces/${ns}/pods?limit=1`)).body);
  const rv = list.metadata.resourceVersion;
  const tls = join(dataDir, 'tls');
  const procs = 4;
  const children = Array.from({ length: procs }, (_, i) => {
    const n = Math.floor(watchers / procs) + (i < watchers % procs ? 1 : 0);
    const path = `/api/v1/namespaces/${ns}/pods?watch=true&resourceVersion=${rv}`;
    const [cmd, args] =
      watcherMode === 'c'
        ? [cWatcherBinary(), [String(c.port), path, String(n), join(tls, 'ca.crt'), join(tls, 'admin.crt'), join(tls, 'admin.key')]]
        : [process.execPath, ['--import', 'tsx', resolve('bench/api/watchers.ts'), String(c.port), ns, rv, String(n), join(tls, 'ca.crt'), join(tls, 'admin.crt'), join(tls, 'admin.key'), watcherMode]];
    return spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
  });
  const outputs = children.map((ch) => {
    let text = '';
    ch.stdout!.setEncoding('utf8');
    ch.stdout!.on('data', (d: string) => (text += d));
    return { ready: () => text.startsWith('ready'), done: () => text.endsWith('end\n'), text: () => text };
  });
  while (!outputs.every((o) => o.ready())) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  // Warm-up creates (not measured; named so the watch clients do not record them): the server's
  // fan-out path is compiled by V8 under load before the measured events, as in a running cluster.
  for (let i = 0; i < watchWarmup; i++) {
    const r = await request(c, 'POST', `/api/v1/namespaces/${ns}/pods`, pod(`warm-${i}`));
    if (r.code !== 201) throw new Error(`warm-up create: ${r.code}`);
    await new Promise((r2) => setTimeout(r2, watchGapMs));
  }
  const clientCpu0 = children.reduce((sum, ch) => sum + cpuMsOf(ch.pid!), 0);
  const serverCpu0 = cpuMsOf(serverPid);
  const sent = new Map<string, number>();
  const acked = new Map<string, number>();
  const revOf = new Map<string, number>();
  for (let i = 0; i < events; i++) {
    const name = `w-${i}`;
    sent.set(name, performance.timeOrigin + performance.now());
    const r = await request(c, 'POST', `/api/v1/namespaces/${ns}/pods`, pod(name));
    acked.set(name, performance.timeOrigin + performance.now());
    if (r.code !== 201) throw new Error(`create: ${r.code}`);
    revOf.set(name, Number(JSON.parse(r.body).metadata.resourceVersion));
    await new Promise((r2) => setTimeout(r2, watchGapMs));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const clientCpuMs = children.reduce((sum, ch) => sum + cpuMsOf(ch.pid!), 0) - clientCpu0;
  const serverCpuMs = cpuMsOf(serverPid) - serverCpu0;
  for (const ch of children) ch.stdin!.end();
  while (!outputs.every((o) => o.done())) await new Promise((r) => setTimeout(r, 20));
  const lat: number[] = [];
  const byName = new Map<string, number[]>();
  for (const o of outputs) {
    for (const line of o.text().split('\n')) {
      const [name, t] = line.split(' ');
      const s0 = sent.get(name);
      if (s0 === undefined || !t) continue;
      lat.push(Number(t) - s0);
      let arr = byName.get(name);
      if (!arr) byName.set(name, (arr = []));
      arr.push(Number(t));
    }
  }
  if (lat.length < watchers * events) console.error(`watch: only ${lat.length}/${watchers * events} deliveries`);
  // The commit lies between the create being sent and the first watcher seeing it, so arrival −
  // first arrival is a lower bound on commit → event (and arrival − sent an upper bound).
  const spread: number[] = [];
  const ackedLat: number[] = [];
  for (const [name, ts] of byName) {
    const first = Math.min(...ts);
    for (const t of ts) {
      spread.push(t - first);
      ackedLat.push(t - acked.get(name)!);
    }
  }
  // With --commit-times: arrival − the moment the server made the create's revision durable.
  const fromCommit: number[] = [];
  if (commitTimes) {
    const committedAt = new Map<number, number>();
    for (const line of readFileSync(join(dataDir, 'commits.log'), 'utf8').split('\n')) {
      const [first, last, t] = line.split(' ').map(Number);
      if (!line || !Number.isFinite(t)) continue;
      for (let rev = first!; rev <= last!; rev++) committedAt.set(rev, t!);
    }
    for (const [name, ts] of byName) {
      const at = committedAt.get(revOf.get(name)!);
      if (at === undefined) throw new Error(`--commit-times: no commit time for ${name}`);
      for (const t of ts) fromCommit.push(t - at);
    }
  }
  return { lat, spread, acked: ackedLat, fromCommit, clientCpuPerEvent: clientCpuMs / events, serverCpuPerEvent: serverCpuMs / events };
}

async function main(): Promise<void> {
  if (!existsSync('dist/cli/main.js')) throw new Error('run scripts/setup.sh first (dist/ is missing)');
  const sqlite = await runSuite();
  let etcdResults: [string, string][] | undefined;
  if (compareEtcd) {
    const { EtcdProcess } = await import('../../src/storage/testing/etcd-process.js');
    const etcd = new EtcdProcess();
    await etcd.start();
    try {
      storageFlags = ['--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', `/bench-${Date.now()}`];
      etcdResults = await runSuite();
    } finally {
      await etcd.stop();
    }
  }
  const w = Math.max(...sqlite.map(([k]) => k.length));
  console.log(`\nk8ts API benchmarks (${new Date().toISOString()}, ${quick ? 'quick' : 'full'}, server flags: ${serverFlags.join(' ') || 'none'})`);
  if (!etcdResults) {
    for (const [k, v] of sqlite) console.log(`${k.padEnd(w)}  ${v}`);
    return;
  }
  console.log(`${''.padEnd(w)}  ${'SQLite'.padStart(12)}  ${'etcd'.padStart(12)}  etcd/SQLite`);
  for (const [k, v] of sqlite) {
    const e = etcdResults.find(([k2]) => k2 === k)?.[1] ?? '';
    const ratio = parseFloat(e) / parseFloat(v);
    console.log(`${k.padEnd(w)}  ${v.padStart(12)}  ${e.padStart(12)}  ${Number.isFinite(ratio) ? ratio.toFixed(2) : ''}`);
  }
}

/** Every measurement once against servers on the current store. */
async function runSuite(): Promise<[string, string][]> {
  const results: [string, string][] = [];
  // 1. cold start (fresh data dir: includes certificate generation) and warm start.
  const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-bench-'));
  try {
    const first = await startServer(dataDir);
    results.push(['cold start to /readyz, first start (new certs, new DB)', `${first.coldStartMs.toFixed(0)} ms`]);
    await new Promise((r) => setTimeout(r, 1500));
    results.push(['idle RSS after first start', `${rssOf(first.proc.pid!).toFixed(0)} MB`]);
    first.conn.agent.destroy();
    await stopServer(first.proc);
    const starts: number[] = [];
    for (let i = 0; i < (quick ? 2 : 5); i++) {
      const s = await startServer(dataDir);
      starts.push(s.coldStartMs);
      s.conn.agent.destroy();
      await stopServer(s.proc);
    }
    results.push([`start to /readyz, existing data dir (median of ${starts.length})`, `${median(starts).toFixed(0)} ms`]);

    const srv = await startServer(dataDir);
    const c = srv.conn;
    await ensureNamespace(c, 'bench');
    await ensureNamespace(c, 'rate');
    await ensureNamespace(c, 'watch');
    // 2. sustained creates.
    for (const conc of watchOnly ? [] : quick ? [32] : [8, 32, 64]) {
      const rate = await sustainedCreates(c, conc, quick ? 3000 : 8000, 'bench');
      results.push([`durable pod creates/s, ${conc} concurrent keep-alive clients`, `${rate.toFixed(0)} /s`]);
    }
    // 3. fixed-rate latency.
    const lat = watchOnly ? [0] : await fixedRate(c, 1000, quick ? 3000 : 10000, 'rate');
    results.push(['create latency at 1,000/s: p50', `${pct(lat, 50).toFixed(2)} ms`]);
    results.push(['create latency at 1,000/s: p99', `${pct(lat, 99).toFixed(2)} ms`]);
    // 4. list 10,000 pods (the rate namespace holds exactly 10,000 in a full run).
    const countRes = JSON.parse((await request(c, 'GET', '/api/v1/namespaces/rate/pods')).body);
    const listTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const r = await request(c, 'GET', '/api/v1/namespaces/rate/pods');
      if (r.code !== 200) throw new Error('list failed');
      listTimes.push(performance.now() - t);
    }
    results.push([`list of ${countRes.items.length} pods, JSON (median of 5)`, `${median(listTimes).toFixed(0)} ms`]);
    // 5. watch delivery with 500 watchers.
    const cpu0 = cpuMsOf(srv.proc.pid!);
    const { lat: wl, spread, acked, fromCommit, clientCpuPerEvent, serverCpuPerEvent } = await watchLatency(c, dataDir, quick ? 100 : 500, watchEvents ?? (quick ? 20 : 200), 'watch', srv.proc.pid!);
    const cpuPerEvent = (cpuMsOf(srv.proc.pid!) - cpu0) / (quick ? 20 : 50);
    results.push([`watch delivery, ${quick ? 100 : 500} watchers (create sent → event received): p50`, `${pct(wl, 50).toFixed(2)} ms`]);
    results.push([`watch delivery, ${quick ? 100 : 500} watchers: p99`, `${pct(wl, 99).toFixed(2)} ms`]);
    results.push([`watch delivery, lower bound (first watcher's arrival → each arrival): p50 / p99`, `${pct(spread, 50).toFixed(2)} / ${pct(spread, 99).toFixed(2)} ms`]);
    results.push([`watch delivery, create response received → event received: p50 / p99`, `${pct(acked, 50).toFixed(2)} / ${pct(acked, 99).toFixed(2)} ms`]);
    if (fromCommit.length) results.push([`watch delivery, commit (stamped in the server) → event received: p50 / p99`, `${pct(fromCommit, 50).toFixed(2)} / ${pct(fromCommit, 99).toFixed(2)} ms`]);
    results.push([`watch clients' CPU per event, all ${quick ? 100 : 500} watchers (${watcherMode} clients, 4 processes)`, `${clientCpuPerEvent.toFixed(2)} ms`]);
    results.push([`server CPU per create with ${quick ? 100 : 500} watches open (the create and its fan-out)`, `${serverCpuPerEvent.toFixed(2)} ms`]);
    results.push([`server CPU per create fanned out to ${quick ? 100 : 500} watchers (incl. watch setup)`, `${cpuPerEvent.toFixed(2)} ms`]);
    results.push(['RSS after the load', `${rssOf(srv.proc.pid!).toFixed(0)} MB`]);
    c.agent.destroy();
    await stopServer(srv.proc);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}

main().catch((e) => {
  console.error(e);
  for (const p of running) if (p.pid) process.kill(p.pid, 'SIGKILL');
  process.exit(1);
});
