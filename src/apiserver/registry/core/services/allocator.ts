/**
 * ClusterIP and NodePort allocation for Services, through the store's claim/release keys so
 * that every API server sharing the storage agrees. Mirrors upstream's Service REST
 * allocation (pkg/registry/core/service/storage/alloc.go) and its error messages.
 */
import { errors, type FieldError } from '../../../../api/errors.js';
import { bigIntToIP, formatIP, ipToBigInt, parseCIDR, parseIP, type CIDR } from '../../../../api/validation/network.js';
import type { HookContext, KObject } from '../../generic/strategy.js';

/** Where claims live. */
export const serviceIPKeyPrefix = '/registry/k8ts/allocations/serviceips/';
/** Where claims live; followed by `<protocol>/<port>`. */
export const nodePortKeyPrefix = '/registry/k8ts/allocations/nodeports/';

/** Options for {@link ServiceAllocator}. */
export interface ServiceAllocatorOptions {
  serviceCIDR: string;
  nodePortRange: [number, number];
  /** A number in [0, 1); injectable for tests. */
  random?: () => number;
}

const arr = (v: unknown): any[] => (Array.isArray(v) ? v : []);

/** `spec.clusterIPs: Invalid value: []string{"10.43.0.10"}: …` with Go's rendering of the list. */
function clusterIPsInvalid(ips: string[], detail: string): FieldError {
  return { type: 'FieldValueInvalid', field: 'spec.clusterIPs', detail: `[]string{${ips.map((ip) => JSON.stringify(ip)).join(', ')}}: ${detail}` };
}

function needsClusterIP(svc: KObject): boolean {
  return svc.spec?.type !== 'ExternalName';
}
function needsNodePorts(svc: KObject): boolean {
  return svc.spec?.type === 'NodePort' || svc.spec?.type === 'LoadBalancer';
}
function shouldAllocateNodePorts(svc: KObject): boolean {
  if (svc.spec?.type === 'NodePort') return true;
  if (svc.spec?.type === 'LoadBalancer') return svc.spec?.allocateLoadBalancerNodePorts !== false;
  return false;
}
function needsHealthCheck(svc: KObject): boolean {
  return svc.spec?.type === 'LoadBalancer' && svc.spec?.externalTrafficPolicy === 'Local';
}
function isHeadless(svc: KObject): boolean {
  const ips = arr(svc.spec?.clusterIPs);
  return (ips.length > 0 && ips[0] === 'None') || svc.spec?.clusterIP === 'None';
}

/** Allocates Service cluster IPs and node ports. */
export class ServiceAllocator {
  readonly cidr: CIDR;
  readonly family: 'IPv4' | 'IPv6';
  private readonly base: bigint;
  /** Usable addresses: network+1 … (broadcast-1 for IPv4). */
  private readonly size: number;
  private readonly random: () => number;
  readonly nodePortRange: [number, number];

  constructor(opts: ServiceAllocatorOptions) {
    const cidr = parseCIDR(opts.serviceCIDR);
    if (!cidr) throw new Error(`invalid service CIDR ${JSON.stringify(opts.serviceCIDR)}`);
    this.cidr = cidr;
    this.family = cidr.ip.length === 4 ? 'IPv4' : 'IPv6';
    const hostBits = cidr.ip.length * 8 - cidr.prefix;
    const total = 2 ** Math.min(hostBits, 20);
    // Network address and (IPv4) broadcast address are never handed out.
    this.size = Math.max(0, total - (this.family === 'IPv4' && hostBits <= 20 ? 2 : 1));
    this.base = ipToBigInt(cidr.ip) + 1n;
    this.random = opts.random ?? Math.random;
    this.nodePortRange = opts.nodePortRange;
  }

  private ipAt(offset: number): string {
    return formatIP(bigIntToIP(this.base + BigInt(offset), this.cidr.ip.length as 4 | 16));
  }

  private offsetOf(ip: string): number | undefined {
    const b = parseIP(ip);
    if (!b || b.length !== this.cidr.ip.length) return undefined;
    const off = ipToBigInt(b) - this.base;
    return off >= 0n && off < BigInt(this.size) ? Number(off) : undefined;
  }

