/**
 * Hollow nodes: N kubelets in one process, each the real {@link Kubelet} over a {@link FakeRuntime},
 * sharing one client, one pod informer (dispatching by node name), one timer wheel, one request
 * limiter and one status writer, with heartbeats staggered over the period.
 */
import type { KObject, RestClient } from '../client/rest-client.js';
import type { Component, ComponentContext } from '../client/component.js';
import type { SharedInformer } from '../client/informer.js';
import { NODE_NAME_INDEX, nodeNameIndexFunc } from '../client/informer.js';
import { resources } from '../client/resources.js';
import { Kubelet, type ResourceList } from './kubelet.js';
import { InformerPodSource } from './pod-source.js';
import { FakeRuntime, formatIPv4, parseCIDR } from './runtime/fake-runtime.js';
import { StatusManager } from './status-manager.js';
import { Limiter, Ticker } from './timing.js';

export interface HollowNodesOptions {
  client: RestClient;
  count: number;
  /** Node names are `<prefix><index>`. Default `hollow-node-`. */
  namePrefix?: string;
  /** First index (several agents can split a range). Default 0. */
  startIndex?: number;
  /** Simulated run of batch pods' containers, ms. Default 1000. */
  runDurationMs?: number;
  /** Lease renew interval, ms. Default 10 000. */
  heartbeatMs?: number;
  /** Node status refresh when unchanged, ms. Default 60 000. */
  nodeStatusReportMs?: number;
  /** Pod CIDRs are carved from this range, one `/podCIDRMaskSize` per node. Default 10.64.0.0/10. */
  clusterCIDR?: string;
  /** Default 24 (254 pod IPs per node). */
  podCIDRMaskSize?: number;
  /** InternalIPs come from this range, one per node. Default 172.16.0.0/12. */
  nodeIPRange?: string;
  capacity?: ResourceList;
  allocatable?: ResourceList;
  labels?: Record<string, string>;
  /** CrashLoopBackOff first delay and cap, ms. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Requests in flight at most, across all nodes. Default 32. */
  maxInFlight?: number;
  /** A pod informer to share (e.g. from the process's informer factory); by default one is made. */
  podInformer?: SharedInformer<KObject>;
}

/** Running hollow nodes. */
export interface HollowNodes {
  readonly nodeNames: string[];
  readonly kubelets: Kubelet[];
  readonly statusManager: StatusManager;
  /** Stop every node (their pods' simulated containers stop too). */
  stop(): Promise<void>;
}

/** The `i`-th `/maskSize` subnet of `cidr`. */
export function nthSubnet(cidr: string, maskSize: number, i: number): string {
  const { base, bits } = parseCIDR(cidr);
  if (maskSize < bits) throw new Error(`mask size ${maskSize} is shorter than ${cidr}`);
  if (i >= 2 ** (maskSize - bits)) throw new Error(`${cidr} has no room for subnet ${i} of size /${maskSize}`);
  return `${formatIPv4(base + i * 2 ** (32 - maskSize))}/${maskSize}`;
}

/** The `i`-th host address of `cidr` (skipping the network address). */
export function nthAddress(cidr: string, i: number): string {
  const { base, bits } = parseCIDR(cidr);
  if (i + 1 >= 2 ** (32 - bits) - 1) throw new Error(`${cidr} has no room for address ${i}`);
  return formatIPv4(base + i + 1);
}

/**
 * Register `count` hollow nodes and run the pods bound to them. Resolves once every node is
 * registered with its Lease and the pod informer has synced.
 */
export async function startHollowNodes(opts: HollowNodesOptions): Promise<HollowNodes> {
  const prefix = opts.namePrefix ?? 'hollow-node-';
  const start = opts.startIndex ?? 0;
  const heartbeatMs = opts.heartbeatMs ?? 10_000;
  const clusterCIDR = opts.clusterCIDR ?? '10.64.0.0/10';
  const mask = opts.podCIDRMaskSize ?? 24;
  const nodeRange = opts.nodeIPRange ?? '172.16.0.0/12';
  const ticker = new Ticker();
  const limiter = new Limiter(opts.maxInFlight ?? 32);
  const statusManager = new StatusManager(opts.client, limiter, ticker);
  const source = opts.podInformer ? new InformerPodSource(opts.podInformer, false) : InformerPodSource.shared(opts.client);
  const runtimes: FakeRuntime[] = [];
  const kubelets: Kubelet[] = [];
  for (let k = 0; k < opts.count; k++) {
    const i = start + k;
    const runtime = new FakeRuntime({ runDurationMs: opts.runDurationMs ?? 1000 });
    runtimes.push(runtime);
    kubelets.push(
      new Kubelet({
        client: opts.client,
        nodeName: `${prefix}${i}`,
        runtime,
        podSource: source,
        nodeIP: nthAddress(nodeRange, i),
        podCIDR: nthSubnet(clusterCIDR, mask, i),
        capacity: opts.capacity,
        allocatable: opts.allocatable,
        labels: { 'node.kubernetes.io/instance-type': 'hollow', ...opts.labels },
        heartbeatMs,
        nodeStatusReportMs: opts.nodeStatusReportMs,
        // Spread first heartbeats evenly over one period.
        heartbeatOffsetMs: Math.floor((k * heartbeatMs) / Math.max(1, opts.count)) || heartbeatMs,
        backoffInitialMs: opts.backoffInitialMs,
        backoffMaxMs: opts.backoffMaxMs,
        ticker,
        limiter,
        statusManager,
      }),
    );
  }
  const stop = async () => {
    await Promise.all(kubelets.map((k) => k.stop()));
    await source.stop();
    statusManager.stop();
    ticker.stop();
    for (const r of runtimes) r.close();
  };
  try {
    // The limiter bounds registration concurrency; all starts may be pending at once.
    await Promise.all(kubelets.map((k) => k.start()));
    source.start();
    await source.waitForSync();
  } catch (e) {
    await stop();
    throw e;
  }
  return { nodeNames: kubelets.map((k) => k.nodeName), kubelets, statusManager, stop };
}

/**
 * Hollow nodes as a process {@link Component}: the pod informer comes from the shared factory, so an
 * all-in-one process watches pods once for the scheduler and every hollow node.
 */
export class HollowNodesComponent implements Component {
  readonly name = 'hollow-nodes';
  private nodes?: HollowNodes;
  constructor(private readonly opts: Omit<HollowNodesOptions, 'client' | 'podInformer'>) {}

  async start(ctx: ComponentContext): Promise<void> {
    const podInformer = ctx.informers.forResource<KObject>(resources.pods, { indexers: { [NODE_NAME_INDEX]: nodeNameIndexFunc } });
    const starting = startHollowNodes({ ...this.opts, client: ctx.client, podInformer });
    ctx.informers.start();
    this.nodes = await starting;
  }

  async stop(): Promise<void> {
    await this.nodes?.stop();
    this.nodes = undefined;
  }

  /** The running nodes, once started. */
  get running(): HollowNodes | undefined {
    return this.nodes;
  }
}
