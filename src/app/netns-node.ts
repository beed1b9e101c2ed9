/**
 * Several real nodes on one machine: each extra node is a whole `k8ts agent` process running in
 * its own network namespace (k8ts-NAME), so its containerd, pod bridge, kubelet server, proxy rules
 * and DNS server live there. A veth joins the namespace to a shared host bridge (the node network,
 * host side .1, nodes .2 and up); the host routes each node's pod /24 via the node's address, and
 * the node sends the rest of the cluster range to the host. Nothing else is routed out of a node
 * namespace, and the host drops anything from the node network to non-cluster destinations, so no
 * cluster traffic can leave through a real interface.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { intToIPv4, ipv4ToInt, nthAddress, parseCIDR } from '../api/net.js';
import { RestClient } from '../client/rest-client.js';
import { resources } from '../client/resources.js';
import { removeStateDir, requireBinaries } from '../kubelet/containerd/containerd.js';
import { netExec } from '../kubelet/network/host-network.js';

/** The shared host bridge of netns nodes. */
export const DEFAULT_NODE_BRIDGE = 'k8ts-nodes';
/** The node network: the host holds .1, nodes .2 and up. */
export const DEFAULT_NODE_NETWORK = '10.41.0.0/24';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RECORD = 'node.json';
/** Marks host routes this module made (so that it removes only its own). */
const ROUTE_PROTO = '198';

/** Options of {@link startNetnsNode}. */
export interface NetnsNodeOptions {
  /** The node's name (its Node object); its namespace is k8ts-NAME. */
  name: string;
  /** The API server URL as the host reaches it (e.g. https://127.0.0.1:6443). */
  server: string;
  /** The join token and the cluster CA (PEM). */
  token: string;
  ca: string;
  /**
   * The node's folder: agent state in DIR/agent, its log in DIR/agent.log, the record in DIR/node.json.
   * Siblings of DIR are the other netns nodes (node addresses are picked so as not to clash with them).
   */
  dataDir: string;
  /** The cluster's pod and Service ranges, as the server's. Defaults 10.42.0.0/16 and 10.43.0.0/16. */
  clusterCIDR?: string;
  serviceCIDR?: string;
  /** The host bridge and its network (host .1, nodes .2+). Defaults k8ts-nodes and 10.41.0.0/24. */
  bridge?: string;
  nodeNetwork?: string;
  /** The node's address on the node network. Default: the lowest free one from .2. */
  nodeIP?: string;
  /** How to run k8ts (the agent arguments follow). Default: bin/k8ts of this checkout. */
  command?: string[];
  /** More `k8ts agent` flags (e.g. --node-status-update-frequency 2s). */
  agentArgs?: string[];
  logLevel?: string;
  /** Let the agent outlive this process (the CLI); it is then stopped by PID with {@link stopNetnsNode}. */
  detached?: boolean;
  /** How long to wait for the node to join and get its pod range. Default 120 s. */
  readyTimeoutMs?: number;
}

/** What a netns node leaves on disk (DIR/node.json), so that another process can list and remove it. */
export interface NetnsNodeRecord {
  name: string;
  dataDir: string;
  netns: string;
  veth: string;
  bridge: string;
  nodeNetwork: string;
  hostIP: string;
  nodeIP: string;
  clusterCIDR: string;
  serviceCIDR: string;
  podCIDR?: string;
  /** The agent's PID (nsenter execs in place, so it is the agent's own). */
  pid?: number;
  /** The API server port the host forwards from HOSTIP to 127.0.0.1 (a loopback-bound server). */
  forwardPort?: number;
  logPath: string;
  startedAt: string;
}

/** A running netns node. */
export interface NetnsNode {
  name: string;
  nodeIP: string;
  podCIDR: string;
  netns: string;
  pid: number;
  dataDir: string;
  logPath: string;
  /** The agent's containerd socket (unix sockets cross network namespaces): import images here. */
  socket: string;
  /** SIGTERM to the agent (it removes its pods and state), then the veth, namespace and routes. */
  stop(): Promise<void>;
}

const run = (cmd: string, args: string[], o: { netns?: string; input?: string } = {}) => netExec(cmd, args, o);

