/**
 * Server CPU per durable pod create: the CPU time (user + system, from /proc) a `k8ts server`
 * process spends per pod create, with 32 keep-alive clients. Unlike creates/s it hardly moves
 * when other work shares the machine, so it is the figure to compare builds by.
 *
 * Usage: node --import tsx bench/api/create-cpu.ts [--pods N] [--rounds R] [--bin PATH]
 */
import { parseArgs } from 'node:util';
import { startBenchServer } from './server-process.js';

const { values } = parseArgs({ options: { pods: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '3' }, bin: { type: 'string' } } });
const pods = Number(values.pods);
const rounds = Number(values.rounds);

const server = await startBenchServer({ name: 'cpu', bin: values.bin });
const { post } = server;
try {
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
    const c0 = server.cpuMs();
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < pods) {
        next++;
        const code = await post('/api/v1/namespaces/cpu/pods', pod(`p-${n++}`));
        if (code !== 201) throw new Error(`create: ${code}`);
      }
    }));
    // Round 0 warms the JIT and is not counted.
    if (round > 0) perCreate.push((server.cpuMs() - c0) / pods);
  }
  perCreate.sort((a, b) => a - b);
  console.log(`server CPU per pod create, ${pods} creates x ${rounds} rounds: median ${perCreate[Math.floor(perCreate.length / 2)]!.toFixed(3)} ms (all: ${perCreate.map((x) => x.toFixed(3)).join(', ')})`);
} finally {
  await server.stop();
}
