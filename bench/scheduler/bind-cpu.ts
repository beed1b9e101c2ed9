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
import { parseArgs } from 'node:util';
import { scheduledEvent, startBenchServer } from '../api/server-process.js';

const { values } = parseArgs({
  options: { pods: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' }, bin: { type: 'string' }, src: { type: 'boolean', default: false } },
});
const pods = Number(values.pods);
const rounds = Number(values.rounds);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const server = await startBenchServer({ name: 'bind-cpu', bin: values.bin, src: values.src });
const { post } = server;
try {
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
    let c0 = server.cpuMs();
    await pool(pods, async (i) => {
      const name = `p-${first + i}`;
      const code = await post(`/api/v1/namespaces/cpu/pods/${name}/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace: 'cpu' }, target: { apiVersion: 'v1', kind: 'Node', name: `node-${i % 100}` } });
      if (code !== 201) throw new Error(`binding: ${code}`);
    });
    const bindMs = (server.cpuMs() - c0) / pods;
    c0 = server.cpuMs();
    await pool(pods, async (i) => {
      const name = `p-${first + i}`;
      const code = await post('/api/v1/namespaces/cpu/events', scheduledEvent(name, i));
      if (code !== 201) throw new Error(`event: ${code}`);
    });
    const eventMs = (server.cpuMs() - c0) / pods;
    // Round 0 warms the JIT and is not counted.
    if (round > 0) {
      perBind.push(bindMs);
      perEvent.push(eventMs);
    }
  }
  const all = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(', ');
  console.log(`server CPU per pods/binding, ${pods} x ${rounds} rounds: median ${median(perBind).toFixed(3)} ms (all: ${all(perBind)})`);
  console.log(`server CPU per Scheduled event create, ${pods} x ${rounds} rounds: median ${median(perEvent).toFixed(3)} ms (all: ${all(perEvent)})`);
} finally {
  await server.stop();
}