// Nodes started or stopped at once share the host bridge and table: change them one at a time.
let hostLock: Promise<unknown> = Promise.resolve();
function withHostLock<T>(fn: () => Promise<T>): Promise<T> {
  const next = hostLock.then(fn, fn);
  hostLock = next.catch(() => undefined);
  return next;
}

/** The /var/run/netns path of a node's namespace. */
export function netnsPath(netns: string): string {
  return `/var/run/netns/${netns}`;
}

/** A node name as a Kubernetes node name and a namespace name (k8ts-NAME). */
export function validateNodeName(name: string): void {
  if (!/^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/.test(name)) throw new Error(`invalid node name "${name}": lower-case letters, digits and '-', at most 42 characters`);
}

/** The host end of a node's veth (at most 15 bytes): k8v-NAME, or a hash when NAME is long. */
export function vethName(name: string): string {
  const v = `k8v-${name}`;
  if (v.length <= 15) return v;
  let h = 2166136261;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return `k8v-${h.toString(36).padStart(7, '0').slice(0, 11)}`;
}

/** The two halves of a range: routes more specific than the agent's `unreachable` for the whole range. */
export function cidrHalves(cidr: string): [string, string] {
  const { base, bits } = parseCIDR(cidr);
  if (bits >= 32) throw new Error(`cannot split ${cidr}`);
  return [`${intToIPv4(base)}/${bits + 1}`, `${intToIPv4(base + 2 ** (31 - bits))}/${bits + 1}`];
}

/** The records of the netns nodes under a folder (one subfolder per node). */
export function listNetnsNodes(nodesDir: string): NetnsNodeRecord[] {
  let names: string[];
  try {
    names = readdirSync(nodesDir);
  } catch {
    return [];
  }
  const out: NetnsNodeRecord[] = [];
  for (const n of names.sort()) {
    try {
      out.push(JSON.parse(readFileSync(join(nodesDir, n, RECORD), 'utf8')) as NetnsNodeRecord);
    } catch {
      // not a node folder
    }
  }
  return out;
}

/** Whether PID is alive and is a k8ts agent for this node (guards against a reused PID). */
export function agentAlive(rec: Pick<NetnsNodeRecord, 'pid' | 'name'>): boolean {
  if (!rec.pid) return false;
  try {
    const cmd = readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8').split('\0');
    const stat = readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false;
    return cmd.includes('agent') && cmd.includes(rec.name);
  } catch {
    return false;
  }
}

function writeRecord(rec: NetnsNodeRecord): void {
  const p = join(rec.dataDir, RECORD);
  writeFileSync(`${p}.tmp`, JSON.stringify(rec, null, 2) + '\n');
  renameSync(`${p}.tmp`, p);
}

/** The lowest node address (from .2) no sibling node holds. */
function pickNodeIP(nodesDir: string, nodeNetwork: string, self: string): string {
  const used = new Set(listNetnsNodes(nodesDir).filter((r) => r.name !== self).map((r) => r.nodeIP));
  const { bits } = parseCIDR(nodeNetwork);
  for (let i = 2; i < 2 ** (32 - bits) - 1; i++) {
    const ip = nthAddress(nodeNetwork, i);
    if (!used.has(ip)) return ip;
  }
  throw new Error(`node network ${nodeNetwork} is full`);
}

/** The serving certificate's IP SANs, read off a TLS handshake with the server. */
async function servingIPs(url: URL, ca: string): Promise<string[]> {
  return new Promise((res, rej) => {
    const s = tlsConnect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 443), ca, rejectUnauthorized: false, servername: 'localhost' }, () => {
      const raw = s.getPeerCertificate().raw;
      s.destroy();
      const san = new X509Certificate(raw).subjectAltName ?? '';
      res([...san.matchAll(/IP Address:([\d.]+)/g)].map((m) => m[1]!));
    });
    s.once('error', rej);
    s.setTimeout(5000, () => s.destroy(new Error(`no TLS answer from ${url.host}`)));
  });
}

const isLoopback = (host: string) => host === 'localhost' || host.startsWith('127.') || host === '[::1]' || host === '::1';

/**
 * The host side of the node network: the bridge with the host address, and one nft table with
 * the API forward (HOSTIP:PORT to a loopback-bound server, via route_localnet on the bridge only),
 * a guard so that only DNATed traffic from the bridge reaches 127/8, and a forward guard so that
 * nothing from the node network goes anywhere but the cluster ranges and the node network.
 */
