/**
 * End-to-end scheduler throughput against a real API server, in the spirit of upstream's
 * scheduler_perf SchedulingBasic: create N nodes, start the scheduler component, create M pods
 * as fast as concurrent clients can, and time first pod creation to last pod bound (a separate
 * watch counts pods whose spec.nodeName is set).
 *
 * The server runs as a `bin/k8ts server` process when dist/ is built (its own thread and on-disk
 * SQLite, as deployed), else in-process with `:memory:` storage; `--in-process` forces the latter.
 * `--precreate` creates every pod before the scheduler starts and times start to all bound, which
 * leaves the creates out and shows what scheduling plus binding alone sustain.
 * `--no-events` drops the scheduler's events instead of writing them (to see what they cost).
 * `--churn` (in the spirit of upstream's MixedChurn) adds churn while the measured pods schedule:
 * every `--churn-interval` ms (default 100) a hollow Node object joins and the one that joined 10
 * ticks earlier leaves, and the oldest bound measured pod is deleted (grace 0: no kubelet runs to
 * confirm a graceful one).
 * `--required-anti-affinity` gives the pods required hostname anti-affinity within 50 groups
 * (upstream's SchedulingPodAntiAffinity; its threshold is 60 pods/s on 1,000 nodes).
 * `--src` runs the server process from the TypeScript sources (through tsx) rather than dist/.
 * `BENCH_SERVER_NODE_ARGS` adds node flags to the server process (e.g. `--trace-gc-nvp`), and
 * `BENCH_SERVER_STDOUT=1` shows its standard output, where V8's traces go.
 * `--profile FILE` writes a CPU profile of this process (scheduler, load, watch) covering only the
 * measured window.
 * Usage: node --import tsx bench/scheduler/api.ts [--nodes 1000] [--pods 2000] [--concurrency 64] [--in-process] [--src] [--precreate] [--no-events] [--churn] [--churn-interval 100] [--required-anti-affinity] [--profile FILE] [--shared-binding-client]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import https from 'node:https';
import { Session } from 'node:inspector/promises';
import { startServer } from '../../src/app/server.js';
import { setLogLevel } from '../../src/base/log.js';
import { EventRecorder, RestClient, SharedInformerFactory, resources, type ComponentContext, type KObject } from '../../src/client/index.js';
import { SchedulerComponent } from '../../src/scheduler/app.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { freePort } from '../../src/base/ports.js';
import { StatusError } from '../../src/api/errors.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const numNodes = arg('nodes', 1000);
const numPods = arg('pods', 2000);
const concurrency = arg('concurrency', 64);
const bin = resolve('bin/k8ts');
const precreate = process.argv.includes('--precreate');
const noEvents = process.argv.includes('--no-events');
const churn = process.argv.includes('--churn');
const antiAffinity = process.argv.includes('--required-anti-affinity');
const churnIntervalMs = arg('churn-interval', 100);
const profileFile = (() => {
  const i = process.argv.indexOf('--profile');
  return i >= 0 ? process.argv[i + 1] : undefined;
})();
const fromSrc = process.argv.includes('--src');
const inProcess = process.argv.includes('--in-process') || (!fromSrc && !existsSync(resolve('dist/cli/main.js')));
setLogLevel('error');

interface Server {
  url: string;
  ca: string;
  cert: string;
  key: string;
  pid?: number;
  stop(): Promise<void>;
}

async function startProcessServer(): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-sched-bench-'));
  const port = await freePort();
  // --src runs the server from the TypeScript sources (through tsx) instead of dist/.
  const nodeArgs = [...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(fromSrc ? ['--import', 'tsx'] : [])];
  const entry = resolve(fromSrc ? 'src/cli/main.ts' : 'dist/cli/main.js');
  const proc: ChildProcess = spawn(nodeArgs.length ? process.execPath : bin, [...(nodeArgs.length ? [...nodeArgs, entry] : []), 'server', '--data-dir', dataDir, '--port', String(port), '--disable-agent', '--disable-scheduler', '--disable-controller-manager'], {
    stdio: ['ignore', process.env.BENCH_SERVER_STDOUT ? 'inherit' : 'ignore', 'inherit'],
    env: { ...process.env, K8TS_LOG_LEVEL: 'warn' },
  });
  // Never leave the server behind when the bench fails.
  const killServer = () => {
    if (proc.exitCode === null) proc.kill('SIGTERM');
  };
  process.on('exit', killServer);
  const probe = new https.Agent({ rejectUnauthorized: false, keepAlive: false });
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((res) => {
      const r = https.get({ host: '127.0.0.1', port, path: '/readyz', agent: probe }, (m) => {
        m.resume();
        m.on('end', () => res(m.statusCode === 200));
      });
      r.on('error', () => res(false));
    });
    if (ok) break;
    if (i > 3000) throw new Error('server did not become ready');
    await new Promise((r) => setTimeout(r, 10));
  }
  const tls = join(dataDir, 'tls');
  return {
    url: `https://127.0.0.1:${port}`,
    ca: readFileSync(join(tls, 'ca.crt'), 'utf8'),
    cert: readFileSync(join(tls, 'admin.crt'), 'utf8'),
    key: readFileSync(join(tls, 'admin.key'), 'utf8'),
    pid: proc.pid,
    async stop() {
      const exited = new Promise((r) => proc.on('exit', r));
      process.kill(proc.pid!, 'SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function startInProcessServer(): Promise<Server> {
  const s = await startServer({ storagePath: ':memory:', controllers: false });
  return { url: s.url, ca: s.ca, cert: s.adminCert.cert, key: s.adminCert.key, stop: () => s.stop() };
}

/** User+system CPU seconds of a process (Linux). */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function node(name: string, zone: string): KObject {
  const res = { cpu: '4', memory: '32Gi', pods: '110' };
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': zone } },
    status: { capacity: res, allocatable: res, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now }] },
  };
}

