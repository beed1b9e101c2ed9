/**
 * Where the runtime's time and CPU go when pods start, without the control plane: a private
 * containerd (in its own network namespace, bridge CNI) driven straight over CRI, N pods of one
 * busybox `sleep` container each, started with at most C in flight. Each pod: RunPodSandbox,
 * CreateContainer, StartContainer. CPU is read from /proc: containerd with its reaped children
 * (CNI plugins, `shim start`), and the shims with theirs (runc/crun).
 *
 * Usage: node --import tsx bench/pod-startup/runtime-breakdown.ts [--pods 10] [--parallel 0 (all)]
 *          [--runs 3] [--oci auto|runc|crun] [--pause static|busybox] [--portmap] [--log-level debug --keep-log FILE]
 * Needs root, containerd, runc (or crun), the CNI plugins and /bin/busybox.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bridgeConflist, containerdPaths, removeStateDir, startContainerd, type ContainerdHandle } from '../../src/kubelet/containerd/containerd.js';
import { importBusyboxImage, importPauseImage } from '../../src/kubelet/containerd/images.js';
import { removeAllPodSandboxes } from '../../src/kubelet/runtime/cleanup.js';
import { CriRuntime } from '../../src/kubelet/runtime/cri-runtime.js';
import type { PodSandboxConfig } from '../../src/kubelet/runtime/runtime.js';

const { values: argv } = parseArgs({
  options: {
    pods: { type: 'string', default: '10' },
    parallel: { type: 'string', default: '0' },
    runs: { type: 'string', default: '3' },
    oci: { type: 'string', default: 'auto' },
    pause: { type: 'string', default: 'static' },
    portmap: { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'info' },
    'keep-log': { type: 'string' },
  },
});
const PODS = Number(argv.pods);
const PARALLEL = Number(argv.parallel) || PODS;
const RUNS = Number(argv.runs);
const PAUSE = 'k8ts.local/pause:1';
const BUSYBOX = 'k8ts.local/busybox:1';
const tag = process.pid.toString(36).slice(-5);
const netns = `k8ts-rb-${tag}`;
const bridge = `k8tsrb${tag}`;
const subnet = `10.252.${process.pid % 200}.0/24`;

const safeRead = (p: string) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
};
/** utime+stime+cutime+cstime of a process, ms (100 Hz ticks). */
function cpuMs(pid: number): number {
  const s = safeRead(`/proc/${pid}/stat`);
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10 || 0;
}
const pids = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
const shimsOf = (socket: string) => pids().filter((p) => {
  const c = safeRead(`/proc/${p}/cmdline`);
  return c.includes('containerd-shim') && c.includes(socket);
});
function machineBusy(): { busy: number; total: number } {
  const f = safeRead('/proc/stat').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - (f[4] ?? 0), total };
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const r0 = (x: number) => Math.round(x);

async function pool<T>(items: T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) await f(items[i++]);
  }));
}

