/**
 * A real node agent: its own containerd (or an existing CRI socket), the node's pod network, the
 * kubelet over CRI, and (once present) the kubelet's streaming server. `k8ts agent` runs one, and
 * `k8ts server` runs one in-process unless --disable-agent.
 */
import { existsSync, mkdirSync, readFileSync, statfsSync } from 'node:fs';
import { availableParallelism, hostname, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StatusError } from '../api/errors.js';
import { logger } from '../base/log.js';
import { EventRecorder } from '../client/event-recorder.js';
import type { RestClient } from '../client/rest-client.js';
import { resources } from '../client/resources.js';
import { CLUSTER_DNS_ANNOTATION } from '../controllers/nodedns/dns-endpoints-controller.js';
import { containerdPaths, DEFAULT_PAUSE_IMAGE, removeStateDir, requireBinaries, startContainerd, type ContainerdHandle } from '../kubelet/containerd/containerd.js';
import { importPauseImage } from '../kubelet/containerd/images.js';
import { importPendingImages } from '../kubelet/containerd/image-store.js';
import { startKubeletServer } from '../kubelet/server/kubelet-server.js';
import { Kubelet, type ResourceList } from '../kubelet/kubelet.js';
import { HostNetwork } from '../kubelet/network/host-network.js';
import { InformerPodSource } from '../kubelet/pod-source.js';
import { CriRuntime } from '../kubelet/runtime/cri-runtime.js';
import { removeAllPodSandboxes } from '../kubelet/runtime/cleanup.js';

const log = logger('agent');

export interface AgentOptions {
  /** The node's own credentials (system:node:<name>): kubelet, node status, DNS announcement. */
  client: RestClient;
  /** kube-proxy's identity (system:kube-proxy). Default: the node's. */
  proxyClient?: RestClient;
  /** The cluster DNS server's identity (system:k8ts-dns). Default: the node's. */
  dnsClient?: RestClient;
  /** The cluster CA (PEM): the kubelet's server accepts only clients it signed. */
  ca: string;
  nodeName?: string;
  /** Everything of this node lives here (containerd state, CNI, logs, images to import). */
  rootDir: string;
  /** Use this CRI socket instead of starting containerd. */
  containerRuntimeEndpoint?: string;
  /** The node's address. Default: the gateway of its pod bridge (reachable from its pods and the host). */
  nodeIP?: string;
  /** Request this pod range at registration. Default: what the node IPAM controller assigns. */
  podCIDR?: string;
  clusterCIDR?: string;
  serviceCIDR?: string;
  clusterDNS?: string;
  clusterDomain?: string;
  /** The node's pod bridge. Default k8ts0. */
  bridge?: string;
  /** Run containerd (and so the pods' networks) in this network namespace. */
  netns?: string;
  /** The kubelet's HTTPS port (exec, logs...). Default 10250; 0 picks one. */
  kubeletPort?: number;
  /** CrashLoopBackOff first delay and cap, ms (tests shorten them). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  heartbeatMs?: number;
  /** Serve cluster DNS on the node address (for the kube-dns Service). Default true when clusterDNS is set. */
  dns?: boolean;
  /** Port of that DNS server. Default 53. */
  dnsPort?: number;
  /** Run kube-proxy (nftables, else iptables) for this node. Default true. */
  proxy?: boolean;
  /** Non-cluster destinations pods may still be forwarded to (e.g. the node network of netns nodes). */
  allowDestinations?: string[];
  /** Private registry configuration (k3s registries.yaml). Default ROOT/registries.yaml when it exists. */
  privateRegistry?: string;
}

export interface RunningAgent {
  nodeName: string;
  nodeIP: string;
  kubelet: Kubelet;
  runtime: CriRuntime;
  containerd?: ContainerdHandle;
  /**
   * Stops the agent. Containers keep running (a restarted agent adopts them) unless `removePods`,
   * which also stops containerd's shims and removes the bridge and guard rules; `removeState` also
   * removes the root dir and the host routes.
   */
  stop(o?: { removePods?: boolean; removeState?: boolean }): Promise<void>;
}

