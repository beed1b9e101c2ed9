/**
 * Service data-path cost seen from inside a pod (issue 5): one k8ts server with its in-process
 * agent (containerd + CNI + kube-proxy nftables + node DNS server). A client pod runs sequential
 * loops and prints how long each took; this process reads the pod log.
 *
 * - DNS: `nslookup web.default.svc.cluster.local` against the kube-dns ClusterIP (through the
 *   proxy's DNAT) vs the node's DNS server addressed directly.
 * - HTTP: `wget` of a busybox httpd through a ClusterIP Service (2 endpoints) vs a pod IP directly.
 * - Baseline: a bare process spawn (`/bin/sh -c :`), since every busybox query is a new process.
 *
 * Busybox `date` has no %N here, so each loop is timed as a whole with /proc/uptime (10 ms
 * resolution, loops last seconds). Network programming latency is bench/proxy/sync.ts --e2e.
 *
 * Needs root, containerd, runc, nftables, CNI plugins and /bin/busybox (as test/kubelet/agent.test.ts).
 * Usage: node --import tsx bench/services/run.ts [--dns 250] [--http 250] [--rounds 6]
 * The machine is shared, so rounds are short and interleaved; the table shows the best round
 * (least disturbed) and the median round, and ratios use the best rounds.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer, type RunningServer } from '../../src/app/server.js';
import { setLogLevel } from '../../src/base/log.js';
import { RestClient, type KObject } from '../../src/client/rest-client.js';
import { resources } from '../../src/client/resources.js';
import { importBusyboxImage } from '../../src/kubelet/containerd/images.js';
import { pollUntil } from '../../src/base/sleep.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');

const { values: argv } = parseArgs({
  options: {
    dns: { type: 'string', default: '250' },
    http: { type: 'string', default: '250' },
    rounds: { type: 'string', default: '6' },
  },
});
const DNS_N = Number(argv.dns);
const HTTP_N = Number(argv.http);
const ROUNDS = Number(argv.rounds);
const BUSYBOX = 'k8ts.local/busybox:1';
const NS = 'default';
// Ranges no test or other bench uses.
const CLUSTER_CIDR = '10.242.0.0/16';
const SERVICE_CIDR = '10.243.0.0/16';
const LB_POOL = '127.0.243.0/24';
const BRIDGE = `k8tsv${process.pid % 10000}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, stepMs = 200): Promise<T> {
  return pollUntil(fn, { timeoutMs, stepMs, what });
}

/**
 * The client pod's script. `run LABEL N CMD...` runs CMD N times in sequence and prints
 * `RESULT label n failures startUptime endUptime`. Rounds interleave the cases so drift in
 * machine load hits all of them alike.
 */
function clientScript(o: { vip: string; podIP: string; dnsVIP: string; nodeIP: string }): string {
  const name = 'web.default.svc.cluster.local';
  return `
run() { l=$1; n=$2; shift 2; f=0; i=0; s=$(cut -d' ' -f1 /proc/uptime)
  while [ $i -lt $n ]; do "$@" >/dev/null 2>&1 || f=$((f+1)); i=$((i+1)); done
  e=$(cut -d' ' -f1 /proc/uptime); echo "RESULT $l $n $f $s $e"; }
# The proxy may still be programming the Service: wait until the VIP answers.
ok=0; for i in $(seq 100); do timeout 2 wget -qO- http://${o.vip}/ >/dev/null 2>&1 && { ok=1; break; }; sleep 0.2; done
[ $ok = 1 ] || { echo "FATAL the Service VIP never answered"; exit 1; }
echo "PROBE dns-vip:"; nslookup ${name} ${o.dnsVIP} 2>&1 | sed 's/^/  /'
echo "PROBE dns-direct:"; nslookup ${name} ${o.nodeIP} 2>&1 | sed 's/^/  /'
echo "PROBE resolv.conf: $(grep nameserver /etc/resolv.conf)"
# Warm-up (page cache, conntrack, ARP).
run warm 20 nslookup ${name} ${o.dnsVIP} >/dev/null; run warm 20 nslookup ${name} ${o.nodeIP} >/dev/null
run warm 20 wget -qO- http://${o.vip}/ >/dev/null; run warm 20 wget -qO- http://${o.podIP}:8080/ >/dev/null
for r in $(seq ${ROUNDS}); do
  run spawn ${DNS_N} /bin/sh -c :
  run dns-direct ${DNS_N} nslookup ${name} ${o.nodeIP}
  run dns-vip ${DNS_N} nslookup ${name}
  run http-pod ${HTTP_N} wget -qO- http://${o.podIP}:8080/
  run http-vip ${HTTP_N} wget -qO- http://${o.vip}/
done
echo DONE
`;
}

interface Loop {
  label: string;
  n: number;
  failures: number;
  seconds: number;
}

function parseResults(log: string): Loop[] {
  const out: Loop[] = [];
  for (const line of log.split('\n')) {
    const m = /^RESULT (\S+) (\d+) (\d+) ([\d.]+) ([\d.]+)$/.exec(line.trim());
    if (m && m[1] !== 'warm') out.push({ label: m[1], n: Number(m[2]), failures: Number(m[3]), seconds: Number(m[5]) - Number(m[4]) });
  }
  return out;
}

// ---------- set-up, clean-up ----------

