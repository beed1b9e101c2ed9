/**
 * The node's side of pod networking: the CNI conflist for its pod CIDR, the bridge with the
 * gateway address (made before any pod so the node can use it as its address at once), and the
 * host-safety rules: the pod and Service ranges never leave through a real interface, and pod
 * traffic is only forwarded to cluster addresses.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nthAddress } from '../../api/net.js';
import { bridgeConflist, hostPortCniConfDir } from '../containerd/containerd.js';

const run = promisify(execFile);

/** Runs a command, optionally inside a network namespace (nsenter keeps the mount namespace). */
export async function netExec(cmd: string, args: string[], o: { netns?: string; input?: string } = {}): Promise<string> {
  const [bin, argv] = o.netns ? ['nsenter', [`--net=${o.netns}`, '--', cmd, ...args]] : [cmd, args];
  if (o.input !== undefined) {
    return new Promise((resolve, reject) => {
      const c = execFile(bin, argv, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout)));
      c.stdin!.end(o.input);
    });
  }
  try {
    return (await run(bin, argv)).stdout;
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')}: ${((e as { stderr?: string }).stderr ?? '').trim() || (e as Error).message}`);
  }
}

export { intToIPv4, ipv4ToInt, nthAddress, nthSubnet } from '../../api/net.js';

/** The first host address of a CIDR (a bridge's gateway). */
export function gatewayOf(cidr: string): string {
  return nthAddress(cidr, 1);
}

export interface HostNetworkOptions {
  /** Linux bridge for this node's pods (≤ 15 bytes). */
  bridge: string;
  /** The cluster's pod range (guarded) and Service range (routed to lo). */
  clusterCIDR: string;
  serviceCIDR: string;
  /** Where the conflist and the host-local IPAM state go. */
  cniConfDir: string;
  ipamDir: string;
  /** Run the ip/nft commands in this network namespace. */
  netns?: string;
  /**
   * More destinations pods may be forwarded to besides the cluster ranges, e.g. the node network
   * when nodes live in their own namespaces (kubelet and DNS endpoints are node addresses).
   */
  allowDestinations?: string[];
}

/** The node's pod network plumbing. Idempotent: a restarted agent finds its own links and rules. */
export class HostNetwork {
  private cidr = '';
  private readonly guardTable: string;

  constructor(private readonly o: HostNetworkOptions) {
    if (Buffer.byteLength(o.bridge) > 15) throw new Error(`bridge name too long (max 15 bytes): ${o.bridge}`);
    this.guardTable = `k8ts-guard-${o.bridge}`;
  }

  get bridgeName(): string {
    return this.o.bridge;
  }

  private exec(cmd: string, args: string[], input?: string) {
    return netExec(cmd, args, { netns: this.o.netns, input });
  }

  /**
   * Routes and the forward guard: the pod range is unreachable except through node bridges (more
   * specific routes); the Service range goes to lo, so node-originated traffic to a ClusterIP is
   * DNATed by the proxy and anything left dies locally; pods may only be forwarded to cluster ranges.
   */
  async guard(): Promise<void> {
    await this.exec('ip', ['route', 'replace', 'unreachable', this.o.clusterCIDR]);
    await this.exec('ip', ['route', 'replace', this.o.serviceCIDR, 'dev', 'lo']);
    const t = this.guardTable;
    const allowed = [this.o.clusterCIDR, this.o.serviceCIDR, ...(this.o.allowDestinations ?? [])].join(', ');
    const rules = `table inet ${t}
delete table inet ${t}
table inet ${t} {
  chain forward {
    type filter hook forward priority -10; policy accept;
    ip saddr ${this.o.clusterCIDR} ip daddr != { ${allowed} } counter drop
  }
}
`;
    await this.exec('nft', ['-f', '-'], rules);
  }

  /** The bridge with its gateway address, before any pod; returns the gateway (the node's pod-facing IP). */
  async ensureBridge(podCIDR: string): Promise<string> {
    const gw = gatewayOf(podCIDR);
    const prefix = podCIDR.split('/')[1];
    const links = await this.exec('ip', ['-o', 'link', 'show', 'dev', this.o.bridge]).catch(() => '');
    if (!links) await this.exec('ip', ['link', 'add', this.o.bridge, 'type', 'bridge']);
    const addrs = await this.exec('ip', ['-o', '-4', 'addr', 'show', 'dev', this.o.bridge]);
    if (!addrs.includes(` ${gw}/${prefix} `)) await this.exec('ip', ['addr', 'replace', `${gw}/${prefix}`, 'dev', this.o.bridge]);
    await this.exec('ip', ['link', 'set', this.o.bridge, 'up']);
    return gw;
  }

  /**
   * Writes the conflists for the node's pod CIDR (containerd picks them up without a restart): the
   * default one without portmap, and the hostPort handler's with it (same network and IPAM state,
   * so both hand out addresses from one pool). The hostPort one goes first, so it is in place by
   * the time containerd sees the default one and calls the network ready.
   */
  async usePodCIDR(podCIDR: string): Promise<void> {
    if (this.cidr === podCIDR) return;
    await this.ensureBridge(podCIDR);
    mkdirSync(this.o.ipamDir, { recursive: true });
    const write = (dir: string, portmap: boolean) => {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, '10-k8ts.conflist');
      writeFileSync(file + '.tmp', bridgeConflist({ bridge: this.o.bridge, subnet: podCIDR, dataDir: this.o.ipamDir, portmap }));
      renameSync(file + '.tmp', file);
    };
    write(hostPortCniConfDir(this.o.cniConfDir), true);
    write(this.o.cniConfDir, false);
    this.cidr = podCIDR;
  }

  /** Removes the bridge and the guard table (routes stay: other nodes on this host may need them). */
  async teardown(o: { routes?: boolean } = {}): Promise<void> {
    await this.exec('ip', ['link', 'del', this.o.bridge]).catch(() => undefined);
    await this.exec('nft', ['delete', 'table', 'inet', this.guardTable]).catch(() => undefined);
    if (o.routes) {
      await this.exec('ip', ['route', 'del', 'unreachable', this.o.clusterCIDR]).catch(() => undefined);
      await this.exec('ip', ['route', 'del', this.o.serviceCIDR, 'dev', 'lo']).catch(() => undefined);
    }
  }
}