  /** The claim key of an address. */
  ipKey(ip: string): string {
    return serviceIPKeyPrefix + ip;
  }
  /** The claim key of a node port. */
  portKey(protocol: string, port: number): string {
    return `${nodePortKeyPrefix}${protocol || 'TCP'}/${port}`;
  }

  /** Claim a specific IP or fail with upstream's 422. */
  async allocateIP(svc: KObject, ip: string, ctx: HookContext): Promise<string> {
    const canonical = parseIP(ip);
    const name = svc.metadata?.name ?? '';
    const ips = arr(svc.spec?.clusterIPs).map(String);
    if (!canonical || this.offsetOf(ip) === undefined) {
      if (canonical && (canonical.length === 4 ? 'IPv4' : 'IPv6') !== this.family) {
        throw errors.invalid('', 'Service', name, [{ type: 'FieldValueInvalid', field: 'spec.clusterIPs[0]', detail: `[]string{${ips.map((x) => JSON.stringify(x)).join(', ')}}: ${canonical.length === 4 ? 'IPv4' : 'IPv6'} is not configured on this cluster` }]);
      }
      throw errors.invalid('', 'Service', name, [
        clusterIPsInvalid(ips.length ? ips : [ip], `failed to allocate IP ${ip}: the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${formatIP(this.cidr.ip)}/${this.cidr.prefix}`),
      ]);
    }
    const text = formatIP(canonical);
    if (!(await ctx.claim(this.ipKey(text), owner(svc)))) {
      throw errors.invalid('', 'Service', name, [clusterIPsInvalid(ips.length ? ips : [ip], `failed to allocate IP ${ip}: provided IP is already allocated`)]);
    }
    return text;
  }

  /**
   * Claim a free IP. Dynamic allocations prefer the upper part of the range and never take the
   * first address, which belongs to the `kubernetes` Service; the range is probed linearly from
   * a random start.
   */
  async allocateNextIP(svc: KObject, ctx: HookContext): Promise<string> {
    const lowBand = Math.min(Math.max(16, Math.floor(this.size / 16)), 256);
    const bands: Array<[number, number]> = this.size > lowBand ? [[lowBand, this.size], [1, lowBand]] : [[1, this.size]];
    for (const [lo, hi] of bands) {
      const n = hi - lo;
      if (n <= 0) continue;
      const start = Math.floor(this.random() * n);
      for (let i = 0; i < n; i++) {
        const ip = this.ipAt(lo + ((start + i) % n));
        if (await ctx.claim(this.ipKey(ip), owner(svc))) return ip;
      }
    }
    throw errors.internal('failed to allocate a serviceIP: range is full');
  }

  async releaseIP(ip: string, ctx: HookContext): Promise<void> {
    if (!ip || ip === 'None') return;
    const b = parseIP(ip);
    if (!b) return;
    await ctx.release(this.ipKey(formatIP(b)));
  }

  private portError(svc: KObject, index: number, port: number, why: string): Error {
    return errors.invalid('', 'Service', svc.metadata?.name ?? '', [{ type: 'FieldValueInvalid', field: `spec.ports[${index}].nodePort`, value: port, detail: why }]);
  }

  /** Claim a specific node port or fail with upstream's 422. */
  async allocatePort(svc: KObject, index: number, protocol: string, port: number, ctx: HookContext, fieldPath?: string): Promise<void> {
    const [lo, hi] = this.nodePortRange;
    const fail = (why: string) =>
      fieldPath ? errors.invalid('', 'Service', svc.metadata?.name ?? '', [{ type: 'FieldValueInvalid', field: fieldPath, value: port, detail: why }]) : this.portError(svc, index, port, why);
    if (port < lo || port > hi) throw fail(`provided port is not in the valid range. The range of valid ports is ${lo}-${hi}`);
    if (!(await ctx.claim(this.portKey(protocol, port), owner(svc)))) throw fail('provided port is already allocated');
  }

  /** Claim a free node port for a protocol, probing linearly from a random start. */
  async allocateNextPort(svc: KObject, protocol: string, ctx: HookContext, what = 'a nodePort'): Promise<number> {
    const [lo, hi] = this.nodePortRange;
    const n = hi - lo + 1;
    const start = Math.floor(this.random() * n);
    for (let i = 0; i < n; i++) {
      const port = lo + ((start + i) % n);
      if (await ctx.claim(this.portKey(protocol, port), owner(svc))) return port;
    }
    throw errors.internal(`failed to allocate ${what}: range is full`);
  }

