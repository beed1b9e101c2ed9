/**
 * In-memory scheduler throughput: 5,000 nodes and 10,000 simple pods through the full Scheduler
 * (queue, default plugins, assume cache) with a no-op bind. Prints pods/s.
 * Usage: node --import tsx bench/scheduler/inmem.ts [--nodes N] [--pods N] [--rounds N] [--spread | --required-anti-affinity] [--churn]
 * `--spread` gives every pod a zone topology spread constraint and a preferred hostname
 * anti-affinity (the costlier plugins), instead of plain cpu/memory requests.
 */
import { setLogSink } from '../../src/base/log.js';
import { Scheduler, type ClusterEventHandlers, type ClusterSource } from '../../src/scheduler/index.js';
import { makeNode, makePod } from '../../src/scheduler/testing/builders.js';
import type { Node, Pod } from '../../src/scheduler/framework/types.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const numNodes = arg('nodes', 5000);
const numPods = arg('pods', 10000);
const rounds = arg('rounds', 3);
const spread = process.argv.includes('--spread');
// upstream's SchedulingPodAntiAffinity shape: required hostname anti-affinity within each app group.
const antiAffinity = process.argv.includes('--required-anti-affinity');
// Mixed churn, in the spirit of upstream's MixedChurn: while the measured pods schedule, nodes come
// and go and already-running pods are created and deleted, all through the same event handlers.
const churn = process.argv.includes('--churn');
setLogSink(() => {});

async function round(): Promise<{ podsPerSec: number; scheduled: number; ms: number; maxPerNode: number }> {
  const zones = ['zone-a', 'zone-b', 'zone-c'];
  const nodes = Array.from({ length: numNodes }, (_, i) =>
    makeNode(`node-${i}`, { cpu: '4', memory: '16Gi', pods: 110, labels: { 'topology.kubernetes.io/zone': zones[i % 3] } }),
  );
  const pods: Pod[] = Array.from({ length: numPods }, (_, i) => {
    const app = `app-${i % 50}`;
    return makePod(`pod-${i}`, {
      cpu: '100m',
      memory: '128Mi',
      labels: { app },
      ...(antiAffinity
        ? {
            affinity: {
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app } } }],
              },
            },
          }
        : spread
        ? {
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app } } }],
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app } } } }],
              },
            },
          }
        : {}),
    });
  });
  let handlers!: ClusterEventHandlers;
  let bound = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const perNode = new Map<string, number>();
  const source: ClusterSource = {
    subscribe(h) {
      handlers = h;
      for (const n of nodes) h.addNode(n);
      return () => {};
    },
    bind(_pod, nodeName) {
      perNode.set(nodeName, (perNode.get(nodeName) ?? 0) + 1);
      if (++bound === numPods) resolveDone();
      return Promise.resolve();
    },
    recordFailure(pod, f) {
      throw new Error(`unexpected failure for ${pod.metadata?.name}: ${f.message}`);
    },
  };
  const s = new Scheduler(source);
  s.start();
  const t0 = performance.now();
  let churnTimer: NodeJS.Timeout | undefined;
  let churned = 0;
  if (churn) {
    let k = 0;
    let lastNode: Node | undefined;
    const running: Pod[] = [];
    churnTimer = setInterval(() => {
      // One node joins and the previous churn node leaves; one running pod starts, and the oldest stops.
      const n = makeNode(`churn-node-${k}`, { cpu: '4', memory: '16Gi', pods: 110, labels: { 'topology.kubernetes.io/zone': 'zone-a' } });
      handlers.addNode(n);
      if (lastNode) handlers.deleteNode(lastNode);
      lastNode = n;
      const rp = makePod(`churn-pod-${k}`, { cpu: '100m', memory: '128Mi', labels: { app: 'churn' } });
      (rp.spec as any).nodeName = `node-${k % numNodes}`;
      handlers.addPod(rp);
      running.push(rp);
      if (running.length > 50) handlers.deletePod(running.shift()!);
      k++;
      churned++;
    }, 1);
  }
  for (const p of pods) handlers.addPod(p);
  await done;
  const ms = performance.now() - t0;
  if (churnTimer) clearInterval(churnTimer);
  if (churn) console.log(`  churn during the round: ${churned} node joins/leaves and ${churned} running-pod creates/deletes`);
  await s.stop();
  return { podsPerSec: (numPods / ms) * 1000, scheduled: s.stats.scheduled, ms, maxPerNode: Math.max(...perNode.values()) };
}

const results = [];
for (let i = 0; i < rounds; i++) {
  const r = await round();
  results.push(r.podsPerSec);
  console.log(
    `round ${i + 1}: ${numPods} pods on ${numNodes} nodes in ${r.ms.toFixed(0)} ms = ${r.podsPerSec.toFixed(0)} pods/s (scheduled ${r.scheduled}, max ${r.maxPerNode} per node)`,
  );
}
results.sort((a, b) => a - b);
console.log(`median: ${results[Math.floor(results.length / 2)].toFixed(0)} pods/s`);