let server: RunningServer | undefined;
let client: RestClient | undefined;
let dataDir: string | undefined;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  return (cleaning ??= (async () => {
    try {
      if (server?.agent) await server.agent.stop({ removePods: true, removeState: true });
    } catch (e) {
      console.error(`cleanup: stopping the agent failed: ${(e as Error).message}`);
    }
    try {
      await server?.stop();
    } catch (e) {
      console.error(`cleanup: stopping the server failed: ${(e as Error).message}`);
    }
    client?.close();
    try {
      execFileSync('ip', ['link', 'show', 'dev', BRIDGE], { stdio: 'ignore' });
      console.error(`cleanup: removing leftover bridge ${BRIDGE}`);
      execFileSync('ip', ['link', 'del', 'dev', BRIDGE], { stdio: 'ignore' });
    } catch {
      /* no bridge left: good */
    }
    if (dataDir && existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
  })());
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: cleaning up...`);
    void cleanup().finally(() => process.exit(1));
  });
}

async function podLog(c: RestClient, name: string): Promise<string> {
  // The log is plain text; the client hands non-JSON bodies back as { message }.
  const r = await c.request<any>('GET', `${c.path(resources.pods, NS, name)}/log`);
  return typeof r === 'string' ? r : (r?.message ?? '');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (containerd, network namespaces, nftables)');
  dataDir = mkdtempSync(join(tmpdir(), 'k8ts-svcbench-'));
  const loadBefore = r1(loadavg()[0]);
  server = await startServer({
    dataDir,
    removeDataDirOnStop: true,
    clusterCIDR: CLUSTER_CIDR,
    serviceCIDR: SERVICE_CIDR,
    loadBalancerPool: LB_POOL,
    agent: { bridge: BRIDGE, kubeletPort: 0 },
  });
  const c = (client = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key, userAgent: 'k8ts-bench-services' }));
  const agent = server.agent!;
  await waitFor('the node Ready', async () => {
    const node = await c.get(resources.nodes, '', agent.nodeName);
    return (node.status?.conditions ?? []).some((x: KObject) => x.type === 'Ready' && x.status === 'True');
  }, 60_000);
  await importBusyboxImage({ socket: agent.containerd!.socket, name: BUSYBOX });
  await waitFor('the default ServiceAccount', () => c.get(resources.serviceaccounts, NS, 'default').then(() => true), 30_000);

  const labels = { app: 'web' };
  await c.create(resources.deployments, NS, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'web', image: BUSYBOX, command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www'] }] },
      },
    },
  });
  const svc = await c.create(resources.services, NS, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web' },
    spec: { selector: labels, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] },
  });
  const vip: string = svc.spec.clusterIP;
  const dnsVIP: string = (await c.get(resources.services, 'kube-system', 'kube-dns')).spec.clusterIP;
  const podIP = await waitFor('2 web pods Ready', async () => {
    const pods = (await c.list(resources.pods, NS, { labelSelector: 'app=web' })).items as KObject[];
    const ready = pods.filter((p) => p.status?.conditions?.some((x: KObject) => x.type === 'Ready' && x.status === 'True'));
    return ready.length === 2 ? (ready[0].status.podIP as string) : undefined;
  }, 90_000);

  await c.create(resources.pods, NS, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'bench-client' },
    spec: { restartPolicy: 'Never', containers: [{ name: 'client', image: BUSYBOX, command: ['sh', '-c', clientScript({ vip, podIP, dnsVIP, nodeIP: agent.nodeIP })] }] },
  });
  const phase = await waitFor('the client pod to finish', async () => {
    const p = (await c.get(resources.pods, NS, 'bench-client')).status?.phase;
    return p === 'Succeeded' || p === 'Failed' ? p : undefined;
  }, 170_000, 500);
  const log = await podLog(c, 'bench-client');
  if (phase !== 'Succeeded' || !log.includes('DONE')) throw new Error(`client pod ${phase}:\n${log}`);
  const probes = log.split('\n').filter((l) => !l.startsWith('RESULT') && l.trim() && l !== 'DONE');

  const loops = parseResults(log);
  const by = (label: string) => loops.filter((l) => l.label === label);
  const row = (label: string) => {
    const ls = by(label);
    const ms = ls.map((l) => (l.seconds * 1000) / l.n);
    return { label, rounds: ls.length, n: ls[0]?.n ?? 0, failures: ls.reduce((a, l) => a + l.failures, 0), bestMs: r2(Math.min(...ms)), medianMs: r2(median(ms)), bestPerSec: r1(1000 / Math.min(...ms)), medianPerSec: r1(1000 / median(ms)) };
  };
  const rows = ['spawn', 'dns-direct', 'dns-vip', 'http-pod', 'http-vip'].map(row);
  const get = (l: string) => rows.find((r) => r.label === l)!;
  const spawnMs = get('spawn').bestMs;
  const ratio = (a: string, b: string) => ({
    latency: r2(get(a).bestMs / get(b).bestMs),
    extraMs: r2(get(a).bestMs - get(b).bestMs),
    latencyNetOfSpawn: r2((get(a).bestMs - spawnMs) / (get(b).bestMs - spawnMs)),
    medianLatency: r2(get(a).medianMs / get(b).medianMs),
  });
  const out = {
    bench: 'services',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, load1: r1(loadavg()[0]), node: process.version },
    vip,
    dnsVIP,
    podIP,
    nodeIP: agent.nodeIP,
    rows,
    loadBefore,
    ratios: { dnsVipOverDirect: ratio('dns-vip', 'dns-direct'), httpVipOverPod: ratio('http-vip', 'http-pod') },
  };
  console.log(probes.join('\n'));
  console.log('\ncase         n/round rounds fails   best ms  median ms   best /s  median /s');
  for (const r of rows) console.log(`${r.label.padEnd(12)} ${String(r.n).padStart(7)} ${String(r.rounds).padStart(6)} ${String(r.failures).padStart(5)} ${String(r.bestMs).padStart(9)} ${String(r.medianMs).padStart(10)} ${String(r.bestPerSec).padStart(9)} ${String(r.medianPerSec).padStart(10)}`);
  console.log(JSON.stringify(out, null, 2));
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
