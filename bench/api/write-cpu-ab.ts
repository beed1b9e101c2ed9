/**
 * Paired A/B of server CPU per write (see write-cpu.ts): two servers (two builds) run side by side
 * and take alternate rounds of the same writes, so that other load on the machine, which drifts
 * over seconds, falls on both alike. Reports each build's median CPU per write and the median of
 * the per-round differences (B - A).
 *
 * Usage: node --import tsx bench/api/write-cpu-ab.ts --a PATH --b PATH --op create|binding|event [--pods N] [--rounds R] [--watchers N]
 * (PATH: a k8ts launcher, like bin/k8ts of each build.)
 */
import type https from 'node:https';
import { parseArgs } from 'node:util';
import { startBenchServer } from './server-process.js';
import { benchPod, must, openPodWatches, pool, writeOp, writeOps, type WriteOp } from './write-ops.js';

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
const op = values.op as WriteOp;
if (!writeOps.includes(op)) throw new Error(`--op: ${writeOps.join(', ')}, not ${op}`);
if (!values.a || !values.b) throw new Error('--a and --b name the two builds');
const pods = Number(values.pods);
const rounds = Number(values.rounds);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const servers = [await startBenchServer({ name: `ab-a-${op}`, bin: values.a }), await startBenchServer({ name: `ab-b-${op}`, bin: values.b })];
const agents: https.Agent[] = [];
try {
  for (const s of servers) {
    await must('namespace', 201, s.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cpu' } }));
    await must('serviceaccount', 201, s.post('/api/v1/namespaces/cpu/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }));
    agents.push(...(await openPodWatches(s, Number(values.watchers))));
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
      if (op === 'binding') await pool(pods, (i) => must('create', 201, s.post('/api/v1/namespaces/cpu/pods', benchPod(`p-${first + i}`))));
      const c0 = s.cpuMs();
      await pool(pods, (i) => writeOp(s, op, first + i));
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
