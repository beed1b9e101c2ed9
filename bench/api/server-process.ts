/**
 * A `k8ts server` process for the CPU-per-request benchmarks (bench/api/create-cpu.ts,
 * bench/scheduler/bind-cpu.ts): API server only, on a fresh data dir, with an admin client that
 * POSTs over 32 keep-alive connections, and the process's CPU time read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../src/base/ports.js';

export interface BenchServer {
  proc: ChildProcess;
  /** user + system CPU time of the server process so far, ms. */
  cpuMs(): number;
  /** POST a JSON body as the admin; resolves to the status code. */
  post(path: string, body: unknown): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Start the server from `bin` (default bin/k8ts), or with `src` from the TypeScript sources through
 * tsx; BENCH_SERVER_NODE_ARGS adds node flags in that case. Resolves once /readyz is ok.
 */
export async function startBenchServer(opts: { name: string; bin?: string; src?: boolean }): Promise<BenchServer> {
  const dataDir = mkdtempSync(join(tmpdir(), `k8ts-bench-${opts.name}-`));
  const port = await freePort();
  const args = ['server', '--data-dir', dataDir, '--port', String(port), '--disable-agent', '--disable-scheduler', '--disable-controller-manager'];
  const spawnOpts = { stdio: ['ignore', 'ignore', 'inherit'] as ('ignore' | 'inherit')[], env: { ...process.env, K8TS_LOG_LEVEL: 'warn' } };
  const proc = opts.src
    ? spawn(process.execPath, [...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', resolve('src/cli/main.ts'), ...args], spawnOpts)
    : spawn(opts.bin ?? resolve('bin/k8ts'), args, spawnOpts);
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const probe = new https.Agent({ rejectUnauthorized: false });
    for (let i = 0; ; i++) {
      const ok = await new Promise<boolean>((res) => {
        https.get({ host: '127.0.0.1', port, path: '/readyz', agent: probe }, (m) => (m.resume(), m.on('end', () => res(m.statusCode === 200)))).on('error', () => res(false));
      });
      if (ok) break;
      if (i > 3000 || proc.exitCode !== null) throw new Error('the server did not become ready');
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const tls = join(dataDir, 'tls');
  const agent = new https.Agent({ keepAlive: true, maxSockets: 32, ca: readFileSync(join(tls, 'ca.crt')), cert: readFileSync(join(tls, 'admin.crt')), key: readFileSync(join(tls, 'admin.key')) });
  return {
    proc,
    cpuMs() {
      const f = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
    },
    post: (path, body) =>
      new Promise<number>((res, rej) => {
        const payload = Buffer.from(JSON.stringify(body));
        const r = https.request({ host: '127.0.0.1', port, method: 'POST', path, agent, headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length, Accept: 'application/json' } }, (m) => {
          m.resume();
          m.on('end', () => res(m.statusCode ?? 0));
        });
        r.on('error', rej);
        r.end(payload);
      }),
    async stop() {
      agent.destroy();
      await stop();
    },
  };
}

/**
 * The core/v1 Scheduled event the scheduler's recorder posts for pod `name` (namespace `cpu`)
 * bound to `node-<i % 100>`, as the CPU benchmarks post it.
 */
export function scheduledEvent(name: string, i: number): Record<string, unknown> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${name}.${(Date.now() * 1e6 + i).toString(16)}`, namespace: 'cpu' },
    involvedObject: { kind: 'Pod', namespace: 'cpu', name, apiVersion: 'v1' },
    reason: 'Scheduled',
    message: `Successfully assigned cpu/${name} to node-${i % 100}`,
    source: { component: 'default-scheduler' },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    type: 'Normal',
    reportingComponent: 'default-scheduler',
    reportingInstance: 'default-scheduler',
  };
}
