/**
 * Paired A/B of server CPU per write (see write-cpu.ts): two servers (two builds) run side by side
 * and take alternate rounds of the same writes, so that other load on the machine, which drifts
 * over seconds, falls on both alike. Reports each build's median CPU per write and the median of
 * the per-round differences (B - A).
 *
 * Usage: node --import tsx bench/api/write-cpu-ab.ts --a PATH --b PATH --op create|binding|event [--pods N] [--rounds R] [--watchers N]
 * (PATH: a k8ts launcher, like bin/k8ts of each build.)
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { scheduledEvent, startBenchServer, type BenchServer } from './server-process.js';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    op: { type: 'string', default: 'create' },
    pods: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '10' },
    watchers: { type: 'string', default: '0' },
  },
});
const op = values.op!;
if (!['create', 'binding', 'event'].includes(op)) throw new Error(`--op: create, binding or event, not ${op}`);
if (!values.a || !values.b) throw new Error('--a and --b name the two builds');
const pods = Number(values.pods);
const rounds = Number(values.rounds);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const pool = async (n: number, task: (i: number) => Promise<void>) => {
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < n) await task(next++);
  }));
};
const must = async (what: string, want: number, p: Promise<number>) => {
  const code = await p;
  if (code !== want) throw new Error(`${what}: ${code}`);
};
const pod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'bench' } },
  spec: { containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '100m', memory: '500Mi' } } }] },
});
const write = (s: BenchServer, i: number): Promise<void> => {
  const name = `p-${i}`;
  if (op === 'create') return must('create', 201, s.post('/api/v1/namespaces/cpu/pods', pod(name)));
  if (op === 'binding') {
    return must('binding', 201, s.post(`/api/v1/namespaces/cpu/pods/${name}/binding`, {
      apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace: 'cpu' }, target: { apiVersion: 'v1', kind: 'Node', name: `node-${i % 100}` },
    }));
  }
  return must('event', 201, s.post('/api/v1/namespaces/cpu/events', scheduledEvent(name, i)));
};
/** Open n watches on the namespace's pods, reading and discarding what they send. */
const openWatches = async (s: BenchServer, n: number): Promise<https.Agent[]> => {
  const argv = readFileSync(`/proc/${s.proc.pid}/cmdline`, 'utf8').split('\0');
  const dataDir = argv[argv.indexOf('--data-dir') + 1]!;
  const port = Number(argv[argv.indexOf('--port') + 1]);
  const tls = join(dataDir, 'tls');
  const creds = { ca: readFileSync(join(tls, 'ca.crt')), cert: readFileSync(join(tls, 'admin.crt')), key: readFileSync(join(tls, 'admin.key')) };
  const agents: https.Agent[] = [];
  await Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
    const agent = new https.Agent({ keepAlive: true, ...creds });
    agents.push(agent);
    https.get({ host: '127.0.0.1', port, path: '/api/v1/namespaces/cpu/pods?watch=true&allowWatchBookmarks=true', agent }, (m) => {
      m.resume();
      resolve();
    }).on('error', reject);
  })));
  return agents;
};

const servers = [await startBenchServer({ name: `ab-a-${op}`, bin: values.a }), await startBenchServer({ name: `ab-b-${op}`, bin: values.b })];
const agents: https.Agent[] = [];
try {
  for (const s of servers) {
    await must('namespace', 201, s.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cpu' } }));
    await must('serviceaccount', 201, s.post('/api/v1/namespaces/cpu/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }));
    agents.push(...(await openWatches(s, Number(values.watchers))));
  }
  const per: number[][] = [[], []];
  let n = 0;
  for (let round = 0; round <= rounds; round++) {
    const first = n;
    n += pods;
    // Alternate which build goes first, so neither always follows the other.
    const order = round % 2 ? [1, 0] : [0, 1];
    for (const k of order) {
      const s = servers[k]!;
      if (op === 'binding') await pool(pods, (i) => must('create', 201, s.post('/api/v1/namespaces/cpu/pods', pod(`p-${first + i}`))));
      const c0 = s.cpuMs();
      await pool(pods, (i) => write(s, first + i));
      // Round 0 warms the JIT and is not counted.
      if (round > 0) per[k]!.push((s.cpuMs() - c0) / pods);
    }
  }
  const diffs = per[0]!.map((a, i) => per[1]![i]! - a);
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(', ');
  console.log(
    `server CPU per ${op}${values.watchers !== '0' ? ` with ${values.watchers} pod watchers` : ''}, ${pods} x ${rounds} paired rounds: ` +
      `A median ${median(per[0]!).toFixed(3)} ms, B median ${median(per[1]!).toFixed(3)} ms, median B-A ${median(diffs).toFixed(3)} ms ` +
      `(${((100 * median(diffs)) / median(per[0]!)).toFixed(1)}%); A: ${fmt(per[0]!)}; B: ${fmt(per[1]!)}`,
  );
} finally {
  for (const a of agents) a.destroy();
  for (const s of servers) await s.stop();
}
