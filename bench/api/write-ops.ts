/**
 * The writes the CPU-per-request benchmarks measure (bench/api/write-cpu.ts and write-cpu-ab.ts):
 * pod creates, their bindings and Scheduled events, sent 32 at a time, and pod watches that read
 * and discard what they get.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { scheduledEvent, type BenchServer } from './server-process.js';

export type WriteOp = 'create' | 'binding' | 'event';
export const writeOps: WriteOp[] = ['create', 'binding', 'event'];

/** Run `task` for 0..n-1, 32 at a time. */
export async function pool(n: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

/** Fails unless the request answered `want`. */
export async function must(what: string, want: number, p: Promise<number>): Promise<void> {
  const code = await p;
  if (code !== want) throw new Error(`${what}: ${code}`);
}

export const benchPod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'bench' } },
  spec: { containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '100m', memory: '500Mi' } } }] },
});

/** The `i`th write of `op` in namespace `cpu` (a binding needs pod p-i to exist). */
export function writeOp(s: Pick<BenchServer, 'post'>, op: WriteOp, i: number): Promise<void> {
  const name = `p-${i}`;
  if (op === 'create') return must('create', 201, s.post('/api/v1/namespaces/cpu/pods', benchPod(name)));
  if (op === 'binding') {
    return must('binding', 201, s.post(`/api/v1/namespaces/cpu/pods/${name}/binding`, {
      apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace: 'cpu' }, target: { apiVersion: 'v1', kind: 'Node', name: `node-${i % 100}` },
    }));
  }
  return must('event', 201, s.post('/api/v1/namespaces/cpu/events', scheduledEvent(name, i)));
}

/** Open n watches on namespace `cpu`'s pods, reading and discarding what they send. */
export async function openPodWatches(s: BenchServer, n: number): Promise<https.Agent[]> {
  // The server's data dir and port, from its command line (the helper does not expose them).
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
}
