/**
 * A set of equal-sized IPv4 subnets carved from a cluster range (upstream's cidrset): the node IPAM
 * controller hands one to each Node as spec.podCIDR.
 */

function parseIPv4(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || +p > 255)) throw new Error(`invalid IPv4 address "${ip}"`);
  return parts.reduce((n, p) => n * 256 + +p, 0);
}

function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parses `a.b.c.d/n` into its network base and prefix length. */
export function parseCIDR(cidr: string): { base: number; bits: number } {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || +m[2] > 32) throw new Error(`invalid CIDR "${cidr}"`);
  const bits = +m[2];
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { base: (parseIPv4(m[1]) & mask) >>> 0, bits };
}

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