async function ensureHostSide(o: { bridge: string; nodeNetwork: string; hostIP: string; clusterCIDR: string; forwardPort?: number }): Promise<void> {
  const prefix = o.nodeNetwork.split('/')[1];
  const have = await run('ip', ['-o', 'link', 'show', 'dev', o.bridge]).catch(() => '');
  if (!have) await run('ip', ['link', 'add', o.bridge, 'type', 'bridge']);
  await run('ip', ['addr', 'replace', `${o.hostIP}/${prefix}`, 'dev', o.bridge]);
  await run('ip', ['link', 'set', o.bridge, 'up']);
  // Pod traffic between nodes is routed by the host. The cluster range never goes out a real
  // interface: if no agent on the host made it unreachable yet, do it (node pod /24s are more specific).
  const routes = await run('ip', ['-4', 'route', 'show', 'exact', o.clusterCIDR]);
  if (!routes.trim()) await run('ip', ['route', 'replace', 'unreachable', o.clusterCIDR, 'proto', ROUTE_PROTO]);
  await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  if (o.forwardPort) await run('sysctl', ['-q', '-w', `net.ipv4.conf.${o.bridge}.route_localnet=1`]);
  await allowNodeNetworkInHostGuards(o.clusterCIDR, o.nodeNetwork);
  const t = hostTable(o.bridge);
  const dnat = o.forwardPort ? `iifname "${o.bridge}" ip daddr ${o.hostIP} tcp dport ${o.forwardPort} dnat to 127.0.0.1:${o.forwardPort}` : '';
  await run('nft', ['-f', '-'], {
    input: `table ip ${t}
delete table ip ${t}
table ip ${t} {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ${dnat}
  }
  chain input {
    type filter hook input priority -10; policy accept;
    iifname "${o.bridge}" ip daddr 127.0.0.0/8 ct status dnat accept
    iifname "${o.bridge}" ip daddr 127.0.0.0/8 counter drop
  }
  chain forward {
    type filter hook forward priority -10; policy accept;
    iifname "${o.bridge}" ip daddr != { ${o.clusterCIDR}, ${o.nodeNetwork} } counter drop
  }
}
`,
  });
}

/**
 * Lets the pods of node agents in the host namespace (the server's own node) reach the node
 * network: their guard drops pod traffic to non-cluster addresses, and DNS and kubelet endpoints
 * are node addresses. Agents started with allowDestinations already allow it; for the others an
 * accept rule goes first in their guard chain (the agent rewrites the table when it restarts).
 */
async function allowNodeNetworkInHostGuards(clusterCIDR: string, nodeNetwork: string): Promise<void> {
  const tables = (await run('nft', ['list', 'tables'])).split('\n').map((l) => /^table inet (k8ts-guard-\S+)$/.exec(l.trim())?.[1]).filter((t): t is string => !!t);
  for (const t of tables) {
    const text = await run('nft', ['list', 'table', 'inet', t]).catch(() => '');
    if (!text.includes(`ip saddr ${clusterCIDR} `) || text.includes(nodeNetwork)) continue;
    await run('nft', ['insert', 'rule', 'inet', t, 'forward', 'ip', 'saddr', clusterCIDR, 'ip', 'daddr', nodeNetwork, 'accept']).catch(() => undefined);
  }
}

