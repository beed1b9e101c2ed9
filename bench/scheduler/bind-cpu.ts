/**
 * Server CPU per scheduler write: the CPU time (user + system, from /proc) a `k8ts server` process
 * spends per pods/binding and per Scheduled Event create (core/v1, as the scheduler's recorder
 * writes it), with 32 keep-alive clients. Like bench/api/create-cpu.ts it hardly moves when other
 * work shares the machine, so it is the figure to compare builds of the binding and event paths by.
 * The pods bound are created first and not measured.
 *
 * Usage: node --import tsx bench/scheduler/bind-cpu.ts [--pods N] [--rounds R] [--src | --bin PATH]
 * `--src` runs the server from the TypeScript sources through tsx (no dist/ build needed);
 * BENCH_SERVER_NODE_ARGS adds node flags to it (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../../src/base/ports.js';

const { values } = parseArgs({
  options: { pods: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' }, bin: { type: 'string', default: resolve('bin/k8ts') }, src: { type: 'boolean', default: false } },
});
const pods = Number(values.pods);
const rounds = Number(values.rounds);

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rfc3339 = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-bench-bind-cpu-'));
const port = await freePort();
const serverArgs = ['server', '--data-dir', dataDir, '--port', String(port), '--disable-agent', '--disable-scheduler', '--disable-controller-manager'];
const proc = values.src
  ? spawn(process.execPath, [...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', resolve('src/cli/main.ts'), ...serverArgs], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, K8TS_LOG_LEVEL: 'warn' } })
  : spawn(values.bin!, serverArgs, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, K8TS_LOG_LEVEL: 'warn' } });
try {
  const probe = new https.Agent({ rejectUnauthorized: false });
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((res) => {
      https.get({ host: '127.0.0.1', port, path: '/readyz', agent: probe }, (m) => (m.resume(), m.on('end', () => res(m.statusCode === 200)))).on('error', () => res(false));
    });
    if (ok) break;
    if (i > 3000) throw new Error('server did not become ready');
    await new Promise((r) => setTimeout(r, 20));
  }
  const tls = join(dataDir, 'tls');
  const agent = new https.Agent({ keepAlive: true, maxSockets: 32, ca: readFileSync(join(tls, 'ca.crt')), cert: readFileSync(join(tls, 'admin.crt')), key: readFileSync(join(tls, 'admin.key')) });
  const post = (path: string, body: unknown) =>
    new Promise<number>((res, rej) => {
      const payload = Buffer.from(JSON.stringify(body));
      const r = https.request({ host: '127.0.0.1', port, method: 'POST', path, agent, headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length, Accept: 'application/json' } }, (m) => {
        m.resume();
        m.on('end', () => res(m.statusCode ?? 0));
      });
      r.on('error', rej);
      r.end(payload);
    });
  const pool = async (n: number, task: (i: number) => Promise<void>) => {
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < n) await task(next++);
    }));
  };
  await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cpu' } });
  await post('/api/v1/namespaces/cpu/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
  const pod = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'bench' } },
    spec: { containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '100m', memory: '500Mi' } } }] },
  });
  const perBind: number[] = [];
  const perEvent: number[] = [];
  let n = 0;
  for (let round = 0; round <= rounds; round++) {
    const first = n;
    await pool(pods, async () => {
      const code = await post('/api/v1/namespaces/cpu/pods', pod(`p-${n++}`));
      if (code !== 201) throw new Error(`create: ${code}`);
    });
    let c0 = cpuMs(proc.pid!);
    await pool(pods, async (i) => {
      const name = `p-${first + i}`;
      const code = await post(`/api/v1/namespaces/cpu/pods/${name}/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace: 'cpu' }, target: { apiVersion: 'v1', kind: 'Node', name: `node-${i % 100}` } });
      if (code !== 201) throw new Error(`binding: ${code}`);
    });
    const bindMs = (cpuMs(proc.pid!) - c0) / pods;
    c0 = cpuMs(proc.pid!);
    await pool(pods, async (i) => {
      const name = `p-${first + i}`;
      const now = rfc3339();
      const code = await post('/api/v1/namespaces/cpu/events', {
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
      });
      if (code !== 201) throw new Error(`event: ${code}`);
    });
    const eventMs = (cpuMs(proc.pid!) - c0) / pods;
    // Round 0 warms the JIT and is not counted.
    if (round > 0) {
      perBind.push(bindMs);
      perEvent.push(eventMs);
    }
  }
  const all = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(', ');
  console.log(`server CPU per pods/binding, ${pods} x ${rounds} rounds: median ${median(perBind).toFixed(3)} ms (all: ${all(perBind)})`);
  console.log(`server CPU per Scheduled event create, ${pods} x ${rounds} rounds: median ${median(perEvent).toFixed(3)} ms (all: ${all(perEvent)})`);
  agent.destroy();
} finally {
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