function pod(name: string, i: number): KObject {
  // --required-anti-affinity: upstream's SchedulingPodAntiAffinity shape, required hostname
  // anti-affinity within each of 50 app groups (as bench/scheduler/inmem.ts).
  const app = antiAffinity ? `app-${i % 50}` : 'bench';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'bench', labels: { app } },
    spec: {
      containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '100m', memory: '500Mi' } } }],
      ...(antiAffinity
        ? { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app } } }] } } }
        : {}),
    },
  };
}

/** Run `total` tasks with at most `n` in flight. */
async function pool(total: number, n: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, total) }, async () => {
      while (next < total) await task(next++);
    }),
  );
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

async function main(): Promise<void> {
  const server = inProcess ? await startInProcessServer() : await startProcessServer();
  const cfg = { server: server.url, ca: server.ca, cert: server.cert, key: server.key };
  const schedClient = new RestClient({ ...cfg, userAgent: 'k8ts-scheduler' });
  const loadClient = new RestClient({ ...cfg, userAgent: 'bench-load' });
  const watchClient = new RestClient({ ...cfg, userAgent: 'bench-watch' });
  console.log(`scheduler API bench: ${numNodes} nodes, ${numPods} pods, ${concurrency} concurrent creators, server ${inProcess ? 'in-process (:memory:)' : 'process (bin/k8ts, SQLite on disk)'}${precreate ? ', pods created first' : ''}${noEvents ? ', events dropped' : ''}${churn ? `, churn every ${churnIntervalMs} ms` : ''}`);

  await loadClient.create(resources.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
  // ServiceAccount admission wants the namespace's default ServiceAccount (no controller runs here).
  await loadClient.create(resources.serviceaccounts, 'bench', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'bench' } }).catch((e) => {
    if (!(e instanceof StatusError && e.code === 409)) throw e;
  });
  let t = performance.now();
  const zones = ['zone-a', 'zone-b', 'zone-c'];
  await pool(numNodes, concurrency, (i) => loadClient.create(resources.nodes, undefined, node(`node-${i}`, zones[i % 3])));
  console.log(`  created ${numNodes} nodes in ${((performance.now() - t) / 1000).toFixed(2)} s`);

  const informers = new SharedInformerFactory(schedClient);
  const recorders: EventRecorder[] = [];
  const ctx: ComponentContext = {
    client: schedClient,
    informers,
    recorder: (component) => {
      const sink = { path: schedClient.path.bind(schedClient), send: async () => ({}) } as unknown as RestClient;
      const r = new EventRecorder(noEvents ? sink : schedClient, { component, maxPending: 100_000 });
      recorders.push(r);
      return r;
    },
  };
  // Time inside synchronous scheduling cycles (filter, score, assume), for every Scheduler made.
  let cycleMs = 0;
  const scheduleOne = Scheduler.prototype.scheduleOne;
  Scheduler.prototype.scheduleOne = function (this: Scheduler, q) {
    const s = performance.now();
    try {
      return scheduleOne.call(this, q);
    } finally {
      cycleMs += performance.now() - s;
    }
  };
  // --shared-binding-client: bind over the connections events share (the old behaviour), for A/B runs.
  const component = new SchedulerComponent({ dedicatedBindingClient: !process.argv.includes('--shared-binding-client') });
  const startScheduler = async () => {
    const ts = performance.now();
    await component.start(ctx);
    console.log(`  scheduler synced and started in ${((performance.now() - ts) / 1000).toFixed(2)} s`);
  };

  // Count bound pods through our own watch, as scheduler_perf does through an informer.
  const boundNames = new Set<string>();
  const perNode = new Map<string, number>();
  const boundAt: number[] = [];
  const boundOrder: string[] = [];
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const list = await watchClient.list(resources.pods, 'bench', { limit: 1 });
  const watch = watchClient.watch(resources.pods, 'bench', { resourceVersion: list.metadata.resourceVersion }, (ev) => {
    const p = ev.object;
    if ((ev.type === 'ADDED' || ev.type === 'MODIFIED') && p.spec?.nodeName && !boundNames.has(p.metadata.name)) {
      boundNames.add(p.metadata.name);
      boundOrder.push(p.metadata.name);
      boundAt.push(performance.now());
      perNode.set(p.spec.nodeName, (perNode.get(p.spec.nodeName) ?? 0) + 1);
      if (boundNames.size === numPods) resolveDone();
    }
  });
  const createPods = () => pool(numPods, concurrency, (i) => loadClient.create(resources.pods, 'bench', pod(`pod-${i}`, i)));

  if (precreate) {
    t = performance.now();
    await createPods();
    console.log(`  created ${numPods} pods (no scheduler running) in ${((performance.now() - t) / 1000).toFixed(2)} s (${(numPods / ((performance.now() - t) / 1000)).toFixed(0)} creates/s)`);
  } else await startScheduler();

  let session: Session | undefined;
  if (profileFile) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const benchCpu0 = process.cpuUsage();
  const serverCpu0 = server.pid ? cpuSecondsOf(server.pid) : 0;
  const t0 = performance.now();
  let createdAt = t0;
  const creating = precreate ? startScheduler() : createPods().then(() => void (createdAt = performance.now()));
  const churner = churn ? startChurn(loadClient, boundOrder) : undefined;
  const timeout = setTimeout(() => {
    const sched = component.scheduler;
    console.error(`  timed out: ${boundNames.size}/${numPods} bound; scheduler stats ${JSON.stringify(sched?.stats)} queue ${JSON.stringify(sched?.queue.stats())}`);
    process.exit(1);
  }, 600_000);
  await Promise.all([creating, done]);
  clearTimeout(timeout);
  const t1 = performance.now();
  const churned = await churner?.stop();
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(profileFile!, JSON.stringify(profile));
    session.disconnect();
  }
  const benchCpu = process.cpuUsage(benchCpu0);
  const serverCpu = server.pid ? cpuSecondsOf(server.pid) - serverCpu0 : 0;
  const wallS = (t1 - t0) / 1000;

  // Per-second throughput windows, like scheduler_perf's SchedulingThroughput.
  const perSecond: number[] = [];
  for (const at of boundAt) {
    const s = Math.floor((at - t0) / 1000);
    perSecond[s] = (perSecond[s] ?? 0) + 1;
  }
  const windows = Array.from(perSecond, (x) => x ?? 0);
  const maxPerNode = Math.max(...perNode.values());

  const sched = component.scheduler!;
  if (precreate) {
    console.log(`  all ${numPods} bound ${wallS.toFixed(2)} s after the scheduler started`);
    console.log(`  THROUGHPUT: ${(numPods / wallS).toFixed(0)} pods/s (scheduler start, including cache sync, to all bound)`);
  } else {
    console.log(`  created ${numPods} pods in ${((createdAt - t0) / 1000).toFixed(2)} s (${(numPods / ((createdAt - t0) / 1000)).toFixed(0)} creates/s)`);
    console.log(`  all ${numPods} bound ${wallS.toFixed(2)} s after the first create (last bound ${((t1 - createdAt) / 1000).toFixed(2)} s after the last create)`);
    console.log(`  THROUGHPUT: ${(numPods / wallS).toFixed(0)} pods/s (first create to all bound)`);
  }
  console.log(`  per-second bound: avg ${(numPods / windows.length).toFixed(0)}, p50 ${pct(windows, 50)}, p90 ${pct(windows, 90)}, max ${Math.max(...windows)}`);
  console.log(`  spread: ${perNode.size} nodes used, at most ${maxPerNode} pods per node`);
  if (churned) console.log(`  churn: ${churned.nodesAdded} nodes joined, ${churned.nodesRemoved} left, ${churned.podsDeleted} bound pods deleted (${((churned.nodesAdded + churned.nodesRemoved + churned.podsDeleted) / wallS).toFixed(0)} churn writes/s), ${churned.errors} errors`);
  console.log(`  scheduler: ${JSON.stringify(sched.stats)}; scheduling cycles ${cycleMs.toFixed(0)} ms total (${((cycleMs * 1000) / numPods).toFixed(0)} µs/pod)`);
  console.log(
    `  CPU: bench process (scheduler + load + watch) ${((benchCpu.user + benchCpu.system) / 1e6).toFixed(2)} s` +
      (server.pid ? `, server process ${serverCpu.toFixed(2)} s` : ' (server shares this process)') +
      ` over ${wallS.toFixed(2)} s wall`,
  );

  watch.abort();
  await component.stop();
  for (const r of recorders) await r.stop();
  await informers.shutdown();
  for (const c of [schedClient, loadClient, watchClient]) c.close();
  await server.stop();
}

/**
 * MixedChurn-like load: each tick a hollow Node joins, the one from 10 ticks ago leaves, and the
 * oldest bound measured pod is deleted (its room frees up for the pods still pending).
 */
function startChurn(client: RestClient, bound: string[]) {
  const stats = { nodesAdded: 0, nodesRemoved: 0, podsDeleted: 0, errors: 0 };
  const inFlight = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>, ok: () => void) => {
    const t = p.then(ok, () => void stats.errors++).finally(() => inFlight.delete(t));
    inFlight.add(t);
  };
  let k = 0;
  let nextDelete = 0;
  const timer = setInterval(() => {
    track(client.create(resources.nodes, undefined, node(`churn-node-${k}`, 'zone-churn')), () => stats.nodesAdded++);
    if (k >= 10) track(client.delete(resources.nodes, undefined, `churn-node-${k - 10}`), () => stats.nodesRemoved++);
    if (nextDelete < bound.length) track(client.delete(resources.pods, 'bench', bound[nextDelete++]!, { gracePeriodSeconds: 0 }), () => stats.podsDeleted++);
    k++;
  }, churnIntervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.allSettled([...inFlight]);
      return stats;
    },
  };
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
