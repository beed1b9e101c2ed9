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
import type https from 'node:https';
import { parseArgs } from 'node:util';
import { startBenchServer } from './server-process.js';
import { benchPod, must, openPodWatches, pool, writeOp, writeOps, type WriteOp } from './write-ops.js';

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
const op = values.op as WriteOp;
if (!writeOps.includes(op)) throw new Error(`--op: ${writeOps.join(', ')}, not ${op}`);
const pods = Number(values.pods);
const rounds = Number(values.rounds);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const server = await startBenchServer({ name: `write-cpu-${op}`, bin: values.bin, src: values.src });
const { post } = server;
let watchAgents: https.Agent[] = [];
try {
  await must('namespace', 201, post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cpu' } }));
  await must('serviceaccount', 201, post('/api/v1/namespaces/cpu/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }));
  watchAgents = await openPodWatches(server, Number(values.watchers));
  const per: number[] = [];
  let n = 0;
  for (let round = 0; round <= rounds; round++) {
    const first = n;
    n += pods;
    // Bindings need their pods; creating them is not measured.
    if (op === 'binding') await pool(pods, (i) => must('create', 201, post('/api/v1/namespaces/cpu/pods', benchPod(`p-${first + i}`))));
    const c0 = server.cpuMs();
    await pool(pods, (i) => writeOp(server, op, first + i));
    // Round 0 warms the JIT and is not counted.
    if (round > 0) per.push((server.cpuMs() - c0) / pods);
  }
  // The minimum is the least disturbed by other work on the machine (which only ever adds CPU time).
  console.log(`server CPU per ${op}${values.watchers !== '0' ? ` with ${values.watchers} pod watchers` : ''}, ${pods} x ${rounds} rounds: median ${median(per).toFixed(3)} ms, min ${Math.min(...per).toFixed(3)} ms (all: ${per.map((x) => x.toFixed(3)).join(', ')})`);
} finally {
  for (const a of watchAgents) a.destroy();
  await server.stop();
}