  async releasePort(protocol: string, port: number, ctx: HookContext): Promise<void> {
    if (port) await ctx.release(this.portKey(protocol, port));
  }

  /** Upstream's checks of ipFamilyPolicy and ipFamilies against a single-stack cluster. */
  private checkFamilies(svc: KObject): void {
    const spec = svc.spec ?? {};
    if (!needsClusterIP(svc)) return;
    const errs: FieldError[] = [];
    const headlessSelectorless = spec.clusterIP === 'None' && Object.keys(spec.selector ?? {}).length === 0;
    if (spec.ipFamilyPolicy === 'RequireDualStack' && !headlessSelectorless) {
      errs.push({ type: 'FieldValueInvalid', field: 'spec.ipFamilyPolicy', value: spec.ipFamilyPolicy, detail: 'this cluster is not configured for dual-stack services' });
    }
    if (!headlessSelectorless) {
      arr(spec.ipFamilies).forEach((f, i) => {
        if (f !== this.family) errs.push({ type: 'FieldValueInvalid', field: `spec.ipFamilies[${i}]`, value: f, detail: 'not configured on this cluster' });
      });
    }
    if (errs.length) throw errors.invalid('', 'Service', svc.metadata?.name ?? '', errs);
  }

  private async allocClusterIPs(svc: KObject, ctx: HookContext): Promise<string[]> {
    const spec = (svc.spec ??= {});
    if (!needsClusterIP(svc) || isHeadless(svc)) return [];
    const requested = arr(spec.clusterIPs)[0] || spec.clusterIP || '';
    const ip = requested ? await this.allocateIP(svc, requested, ctx) : await this.allocateNextIP(svc, ctx);
    spec.clusterIP = ip;
    spec.clusterIPs = [ip];
    if (!Array.isArray(spec.ipFamilies) || spec.ipFamilies.length === 0) spec.ipFamilies = [this.family];
    return [ip];
  }