/** Deletes the accept rules {@link allowNodeNetworkInHostGuards} inserted. */
async function removeNodeNetworkFromHostGuards(nodeNetwork: string): Promise<void> {
  const tables = (await run('nft', ['list', 'tables']).catch(() => '')).split('\n').map((l) => /^table inet (k8ts-guard-\S+)$/.exec(l.trim())?.[1]).filter((t): t is string => !!t);
  for (const t of tables) {
    const text = await run('nft', ['-a', 'list', 'table', 'inet', t]).catch(() => '');
    for (const m of text.matchAll(/ip saddr \S+ ip daddr (\S+) accept # handle (\d+)/g)) {
      if (m[1] === nodeNetwork) await run('nft', ['delete', 'rule', 'inet', t, 'forward', 'handle', m[2]!]).catch(() => undefined);
    }
  }
}

function hostTable(bridge: string): string {
  return `k8ts-nodenet-${bridge}`;
}

/**
 * Starts a node in its own network namespace and waits until it joined and holds a pod range.
 * Throws (after undoing what it made) if the agent exits or does not join in time.
 */
export async function startNetnsNode(o: NetnsNodeOptions): Promise<NetnsNode> {
  validateNodeName(o.name);
  requireBinaries([
    { name: 'ip', pkg: 'iproute2' },
    { name: 'nft', pkg: 'nftables' },
    { name: 'nsenter', pkg: 'util-linux' },
  ]);
  const bridge = o.bridge ?? DEFAULT_NODE_BRIDGE;
  if (Buffer.byteLength(bridge) > 15) throw new Error(`bridge name too long (max 15 bytes): ${bridge}`);
  const nodeNetwork = o.nodeNetwork ?? DEFAULT_NODE_NETWORK;
  const clusterCIDR = o.clusterCIDR ?? '10.42.0.0/16';
  const serviceCIDR = o.serviceCIDR ?? '10.43.0.0/16';
  const hostIP = nthAddress(nodeNetwork, 1);
  const dataDir = resolve(o.dataDir);
  const netns = `k8ts-${o.name}`;
  const nsPath = netnsPath(netns);
  const veth = vethName(o.name);

  const old = listNetnsNodes(dirname(dataDir)).find((r) => r.name === o.name);
  if (old && agentAlive(old)) throw new Error(`node ${o.name} already runs (PID ${old.pid}); remove it first`);
  if (old || existsSync(nsPath)) await withHostLock(() => cleanupNetwork({ netns, veth, bridge, podCIDR: old?.podCIDR, nodeIP: old?.nodeIP ?? '' }));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const nodeIP = o.nodeIP ?? pickNodeIP(dirname(dataDir), nodeNetwork, o.name);

  // The node reaches the API at the host's node-network address: forwarded to loopback when the
  // server listens there, so its certificate must name that address.
  const url = new URL(o.server);
  const forwardPort = isLoopback(url.hostname) ? Number(url.port || 443) : undefined;
  const nodeServer = forwardPort ? `https://${hostIP}:${forwardPort}` : o.server;
  const sans = await servingIPs(url, o.ca);
  const wantedSAN = forwardPort ? hostIP : url.hostname;
  if (!sans.includes(wantedSAN)) {
    throw new Error(`the server's certificate does not name ${wantedSAN}, which netns nodes connect to: restart the server with --tls-san ${wantedSAN} (it names ${sans.join(', ')})`);
  }

  const rec: NetnsNodeRecord = {
    name: o.name,
    dataDir,
    netns,
    veth,
    bridge,
    nodeNetwork,
    hostIP,
    nodeIP,
    clusterCIDR,
    serviceCIDR,
    forwardPort,
    logPath: join(dataDir, 'agent.log'),
    startedAt: new Date().toISOString(),
  };
  writeRecord(rec);

  let child: ChildProcess | undefined;
  try {
    await withHostLock(async () => {
      await ensureHostSide({ bridge, nodeNetwork, hostIP, clusterCIDR, forwardPort });
      await run('ip', ['netns', 'add', netns]);
      await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      await run('ip', ['link', 'set', veth, 'master', bridge, 'up']);
    });
    const inNs = { netns: nsPath };
    await run('ip', ['link', 'set', 'lo', 'up'], inNs);
    await run('ip', ['addr', 'add', `${nodeIP}/${nodeNetwork.split('/')[1]}`, 'dev', 'eth0'], inNs);
    await run('ip', ['link', 'set', 'eth0', 'up'], inNs);
    // Other nodes' pods go via the host; nothing else has a route out of the namespace.
    for (const half of cidrHalves(clusterCIDR)) await run('ip', ['route', 'replace', half, 'via', hostIP, 'dev', 'eth0'], inNs);
    await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'], inNs);

    const token = join(dataDir, 'token');
    const caFile = join(dataDir, 'ca.crt');
    writeFileSync(token, o.token.trim() + '\n', { mode: 0o600 });
    writeFileSync(caFile, o.ca);
    const command = o.command ?? [join(REPO_ROOT, 'bin', 'k8ts')];
    const args = [
      'agent',
      '--server', nodeServer,
      '--token-file', token,
      '--server-ca', caFile,
      '--node-name', o.name,
      '--node-ip', nodeIP,
      '--data-dir', join(dataDir, 'agent'),
      '--cluster-cidr', clusterCIDR,
      '--service-cidr', serviceCIDR,
      '--allow-destination', nodeNetwork,
      '--cleanup-on-exit',
      ...(o.logLevel ? ['--log-level', o.logLevel] : []),
      ...(o.agentArgs ?? []),
    ];
    const fd = openSync(rec.logPath, 'a');
    // nsenter --net only (not `ip netns exec`): containerd's mounts must stay in the host's mount namespace.
    child = spawn('nsenter', [`--net=${nsPath}`, '--', ...command, ...args], { stdio: ['ignore', fd, fd], detached: !!o.detached, cwd: REPO_ROOT });
    closeSync(fd);
    if (o.detached) child.unref();
    rec.pid = child.pid;
    writeRecord(rec);
    let exited: string | undefined;
    child.once('exit', (code, sig) => (exited = `exited (code ${code}, signal ${sig})`));

    // Joined when the Node holds a pod range; then the host routes that range to the node. The
    // node's own credentials (from its TLS bootstrap) may read its Node; the join token may not.
    let client: RestClient | undefined;
    try {
      const end = Date.now() + (o.readyTimeoutMs ?? 120_000);
      for (;;) {
        if (exited) throw new Error(`the agent of node ${o.name} ${exited}`);
        if (readFileSync(rec.logPath, 'utf8').includes(`node ${o.name} joined`)) {
          const pki = join(dataDir, 'agent', 'pki');
          client ??= new RestClient({ server: o.server, ca: o.ca, cert: readFileSync(join(pki, 'kubelet-client.crt'), 'utf8'), key: readFileSync(join(pki, 'kubelet-client.key'), 'utf8'), userAgent: 'k8ts-node' });
          const node = await client.get(resources.nodes, '', o.name).catch(() => undefined);
          if (node?.spec?.podCIDR) {
            rec.podCIDR = node.spec.podCIDR as string;
            break;
          }
        }
        if (Date.now() > end) throw new Error(`node ${o.name} did not join within ${(o.readyTimeoutMs ?? 120_000) / 1000} s`);
        await sleep(200);
      }
    } finally {
      client?.close();
    }
    await run('ip', ['route', 'replace', rec.podCIDR!, 'via', nodeIP, 'dev', bridge]);
    writeRecord(rec);
  } catch (e) {
    const tail = existsSync(rec.logPath) ? readFileSync(rec.logPath, 'utf8').split('\n').slice(-25).join('\n') : '';
    await stopNetnsNode(rec, { child, graceMs: 5000 }).catch(() => undefined);
    throw new Error(`${(e as Error).message}${tail ? `\n--- ${rec.logPath} (tail) ---\n${tail}` : ''}`);
  }

  const c = child;
  return {
    name: o.name,
    nodeIP,
    podCIDR: rec.podCIDR!,
    netns,
    pid: rec.pid!,
    dataDir,
    logPath: rec.logPath,
    socket: join(dataDir, 'agent', 'containerd', 'containerd.sock'),
    stop: () => stopNetnsNode(rec, { child: c }),
  };
}

/** Waits until PID is gone (or not our agent any more). */
async function waitGone(rec: NetnsNodeRecord, child: ChildProcess | undefined, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child ? child.exitCode !== null || child.signalCode !== null : !agentAlive(rec)) return true;
    await sleep(100);
  }
  return false;
}

