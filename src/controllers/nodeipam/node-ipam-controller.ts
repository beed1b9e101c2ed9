/**
 * The node IPAM controller (upstream's pkg/controller/nodeipam, range allocator): every Node gets a
 * spec.podCIDR from the cluster CIDR, which its agent turns into the pod network (CNI host-local
 * range). Subnets held by existing Nodes are taken first, so a restart never hands one out twice.
 */
import { StatusError } from '../../api/errors.js';
import { logger } from '../../base/log.js';
import type { Component, ComponentContext } from '../../client/component.js';
import { objectFromTombstone, type Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { ControllerLoop } from '../common/controller-loop.js';
import { CIDRSet } from './cidr-set.js';

const log = logger('node-ipam-controller');

export interface NodeIPAMControllerOptions {
  /** The pod range of the cluster. Default 10.42.0.0/16 (as k3s). */
  clusterCIDR?: string;
  /** Prefix length of each node's range. Default 24. */
  nodeMaskSize?: number;
}

export class NodeIPAMController implements Component {
  readonly name = 'node-ipam-controller';
  readonly queue = new WorkQueue<string>({ name: 'node-ipam' });
  private readonly loop = new ControllerLoop(this.queue, 'node');
  private client!: RestClient;
  private lister!: Lister;
  private readonly set: CIDRSet;
  /** Subnets given out but not yet seen on the Node in the cache. */
  private readonly pending = new Map<string, string>();

  constructor(opts: NodeIPAMControllerOptions = {}) {
    this.set = new CIDRSet(opts.clusterCIDR ?? '10.42.0.0/16', opts.nodeMaskSize ?? 24);
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const inf = ctx.informers.forResource(resources.nodes);
    this.lister = inf.lister;
    this.loop.regs.push(
      inf.addEventHandler({
        onAdd: (n) => this.queue.add(n.metadata.name),
        onUpdate: (_o, n) => this.queue.add(n.metadata.name),
        onDelete: (obj) => {
          const n = objectFromTombstone(obj);
          for (const c of n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : [])) this.set.release(c);
        },
      }),
    );
    ctx.informers.start();
    this.loop.run(
      async () => {
        await inf.waitForSync();
        // Occupy what Nodes hold before anything is allocated.
        for (const n of this.lister.list()) if (n.spec?.podCIDR) this.set.occupy(n.spec.podCIDR);
      },
      1,
      (k) => this.sync(k),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  async sync(name: string): Promise<void> {
    const node: KObject | undefined = this.lister.get('', name);
    if (!node) {
      const c = this.pending.get(name);
      if (c) this.set.release(c);
      this.pending.delete(name);
      return;
    }
    if (node.spec?.podCIDR) {
      // A range the agent asked for itself (or an earlier allocation): keep it out of the pool.
      this.set.occupy(node.spec.podCIDR);
      this.pending.delete(name);
      return;
    }
    let cidr = this.pending.get(name);
    if (!cidr) {
      cidr = this.set.allocateNext();
      if (!cidr) {
        log.warn('no pod CIDR left for node', { node: name, clusterCIDR: this.set.clusterCIDR });
        return;
      }
      this.pending.set(name, cidr);
    }
    try {
      await this.client.patch(resources.nodes, undefined, name, { spec: { podCIDR: cidr, podCIDRs: [cidr] } }, 'strategic');
      log.info('assigned pod CIDR', { node: name, podCIDR: cidr });
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) {
        this.set.release(cidr);
        this.pending.delete(name);
        return;
      }
      throw e;
    }
  }
}
