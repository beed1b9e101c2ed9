/**
 * Server CPU per write for one request kind at a time (pod create, pods/binding, or a Scheduled
 * core/v1 Event as the scheduler's recorder posts it), so a CPU profile of the server covers one
 * path only. Like create-cpu.ts and bind-cpu.ts, it reports CPU time per request (median of rounds).
 *
 * With `--watchers N`, N clients watch the namespace's pods throughout (as the scheduler and
 * informers do), so the figure includes the server's watch fan-out of each write.
 *
 * Usage: node --import tsx bench/api/write-cpu.ts --op create|binding|event [--pods N] [--rounds R] [--watchers N] [--src | --bin PATH]
 * With `--src`, BENCH_SERVER_NODE_ARGS adds node flags (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { scheduledEvent, startBenchServer } from './server-process.js';

const { values } = parseArgs({
  options: {
    op: { type: 'string', default: 'create' },
    pods: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
    watchers: { type: 'string', default: '0' },
    bin: { type: 'string' },
    src: { type: 'boolean', default: false },
  },
});
const op = values.op!;
if (!['create', 'binding', 'event'].includes(op)) throw new Error(`--op: create, binding or event, not ${op}`);
const pods = Number(values.pods);
const rounds = Number(values.rounds);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const server = await startBenchServer({ name: `write-cpu-${op}`, bin: values.bin, src: values.src });
const { post } = server;
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
const write = (i: number): Promise<void> => {
  const name = `p-${i}`;
  if (op === 'create') return must('create', 201, post('/api/v1/namespaces/cpu/pods', pod(name)));
  if (op === 'binding') {
    return must('binding', 201, post(`/api/v1/namespaces/cpu/pods/${name}/binding`, {
      apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace: 'cpu' }, target: { apiVersion: 'v1', kind: 'Node', name: `node-${i % 100}` },
    }));
  }
  return must('event', 201, post('/api/v1/namespaces/cpu/events', scheduledEvent(name, i)));
};
/** Open n watches on the namespace's pods, reading and discarding what they send. */
const openWatches = async (n: number): Promise<https.Agent[]> => {
  // The server's data dir and port, from its command line (the helper does not expose them).
  const argv = readFileSync(`/proc/${server.proc.pid}/cmdline`, 'utf8').split('\0');
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
let watchAgents: https.Agent[] = [];
try {
  await must('namespace', 201, post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cpu' } }));
  await must('serviceaccount', 201, post('/api/v1/namespaces/cpu/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }));
  watchAgents = await openWatches(Number(values.watchers));
  const per: number[] = [];
  let n = 0;
  for (let round = 0; round <= rounds; round++) {
    const first = n;
    n += pods;
    // Bindings need their pods; creating them is not measured.
    if (op === 'binding') await pool(pods, (i) => must('create', 201, post('/api/v1/namespaces/cpu/pods', pod(`p-${first + i}`))));
    const c0 = server.cpuMs();
    await pool(pods, (i) => write(first + i));
    // Round 0 warms the JIT and is not counted.
    if (round > 0) per.push((server.cpuMs() - c0) / pods);
  }
  // The minimum is the least disturbed by other work on the machine (which only ever adds CPU time).
  console.log(`server CPU per ${op}${values.watchers !== '0' ? ` with ${values.watchers} pod watchers` : ''}, ${pods} x ${rounds} rounds: median ${median(per).toFixed(3)} ms, min ${Math.min(...per).toFixed(3)} ms (all: ${per.map((x) => x.toFixed(3)).join(', ')})`);
} finally {
  for (const a of watchAgents) a.destroy();
  await server.stop();
}
