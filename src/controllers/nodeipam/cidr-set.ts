import { intToIPv4 as formatIPv4, parseCIDR } from '../../api/net.js';

/**
 * A set of equal-sized IPv4 subnets carved from a cluster range (upstream's cidrset): the node IPAM
 * controller hands one to each Node as spec.podCIDR.
 */

export class CIDRSet {
  private readonly base: number;
  private readonly size: number;
  private readonly used = new Set<number>();
  private next = 0;

  constructor(
    readonly clusterCIDR: string,
    readonly nodeMaskSize: number,
  ) {
    const { base, bits } = parseCIDR(clusterCIDR);
    if (nodeMaskSize < bits || nodeMaskSize > 30) throw new Error(`node CIDR mask size ${nodeMaskSize} does not fit cluster CIDR ${clusterCIDR}`);
    if (nodeMaskSize - bits > 16) throw new Error(`cluster CIDR ${clusterCIDR} split into /${nodeMaskSize} subnets is too many subnets`);
    this.base = base;
    this.size = 2 ** (nodeMaskSize - bits);
  }

  private cidrAt(i: number): string {
    return `${formatIPv4(this.base + i * 2 ** (32 - this.nodeMaskSize))}/${this.nodeMaskSize}`;
  }

  private indexOf(cidr: string): number | undefined {
    let p;
    try {
      p = parseCIDR(cidr);
    } catch {
      return undefined;
    }
    if (p.bits !== this.nodeMaskSize) return undefined;
    const off = p.base - this.base;
    const step = 2 ** (32 - this.nodeMaskSize);
    if (off < 0 || off % step !== 0 || off / step >= this.size) return undefined;
    return off / step;
  }

  /** Marks a subnet a node already holds; false when it is not one of this set's subnets. */
  occupy(cidr: string): boolean {
    const i = this.indexOf(cidr);
    if (i === undefined) return false;
    this.used.add(i);
    return true;
  }

  release(cidr: string): void {
    const i = this.indexOf(cidr);
    if (i !== undefined) this.used.delete(i);
  }

  /** The next free subnet, round-robin from the last one given; undefined when all are taken. */
  allocateNext(): string | undefined {
    for (let k = 0; k < this.size; k++) {
      const i = (this.next + k) % this.size;
      if (!this.used.has(i)) {
        this.used.add(i);
        this.next = (i + 1) % this.size;
        return this.cidrAt(i);
      }
    }
    return undefined;
  }

  get free(): number {
    return this.size - this.used.size;
  }
}