  /** Allocate node ports for a new Service; returns what was claimed (for rollback). */
  private async allocNodePorts(svc: KObject, claimed: Array<[string, number]>, ctx: HookContext, old?: KObject): Promise<void> {
    const ports = arr(svc.spec?.ports);
    const oldClaims = new Set(old && needsNodePorts(old) ? arr(old.spec?.ports).filter((p) => p?.nodePort).map((p) => `${p.protocol ?? 'TCP'}/${p.nodePort}`) : []);
    // Ports sharing a service port number share a node port, as upstream does.
    const byServicePort = new Map<number, number>();
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i];
      const proto = p.protocol ?? 'TCP';
      if (!p.nodePort && !shouldAllocateNodePorts(svc)) continue;
      if (p.nodePort) {
        const k = `${proto}/${p.nodePort}`;
        if (!oldClaims.has(k) && !claimed.some(([cp, n]) => cp === proto && n === p.nodePort)) {
          await this.allocatePort(svc, i, proto, p.nodePort, ctx);
          claimed.push([proto, p.nodePort]);
        }
        byServicePort.set(p.port, p.nodePort);
        continue;
      }
      const shared = byServicePort.get(p.port);
      if (shared !== undefined) {
        if (!oldClaims.has(`${proto}/${shared}`) && !claimed.some(([cp, n]) => cp === proto && n === shared)) {
          await this.allocatePort(svc, i, proto, shared, ctx);
          claimed.push([proto, shared]);
        }
        p.nodePort = shared;
        continue;
      }
      const port = await this.allocateNextPort(svc, proto, ctx);
      claimed.push([proto, port]);
      p.nodePort = port;
      byServicePort.set(p.port, port);
    }
  }

  private async allocHealthCheck(svc: KObject, claimed: Array<[string, number]>, ctx: HookContext): Promise<void> {
    const spec = svc.spec;
    if (spec.healthCheckNodePort) {
      try {
        await this.allocatePort(svc, 0, 'TCP', spec.healthCheckNodePort, ctx, 'spec.healthCheckNodePort');
      } catch (e) {
        const why = (e as any)?.status?.details?.causes?.[0]?.message ?? String(e);
        throw errors.internal(`failed to allocate requested HealthCheck NodePort ${spec.healthCheckNodePort}: ${why.replace(/^Invalid value: \d+: /, '')}`);
      }
      claimed.push(['TCP', spec.healthCheckNodePort]);
    } else {
      spec.healthCheckNodePort = await this.allocateNextPort(svc, 'TCP', ctx, 'a HealthCheck NodePort');
      claimed.push(['TCP', spec.healthCheckNodePort]);
    }
  }

  private async rollback(ips: string[], ports: Array<[string, number]>, ctx: HookContext): Promise<void> {
    for (const ip of ips) await this.releaseIP(ip, ctx).catch(() => undefined);
    for (const [proto, port] of ports) await this.releasePort(proto, port, ctx).catch(() => undefined);
  }

  /** Allocate everything a new Service needs. On failure nothing stays claimed. */
  async allocateCreate(svc: KObject, ctx: HookContext): Promise<void> {
    this.checkFamilies(svc);
    const ips: string[] = [];
    const ports: Array<[string, number]> = [];
    try {
      ips.push(...(await this.allocClusterIPs(svc, ctx)));
      if (needsNodePorts(svc)) await this.allocNodePorts(svc, ports, ctx);
      if (needsHealthCheck(svc)) await this.allocHealthCheck(svc, ports, ctx);
    } catch (e) {
      await this.rollback(ips, ports, ctx);
      throw e;
    }
  }

  /** Allocate or release what an update changes. */
  async allocateUpdate(svc: KObject, old: KObject, ctx: HookContext): Promise<void> {
    this.checkFamilies(svc);
    const ips: string[] = [];
    const ports: Array<[string, number]> = [];
    const toRelease: Array<() => Promise<void>> = [];
    try {
      if (!needsClusterIP(old) && needsClusterIP(svc)) ips.push(...(await this.allocClusterIPs(svc, ctx)));
      else if (needsClusterIP(old) && !needsClusterIP(svc) && !isHeadless(old)) {
        for (const ip of arr(old.spec?.clusterIPs)) toRelease.push(() => this.releaseIP(String(ip), ctx));
      }
      const oldPorts = needsNodePorts(old) ? arr(old.spec?.ports).filter((p) => p?.nodePort).map((p) => [p.protocol ?? 'TCP', p.nodePort] as [string, number]) : [];
      if (needsNodePorts(svc)) await this.allocNodePorts(svc, ports, ctx, old);
      const newKeys = new Set(needsNodePorts(svc) ? arr(svc.spec?.ports).filter((p) => p?.nodePort).map((p) => `${p.protocol ?? 'TCP'}/${p.nodePort}`) : []);
      for (const [proto, port] of oldPorts) {
        if (!newKeys.has(`${proto}/${port}`)) toRelease.push(() => this.releasePort(proto, port, ctx));
      }
      const oldHC = needsHealthCheck(old) ? old.spec?.healthCheckNodePort : 0;
      if (needsHealthCheck(svc)) {
        if (!oldHC) await this.allocHealthCheck(svc, ports, ctx);
      } else if (oldHC) {
        toRelease.push(() => this.releasePort('TCP', oldHC, ctx));
      }
    } catch (e) {
      await this.rollback(ips, ports, ctx);
      throw e;
    }
    for (const release of toRelease) await release();
  }

  /** Release everything a Service held. */
  async releaseAll(svc: KObject, ctx: HookContext): Promise<void> {
    if (needsClusterIP(svc) && !isHeadless(svc)) for (const ip of arr(svc.spec?.clusterIPs)) await this.releaseIP(String(ip), ctx);
    if (needsNodePorts(svc)) for (const p of arr(svc.spec?.ports)) if (p?.nodePort) await this.releasePort(p.protocol ?? 'TCP', p.nodePort, ctx);
    if (needsHealthCheck(svc) && svc.spec?.healthCheckNodePort) await this.releasePort('TCP', svc.spec.healthCheckNodePort, ctx);
  }
}

function owner(svc: KObject): string {
  return `services/${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
}
