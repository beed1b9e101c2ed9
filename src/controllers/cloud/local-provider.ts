/**
 * The built-in provider for machines without a cloud: each LoadBalancer Service gets an address
 * from a pool, and the node's kube-proxy forwards that address like a Service VIP. With the pool
 * on loopback (127.0.100.0/24, the default) the machine itself reaches it and nothing leaves it.
 */
import { intToIPv4, ipv4ToInt } from '../../api/net.js';
import type { KObject } from '../../client/rest-client.js';
import { LoadBalancerError, type CloudProvider, type LoadBalancer, type LoadBalancerStatus } from './provider.js';

/** The loadBalancerClass this provider answers to besides the default (unset) class. */
export const LOCAL_LOAD_BALANCER_CLASS = 'k8ts.io/local';

export interface LocalProviderOptions {
  /** Address pool. Default 127.0.100.0/24. */
  pool?: string;
}

const key = (svc: KObject) => `${svc.metadata.namespace}/${svc.metadata.name}`;

export class LocalLoadBalancer implements LoadBalancer {
  private readonly first: number;
  private readonly size: number;
  /** address → Service key */
  private readonly owners = new Map<string, string>();
  private readonly byService = new Map<string, string>();

  constructor(readonly pool: string) {
    const m = /^([\d.]+)\/(\d+)$/.exec(pool);
    if (!m || +m[2] > 30 || +m[2] < 8) throw new Error(`invalid load balancer pool "${pool}" (an IPv4 CIDR between /8 and /30)`);
    const bits = +m[2];
    const base = (ipv4ToInt(m[1]) & ((~0 << (32 - bits)) >>> 0)) >>> 0;
    // Skip the network address and the broadcast address.
    this.first = base + 1;
    this.size = 2 ** (32 - bits) - 2;
  }

  private inPool(ip: string): boolean {
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
    const n = ipv4ToInt(ip);
    return n >= this.first && n < this.first + this.size;
  }

  handlesClass(cls: string | undefined): boolean {
    return cls === undefined || cls === LOCAL_LOAD_BALANCER_CLASS;
  }

  observeExisting(services: KObject[]): void {
    for (const s of services) {
      const ip = s.status?.loadBalancer?.ingress?.[0]?.ip;
      if (ip && this.inPool(ip) && !this.owners.has(ip)) {
        this.owners.set(ip, key(s));
        this.byService.set(key(s), ip);
      }
    }
  }

  private allocate(svc: KObject): string {
    const k = key(svc);
    const requested: string | undefined = svc.spec?.loadBalancerIP || undefined;
    const held = this.byService.get(k);
    if (requested) {
      if (!this.inPool(requested)) throw new LoadBalancerError(`requested loadBalancerIP ${requested} is not in the pool ${this.pool}`);
      const owner = this.owners.get(requested);
      if (owner && owner !== k) throw new LoadBalancerError(`requested loadBalancerIP ${requested} is already in use by service ${owner}`);
      if (held && held !== requested) this.owners.delete(held);
      this.owners.set(requested, k);
      this.byService.set(k, requested);
      return requested;
    }
    if (held) return held;
    // Lowest free address first: predictable addresses for a small local pool.
    for (let n = 0; n < this.size; n++) {
      const ip = intToIPv4(this.first + n);
      if (!this.owners.has(ip)) {
        this.owners.set(ip, k);
        this.byService.set(k, ip);
        return ip;
      }
    }
    throw new LoadBalancerError(`no address left in the load balancer pool ${this.pool}`);
  }

  async ensureLoadBalancer(_cluster: string, svc: KObject): Promise<LoadBalancerStatus> {
    const ip = this.allocate(svc);
    // VIP: kube-proxy on each node answers for the address itself.
    return { ingress: [{ ip, ipMode: 'VIP' }] };
  }

  async updateLoadBalancer(): Promise<void> {
    // Every node's proxy already programs the address; nothing to move.
  }

  async ensureLoadBalancerDeleted(_cluster: string, svc: KObject): Promise<void> {
    const ip = this.byService.get(key(svc));
    if (!ip) return;
    this.byService.delete(key(svc));
    if (this.owners.get(ip) === key(svc)) this.owners.delete(ip);
  }

  /** Addresses in use, for tests and metrics. */
  get allocated(): number {
    return this.owners.size;
  }
}

export class LocalCloudProvider implements CloudProvider {
  readonly providerName = 'k8ts-local';
  private readonly lb: LocalLoadBalancer;

  constructor(o: LocalProviderOptions = {}) {
    this.lb = new LocalLoadBalancer(o.pool ?? '127.0.100.0/24');
  }

  loadBalancer(): LoadBalancer {
    return this.lb;
  }
}
