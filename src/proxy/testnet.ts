/**
 * A private network for proxy tests, made only of namespaces this process creates (all named
 * k8ts-np-*, so they are recognisably the proxy tests' own):
 *
 *   ext (10.77.0.2) ──veth── node (10.77.0.1; br0 10.244.1.1/24) ──veth── pod1 10.244.1.2
 *                                                               └─veth── pod2 10.244.1.3
 *
 * Each pod runs busybox httpd answering its own name. Nothing is attached to the host's network.
 * Processes are stopped by PID and the namespaces deleted in {@link Topology.destroy}.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Topology {
  node: string;
  ext: string;
  pods: { ns: string; ip: string; name: string }[];
  nodeIP: string;
  extIP: string;
  /** Run a command in a namespace; returns status, output and wall time. */
  exec(ns: string, cmd: string[], timeoutMs?: number): { status: number | null; stdout: string; stderr: string; ms: number };
  /** Like {@link exec}, without blocking the event loop (the proxy under test runs in this process). */
  execAsync(ns: string, cmd: string[], timeoutMs?: number): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }>;
  /** GET http://host:port/ from a namespace with busybox wget; the body trimmed, or an error text. */
  get(ns: string, host: string, port?: number, timeoutSec?: number): Promise<{ ok: boolean; body: string; ms: number }>;
  /** Start a long-running process in a namespace; it is killed (by PID) in {@link destroy}. */
  daemon(ns: string, cmd: string[]): ChildProcess;
  destroy(): void;
}

/** Why the topology cannot be built here, or undefined when it can. */
export function topologyUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const [cmd, arg] of [['ip', '-V'], ['nsenter', '--version'], ['busybox', '--help']]) {
    const r = spawnSync(cmd, [arg], { stdio: 'ignore' });
    if (r.error) return `${cmd} is missing`;
  }
  return undefined;
}

function sh(args: string[]): void {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

/** Build the topology with names unique to this process and `tag`. */
export function buildTopology(tag: string): Topology {
  const id = `${tag}${process.pid}`;
  const node = `k8ts-np-n-${id}`;
  const ext = `k8ts-np-e-${id}`;
  const pods = [
    { ns: `k8ts-np-p1-${id}`, ip: '10.244.1.2', name: 'pod1' },
    { ns: `k8ts-np-p2-${id}`, ip: '10.244.1.3', name: 'pod2' },
  ];
  const made: string[] = [];
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-proxy-'));
  const inNs = (ns: string, args: string[]) => sh(['ip', '-n', ns, ...args]);
  const destroy = () => {
    for (const c of children) if (c.pid && c.exitCode === null) try { process.kill(c.pid, 'SIGKILL'); } catch {}
    // Deleting a namespace removes its veth ends, and with them the peers.
    for (const ns of made.reverse()) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const ns of [node, ext, ...pods.map((p) => p.ns)]) {
      sh(['ip', 'netns', 'add', ns]);
      made.push(ns);
      inNs(ns, ['link', 'set', 'lo', 'up']);
    }
    sh(['nsenter', `--net=/var/run/netns/${node}`, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    inNs(node, ['link', 'add', 'br0', 'type', 'bridge']);
    inNs(node, ['addr', 'add', '10.244.1.1/24', 'dev', 'br0']);
    inNs(node, ['link', 'set', 'br0', 'up']);
    pods.forEach((p, i) => {
      const host = `veth${i}`;
      inNs(node, ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.ns]);
      inNs(node, ['link', 'set', host, 'master', 'br0']);
      // As the CNI bridge plugin's hairpinMode: a pod may reach itself through a Service.
      inNs(node, ['link', 'set', host, 'type', 'bridge_slave', 'hairpin', 'on']);
      inNs(node, ['link', 'set', host, 'up']);
      inNs(p.ns, ['addr', 'add', `${p.ip}/24`, 'dev', 'eth0']);
      inNs(p.ns, ['link', 'set', 'eth0', 'up']);
      inNs(p.ns, ['route', 'add', 'default', 'via', '10.244.1.1']);
      const www = join(dir, p.name);
      sh(['mkdir', '-p', www]);
      writeFileSync(join(www, 'index.html'), `${p.name}\n`);
      const c = spawn('nsenter', [`--net=/var/run/netns/${p.ns}`, 'busybox', 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });
      children.push(c);
    });
    inNs(node, ['link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ext]);
    inNs(node, ['addr', 'add', '10.77.0.1/24', 'dev', 'ext0']);
    inNs(node, ['link', 'set', 'ext0', 'up']);
    inNs(ext, ['addr', 'add', '10.77.0.2/24', 'dev', 'eth0']);
    inNs(ext, ['link', 'set', 'eth0', 'up']);
    // External and load-balancer addresses are reached through the node.
    inNs(ext, ['route', 'add', '10.55.0.0/24', 'via', '10.77.0.1']);
  } catch (e) {
    destroy();
    throw e;
  }
  const exec: Topology['exec'] = (ns, cmd, timeoutMs = 10_000) => {
    const t = performance.now();
    const r = spawnSync('nsenter', [`--net=/var/run/netns/${ns}`, ...cmd], { encoding: 'utf8', timeout: timeoutMs });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? r.error?.message ?? '', ms: performance.now() - t };
  };
  const execAsync: Topology['execAsync'] = (ns, cmd, timeoutMs = 10_000) =>
    new Promise((resolve) => {
      const t = performance.now();
      const c = spawn('nsenter', [`--net=/var/run/netns/${ns}`, ...cmd], { timeout: timeoutMs });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (b: Buffer) => (stdout += b));
      c.stderr.on('data', (b: Buffer) => (stderr += b));
      c.on('error', (e) => (stderr += e.message));
      c.on('close', (status) => resolve({ status, stdout, stderr, ms: performance.now() - t }));
    });
  return {
    node,
    ext,
    pods,
    nodeIP: '10.77.0.1',
    extIP: '10.77.0.2',
    exec,
    execAsync,
    daemon(ns, cmd) {
      const c = spawn('nsenter', [`--net=/var/run/netns/${ns}`, ...cmd], { stdio: 'ignore' });
      children.push(c);
      return c;
    },
    async get(ns, host, port = 80, timeoutSec = 3) {
      // busybox wget's own -T is unreliable here; bound it with timeout(1).
      const r = await execAsync(ns, ['timeout', String(timeoutSec), 'busybox', 'wget', '-q', '-O', '-', `http://${host}:${port}/`], (timeoutSec + 2) * 1000);
      return { ok: r.status === 0, body: r.status === 0 ? r.stdout.trim() : r.stderr.trim() || `exit ${r.status}`, ms: r.ms };
    },
    destroy,
  };
}

/** Wait until busybox httpd answers in every pod. */
export async function waitForServers(t: Topology, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (const p of t.pods) {
    for (;;) {
      if ((await t.get(p.ns, p.ip, 80, 1)).ok) break;
      if (Date.now() > end) throw new Error(`httpd in ${p.name} did not answer`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
