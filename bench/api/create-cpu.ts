/**
 * Server CPU per durable pod create: the CPU time (user + system, from /proc) a `k8ts server`
 * process spends per pod create, with 32 keep-alive clients. Unlike creates/s it hardly moves
 * when other work shares the machine, so it is the figure to compare builds by.
 *
 * Usage: node --import tsx bench/api/create-cpu.ts [--pods N] [--rounds R] [--bin PATH]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../../src/base/ports.js';

const { values } = parseArgs({ options: { pods: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '3' }, bin: { type: 'string', default: resolve('bin/k8ts') } } });
const pods = Number(values.pods);
const rounds = Number(values.rounds);

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-bench-cpu-'));
const port = await freePort();
const proc = spawn(values.bin!, ['server', '--data-dir', dataDir, '--port', String(port), '--disable-agent', '--disable-scheduler', '--disable-controller-manager'], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, K8TS_LOG_LEVEL: 'warn' },
});
try {
  const probe = new https.Agent({ rejectUnauthorized: false });
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      https.get({ host: '127.0.0.1', port, path: '/readyz', agent: probe }, (m) => (m.resume(), m.on('end', () => res(m.statusCode === 200)))).on('error', () => res(false));
    });
    if (ok) break;
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
  await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cpu' } });
  await post('/api/v1/namespaces/cpu/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
  const pod = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'bench', tier: 'web' } },
    spec: {
      containers: [{
        name: 'main', image: 'registry.example/bench/app:1.2.3', ports: [{ containerPort: 8080, name: 'http' }],
        env: [{ name: 'MODE', value: 'bench' }, { name: 'LEVEL', value: 'info' }],
        resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
      }],
    },
  });
  const perCreate: number[] = [];
  let n = 0;
  for (let round = 0; round <= rounds; round++) {
    const c0 = cpuMs(proc.pid!);
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < pods) {
        next++;
        const code = await post('/api/v1/namespaces/cpu/pods', pod(`p-${n++}`));
        if (code !== 201) throw new Error(`create: ${code}`);
      }
    }));
    // Round 0 warms the JIT and is not counted.
    if (round > 0) perCreate.push((cpuMs(proc.pid!) - c0) / pods);
  }
  perCreate.sort((a, b) => a - b);
  console.log(`server CPU per pod create, ${pods} creates x ${rounds} rounds: median ${perCreate[Math.floor(perCreate.length / 2)]!.toFixed(3)} ms (all: ${perCreate.map((x) => x.toFixed(3)).join(', ')})`);
  agent.destroy();
} finally {
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