function osImage(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

/** The first line of a file, or undefined when it cannot be read (containers, other kernels). */
function firstLine(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').split('\n')[0]!.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The machine's identity as upstream's kubelet reports it: machine-id, DMI product UUID and boot ID. */
export function machineIdentity(): { machineID?: string; systemUUID?: string; bootID?: string } {
  const ids = {
    machineID: firstLine('/etc/machine-id') ?? firstLine('/var/lib/dbus/machine-id'),
    systemUUID: firstLine('/sys/class/dmi/id/product_uuid')?.toLowerCase(),
    bootID: firstLine('/proc/sys/kernel/random/boot_id'),
  };
  return Object.fromEntries(Object.entries(ids).filter(([, v]) => v)) as typeof ids;
}

/** What this machine offers, as node capacity. */
export function machineCapacity(rootDir: string): ResourceList {
  const fs = statfsSync(rootDir);
  return {
    cpu: String(availableParallelism()),
    memory: `${Math.floor(totalmem() / 1024)}Ki`,
    'ephemeral-storage': `${Math.floor((fs.blocks * fs.bsize) / 1024)}Ki`,
    pods: '110',
    'hugepages-1Gi': '0',
    'hugepages-2Mi': '0',
  };
}

export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const t0 = performance.now();
  const nodeName = (o.nodeName ?? hostname()).toLowerCase();
  mkdirSync(o.rootDir, { recursive: true, mode: 0o700 });
  const clusterCIDR = o.clusterCIDR ?? '10.42.0.0/16';
  const serviceCIDR = o.serviceCIDR ?? '10.43.0.0/16';
  requireBinaries([
    { name: 'ip', pkg: 'iproute2' },
    { name: 'nft', pkg: 'nftables' },
  ]);
  for (const plugin of ['bridge', 'host-local', 'portmap', 'loopback']) {
    if (!existsSync(join('/usr/lib/cni', plugin))) throw new Error(`CNI plugin /usr/lib/cni/${plugin} not found: install the Debian package containernetworking-plugins (apt-get install containernetworking-plugins)`);
  }
  const paths = containerdPaths(o.rootDir);
  const net = new HostNetwork({ bridge: o.bridge ?? 'k8ts0', clusterCIDR, serviceCIDR, cniConfDir: paths.cniConfDir, ipamDir: join(o.rootDir, 'cni', 'ipam'), netns: o.netns, allowDestinations: o.allowDestinations });
  await net.guard();

  // The node's address must be known at registration: without one given, take this node's pod
  // range now (the cluster's first by default) and use its bridge gateway.
  let podCIDR = o.podCIDR;
  let nodeIP = o.nodeIP;
  if (!nodeIP) {
    podCIDR ??= await clusterAssignedPodCIDR(o.client, nodeName);
    nodeIP = await net.ensureBridge(podCIDR);
  } else if (podCIDR) {
    await net.ensureBridge(podCIDR);
  }

  let containerd: ContainerdHandle | undefined;
  let socket = o.containerRuntimeEndpoint?.replace(/^unix:\/\//, '');
  if (!socket) {
    containerd = await startContainerd({ stateDir: o.rootDir, pauseImage: DEFAULT_PAUSE_IMAGE, netns: o.netns, privateRegistry: o.privateRegistry });
    socket = containerd.socket;
  }
  const runtime = new CriRuntime({ socket });
  if (!(await runtime.imageStatus({ image: DEFAULT_PAUSE_IMAGE }))) await importPauseImage({ socket, name: DEFAULT_PAUSE_IMAGE });
  await importPending(o.rootDir, socket);

  // The kubelet's server (exec, attach, port-forward, logs) is up before the Node says where it is.
  let kubeletRef: Kubelet | undefined;
  const kubeletServer = await startKubeletServer({
    host: nodeIP,
    port: o.kubeletPort ?? 10250,
    clientCA: o.ca,
    runtime,
    lookup: (ns, name) => kubeletRef?.streamTarget(ns, name),
  });

  const source = InformerPodSource.forNode(o.client, nodeName);
  const recorder = new EventRecorder(o.client, { component: 'kubelet', host: nodeName });
  const kubelet = new Kubelet({
    client: o.client,
    nodeName,
    runtime,
    podSource: source,
    nodeIP,
    podCIDR,
    capacity: machineCapacity(o.rootDir),
    nodeInfo: { kernelVersion: release(), osImage: osImage(), architecture: process.arch === 'x64' ? 'amd64' : process.arch, ...machineIdentity() },
    podLogsDir: join(o.rootDir, 'logs'),
    rootDir: join(o.rootDir, 'kubelet'),
    clusterDNS: o.clusterDNS ? [o.clusterDNS] : undefined,
    clusterDomain: o.clusterDomain,
    onPodCIDR: (cidr) => net.usePodCIDR(cidr),
    recorder,
    backoffInitialMs: o.backoffInitialMs,
    backoffMaxMs: o.backoffMaxMs,
    heartbeatMs: o.heartbeatMs,
    kubeletPort: kubeletServer.port,
  });
  kubeletRef = kubelet;
  await kubelet.start();
  source.start();

  // kube-proxy: Services' virtual IPs and node ports, programmed in this node's network namespace.
  let proxy: { stop(): Promise<void> } | undefined;
  if (o.proxy !== false) {
    const { startProxy } = await import('../proxy/proxy.js');
    // Small clusters sync in tens of ms, so changes land quickly (a name connects right after expose).
    proxy = await startProxy({
      client: o.proxyClient ?? o.client,
      nodeName,
      nodeIPs: [nodeIP],
      clusterCIDR,
      netns: o.netns,
      localhostNodePorts: true,
      minSyncIntervalMs: 250,
      nftTable: net.bridgeName === 'k8ts0' ? undefined : `k8ts-proxy-${net.bridgeName}`,
    });
  }

  let dns: { stop(): Promise<void> } | undefined;
  if (o.clusterDNS && o.dns !== false) {
    const { startClusterDNS } = await import('../dns/server.js');
    const d = await startClusterDNS({ client: o.dnsClient ?? o.client, listen: { host: nodeIP, port: o.dnsPort ?? 53 }, clusterDomain: o.clusterDomain });
    dns = d;
    await announceDNS(o.client, nodeName, `${nodeIP}:${d.port}`).catch((e) => log.warn('announcing the DNS server failed', { err: e as Error }));
  }
  log.info('node agent started', { node: nodeName, nodeIP, podCIDR: kubelet.nodePodCIDR, startupMs: Math.round(performance.now() - t0) });

  let stopping: Promise<void> | undefined;
  return {
    nodeName,
    nodeIP,
    kubelet,
    runtime,
    containerd,
    stop: (so = {}) =>
      (stopping ??= (async () => {
        if (dns && so.removePods) await announceDNS(o.client, nodeName, null).catch(() => undefined);
        await dns?.stop();
        await proxy?.stop();
        await kubelet.stop();
        await kubeletServer.close();
        source.stop();
        await recorder.stop();
        if (so.removePods) await removeAllPodSandboxes(runtime);
        runtime.close();
        await containerd?.stop();
        if (so.removePods) await net.teardown({ routes: so.removeState });
        if (so.removeState) await removeStateDir(o.rootDir);
      })()),
  };
}

/** The pod range a Node holds; undefined when it does not exist or holds none. */
export async function existingPodCIDR(client: RestClient, nodeName: string): Promise<string | undefined> {
  try {
    return (await client.get(resources.nodes, '', nodeName)).spec?.podCIDR || undefined;
  } catch (e) {
    if (e instanceof StatusError && e.code === 404) return undefined;
    throw e;
  }
}

/** Registers the Node early (status follows from the kubelet) and waits for the node IPAM controller's range. */
async function clusterAssignedPodCIDR(client: RestClient, nodeName: string, timeoutMs = 60_000): Promise<string> {
  const have = await existingPodCIDR(client, nodeName);
  if (have) return have;
  await client.create(resources.nodes, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName } }).catch((e) => {
    if (!(e instanceof StatusError && e.code === 409)) throw e;
  });
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const cidr = await existingPodCIDR(client, nodeName);
    if (cidr) return cidr;
    await sleep(250);
  }
  throw new Error(`node ${nodeName} got no pod CIDR within ${timeoutMs / 1000} s: is the server's controller manager running? (or give --node-ip)`);
}

/** Offers (or withdraws) this node's DNS server for the kube-dns Service (see controllers/nodedns). */
async function announceDNS(client: RestClient, nodeName: string, value: string | null): Promise<void> {
  await client.patch(resources.nodes, undefined, nodeName, { metadata: { annotations: { [CLUSTER_DNS_ANNOTATION]: value } } }, 'merge');
}

/** Archives left in ROOT/images are imported at start (the images CLI's offline route). */
async function importPending(rootDir: string, socket: string): Promise<void> {
  try {
    const done = await importPendingImages(rootDir, socket);
    if (done.length) log.info('imported images', { archives: done });
  } catch (e) {
    log.warn('importing pending images failed', { err: e as Error });
  }
}