async function main(): Promise<void> {
  const stateDir = mkdtempSync('/tmp/k8ts-rb-');
  let cd: ContainerdHandle | undefined;
  let rt: CriRuntime | undefined;
  execFileSync('ip', ['netns', 'add', netns]);
  try {
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    const p = containerdPaths(stateDir);
    mkdirSync(p.cniConfDir, { recursive: true });
    writeFileSync(join(p.cniConfDir, '10-k8ts.conflist'), bridgeConflist({ bridge, subnet, dataDir: join(stateDir, 'cni', 'ipam'), portmap: argv.portmap }));
    cd = await startContainerd({ stateDir, pauseImage: PAUSE, netns: `/var/run/netns/${netns}`, ociRuntime: argv.oci as 'auto', logLevel: argv['log-level'] });
    rt = new CriRuntime({ socket: cd.socket });
    await importBusyboxImage({ socket: cd.socket, name: BUSYBOX });
    await importPauseImage({ socket: cd.socket, name: PAUSE, kind: argv.pause as 'static' | 'busybox' });
    const conf = readFileSync(cd.configPath, 'utf8');
    console.error(`oci runtime: ${/BinaryName = "([^"]*)"/.exec(conf)?.[1] ?? 'runc'}; pause ${argv.pause}; portmap ${argv.portmap}; pods ${PODS}, parallel ${PARALLEL}`);
    const out: Record<string, unknown>[] = [];
    for (let run = 0; run < RUNS; run++) {
      const names = Array.from({ length: PODS }, (_, i) => `p${run}-${i}`);
      const t: Record<string, { sb: number; cc: number; sc: number; total: number }> = {};
      const cpid = cd.pid()!;
      const c0 = cpuMs(cpid);
      const m0 = machineBusy();
      const self0 = process.cpuUsage();
      const w0 = performance.now();
      await pool(names, PARALLEL, async (name) => {
        const a = performance.now();
        const sb: PodSandboxConfig = {
          metadata: { name, namespace: 'default', uid: `uid-${name}`, attempt: 0 },
          hostname: name,
          logDirectory: join(stateDir, 'pods', name),
          dnsConfig: { servers: ['10.96.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] },
          labels: {},
          annotations: {},
          linux: { securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
        };
        const id = await rt!.runPodSandbox(sb);
        const b = performance.now();
        const c = await rt!.createContainer(id, { metadata: { name: 'c', attempt: 0 }, image: { image: BUSYBOX }, command: ['sleep', '3600'], labels: {}, annotations: {}, logPath: 'c/0.log' }, sb);
        const d = performance.now();
        await rt!.startContainer(c);
        const e = performance.now();
        t[name] = { sb: b - a, cc: d - b, sc: e - d, total: e - a };
      });
      const wall = performance.now() - w0;
      const shims = shimsOf(cd.socket);
      const shimCpu = shims.reduce((a, s) => a + cpuMs(s), 0);
      const ctrdCpu = cpuMs(cpid) - c0;
      const self = process.cpuUsage(self0);
      const m1 = machineBusy();
      const machineMs = ((m1.busy - m0.busy) / 100) * 1000 / 1; // jiffies → ms (all cores)
      const v = Object.values(t);
      const stat = (k: 'sb' | 'cc' | 'sc' | 'total') => ({ p50: r0(pct(v.map((x) => x[k]), 50)), p99: r0(pct(v.map((x) => x[k]), 99)) });
      const row = {
        run,
        wallMs: r0(wall),
        runPodSandbox: stat('sb'),
        createContainer: stat('cc'),
        startContainer: stat('sc'),
        total: stat('total'),
        cpuMs: { containerdAndChildren: ctrdCpu, shimsAndRuntime: shimCpu, bench: r0((self.user + self.system) / 1000), machineAll: r0(machineMs), perPod: r0((ctrdCpu + shimCpu) / PODS) },
      };
      out.push(row);
      console.log(JSON.stringify(row));
      await removeAllPodSandboxes(rt);
    }
    const med = (f: (r: any) => number) => pct(out.map(f), 50);
    console.log(JSON.stringify({
      summary: `pods ${PODS} parallel ${PARALLEL} oci ${argv.oci} pause ${argv.pause} portmap ${argv.portmap}`,
      medianOfRuns: {
        wallMs: med((r) => r.wallMs),
        totalP50: med((r) => r.total.p50),
        totalP99: med((r) => r.total.p99),
        runPodSandboxP50: med((r) => r.runPodSandbox.p50),
        createContainerP50: med((r) => r.createContainer.p50),
        startContainerP50: med((r) => r.startContainer.p50),
        cpuPerPodMs: med((r) => r.cpuMs.perPod),
        containerdCpuMs: med((r) => r.cpuMs.containerdAndChildren),
        shimsCpuMs: med((r) => r.cpuMs.shimsAndRuntime),
      },
    }));
  } finally {
    if (argv['keep-log'] && cd) copyFileSync(cd.logPath, argv['keep-log']);
    if (rt) {
      await removeAllPodSandboxes(rt);
      rt.close();
    }
    await cd?.stop();
    await removeStateDir(stateDir).catch((e) => console.error(`cleanup: ${(e as Error).message}`));
    try {
      execFileSync('ip', ['-n', netns, 'link', 'del', bridge], { stdio: 'ignore' });
    } catch {
      /* gone with the namespace */
    }
    execFileSync('ip', ['netns', 'del', netns]);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