/**
 * Stops a netns node: SIGTERM to its agent (which removes its pods, network and state), SIGKILL
 * after `graceMs` (default 60 s); then whatever a dead agent left running (see {@link netnsLeftovers}),
 * the host route, the veth, the namespace, the host bridge and table once no node uses them, and
 * the node's folder.
 */
export async function stopNetnsNode(rec: NetnsNodeRecord, o: { child?: ChildProcess; graceMs?: number } = {}): Promise<void> {
  const child = o.child;
  const alive = child ? child.exitCode === null && child.signalCode === null : agentAlive(rec);
  if (alive && rec.pid) {
    process.kill(rec.pid, 'SIGTERM');
    if (!(await waitGone(rec, child, o.graceMs ?? 60_000))) {
      process.kill(rec.pid, 'SIGKILL');
      await waitGone(rec, child, 5000);
    }
  }
  // An agent that died hard leaves containerd and shims (and their containers) behind: they are
  // the processes in the node's namespace and their descendants.
  const left = netnsLeftovers(netnsPath(rec.netns));
  for (const pid of left.pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  // Wait until they are really gone (a SIGKILLed process takes a moment under load), at most 10 s.
  const end = Date.now() + 10_000;
  const running = () =>
    left.pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
  while (running().length && Date.now() < end) await sleep(100);
  for (const ns of left.podNetns) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  await withHostLock(() => cleanupNetwork(rec));
  await removeStateDir(rec.dataDir);
}

/**
 * What a node left running: the processes in its namespace (containerd, shims) with all their
 * descendants (containers, which live in pod namespaces), and the /var/run/netns entries of those
 * pod namespaces.
 */
export function netnsLeftovers(nsPath: string): { pids: number[]; podNetns: string[] } {
  let ino: number;
  try {
    ino = statSync(nsPath).ino;
  } catch {
    return { pids: [], podNetns: [] };
  }
  const parent = new Map<number, number>();
  const netOf = new Map<number, string>();
  for (const d of readdirSync('/proc')) {
    const pid = Number(d);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      netOf.set(pid, readlinkSync(`/proc/${pid}/ns/net`));
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out = new Set([...netOf].filter(([, ns]) => ns === `net:[${ino}]`).map(([pid]) => pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!out.has(pid) && out.has(ppid)) {
        out.add(pid);
        grew = true;
      }
    }
  }
  const podInodes = new Set([...out].map((pid) => netOf.get(pid)).filter((ns) => ns && ns !== `net:[${ino}]`));
  const podNetns: string[] = [];
  if (podInodes.size) {
    for (const name of readdirSync('/var/run/netns')) {
      try {
        if (podInodes.has(`net:[${statSync(join('/var/run/netns', name)).ino}]`)) podNetns.push(name);
      } catch {
        // not a namespace
      }
    }
  }
  return { pids: [...out], podNetns };
}

/** Removes a node's host route, veth and namespace, and the host side when no node is left on the bridge. */
async function cleanupNetwork(rec: { netns: string; veth: string; bridge: string; podCIDR?: string; nodeIP: string; clusterCIDR?: string; nodeNetwork?: string }): Promise<void> {
  if (rec.podCIDR && rec.nodeIP) await run('ip', ['route', 'del', rec.podCIDR, 'via', rec.nodeIP]).catch(() => undefined);
  await run('ip', ['link', 'del', rec.veth]).catch(() => undefined);
  await run('ip', ['netns', 'del', rec.netns]).catch(() => undefined);
  const ports = await run('ip', ['-o', 'link', 'show', 'master', rec.bridge]).catch(() => '');
  if (!ports.trim()) {
    await run('ip', ['link', 'del', rec.bridge]).catch(() => undefined);
    await run('nft', ['delete', 'table', 'ip', hostTable(rec.bridge)]).catch(() => undefined);
    if (rec.clusterCIDR) await run('ip', ['route', 'del', 'unreachable', rec.clusterCIDR, 'proto', ROUTE_PROTO]).catch(() => undefined);
    if (rec.nodeNetwork) await removeNodeNetworkFromHostGuards(rec.nodeNetwork);
  }
}

/** The server connection a server data dir holds: its URL (from the kubeconfig), join token and CA. */
export function serverConnection(serverDataDir: string): { server: string; token: string; ca: string } {
  const kc = readFileSync(join(serverDataDir, 'kubeconfig.yaml'), 'utf8');
  const server = /^\s*server:\s*(\S+)\s*$/m.exec(kc)?.[1];
  if (!server) throw new Error(`no server URL in ${join(serverDataDir, 'kubeconfig.yaml')}`);
  return { server, token: readFileSync(join(serverDataDir, 'token'), 'utf8').trim(), ca: readFileSync(join(serverDataDir, 'tls', 'ca.crt'), 'utf8') };
}

/** Whether an address is inside a CIDR. */
export function cidrContains(cidr: string, ip: string): boolean {
  const { base, bits } = parseCIDR(cidr);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((ipv4ToInt(ip) & mask) >>> 0) === base;
}
