/**
 * The proxy's view of the cluster: Services and EndpointSlices turned into a flat list of service
 * ports with their endpoints. Pure functions only, so the rule renderers can be tested by table.
 */
import { createHash } from 'node:crypto';

/** Protocols the data plane programs (lower case, as nft spells them). */
export type L4Proto = 'tcp' | 'udp' | 'sctp';

/** One endpoint of one service port. */
export interface EndpointState {
  ip: string;
  port: number;
  /** conditions.ready; nil counts as true, as upstream. */
  ready: boolean;
  /** conditions.serving; nil means "same as ready". */
  serving: boolean;
  /** conditions.terminating; nil counts as false. */
  terminating: boolean;
  /** On this proxy's node. */
  local: boolean;
}

/** One port of one Service, everything the renderers need. */
export interface ServicePortState {
  namespace: string;
  name: string;
  /** The Service port's name ('' when unnamed). */
  portName: string;
  protocol: L4Proto;
  /** IPv4 ClusterIP ('' for none). */
  clusterIP: string;
  port: number;
  /** 0 when the Service has none. */
  nodePort: number;
  externalIPs: string[];
  /** status.loadBalancer.ingress[].ip */
  loadBalancerIPs: string[];
  /**
   * spec.loadBalancerSourceRanges (IPv4, as network/prefix): only these sources may reach the
   * load-balancer IPs. Empty or absent: every source may. NodePorts are not subject to it, as upstream.
   */
  loadBalancerSourceRanges?: string[];
  /** Seconds, when sessionAffinity is ClientIP. */
  affinityTimeoutSeconds?: number;
  externalPolicyLocal: boolean;
  internalPolicyLocal: boolean;
  endpoints: EndpointState[];
}

/** Everything one sync programs. */
export interface ProxyState {
  nodeIPs: string[];
  /** Pod range; traffic from outside it to a ClusterIP is masqueraded. '' masquerades nothing by source. */
  clusterCIDR: string;
  services: ServicePortState[];
  /**
   * NodePorts also answer on 127.0.0.1 (needs route_localnet=1, set by the proxy), guarded as
   * upstream does: new traffic to 127.0.0.0/8 from other sources is dropped unless it was DNATed.
   */
  localhostNodePorts?: boolean;
}

/** The endpoint sets traffic is spread over (upstream's CategorizeEndpoints, without topology hints). */
export interface EndpointCategories {
  /** Endpoints for traffic under the Cluster policy: ready ones, or serving-terminating ones when none is ready. */
  cluster: EndpointState[];
  /** The same rule applied to this node's endpoints only. */
  local: EndpointState[];
  /** Where ClusterIP traffic goes (cluster or local, by internalTrafficPolicy). */
  internal: EndpointState[];
  /** Where NodePort / external / LoadBalancer traffic goes (by externalTrafficPolicy). */
  external: EndpointState[];
  /** Some endpoint can take traffic at all; false means reject. */
  hasAny: boolean;
}

function usable(eps: EndpointState[]): EndpointState[] {
  const ready = eps.filter((e) => e.ready);
  if (ready.length) return ready;
  // Upstream falls back to serving-terminating endpoints only when none is ready.
  return eps.filter((e) => e.serving && e.terminating);
}

/** Split a service port's endpoints the way upstream does. */
export function categorizeEndpoints(s: ServicePortState): EndpointCategories {
  const cluster = usable(s.endpoints);
  const local = usable(s.endpoints.filter((e) => e.local));
  const internal = s.internalPolicyLocal ? local : cluster;
  const external = s.externalPolicyLocal ? local : cluster;
  return { cluster, local, internal, external, hasAny: cluster.length > 0 || local.length > 0 };
}

/** `ns/name:port` (or `ns/name` for unnamed ports), for logs and comments. */
export function servicePortKey(s: Pick<ServicePortState, 'namespace' | 'name' | 'portName'>): string {
  return `${s.namespace}/${s.name}${s.portName ? ':' + s.portName : ''}`;
}

/** A short stable hash, base32 upper case like upstream's chain names. */
export function shortHash(text: string, len = 8): string {
  const b = createHash('sha256').update(text).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  for (let i = 0; out.length < len; i++) out += alphabet[b[i] & 31];
  return out;
}

const isIPv4 = (s: unknown): s is string => typeof s === 'string' && /^\d{1,3}(\.\d{1,3}){3}$/.test(s) && s.split('.').every((o) => Number(o) <= 255);

/** An IPv4 address as an unsigned 32-bit number. */
export function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

function numberToIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** `a.b.c.d/len` (a bare address counts as /32) as its network and prefix; undefined unless IPv4. */
export function parseIPv4CIDR(text: string): { base: number; bits: number } | undefined {
  const [ip, len, extra] = text.trim().split('/');
  if (extra !== undefined || !isIPv4(ip)) return undefined;
  const bits = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : NaN;
  if (!(bits >= 0 && bits <= 32)) return undefined;
  const size = 2 ** (32 - bits);
  return { base: Math.floor(ipv4ToNumber(ip) / size) * size, bits };
}

/** Whether `ip` lies inside `cidr` (both IPv4). */
export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseIPv4CIDR(cidr);
  if (!c || !isIPv4(ip)) return false;
  const n = ipv4ToNumber(ip);
  return n >= c.base && n < c.base + 2 ** (32 - c.bits);
}

/**
 * The IPv4 ranges of loadBalancerSourceRanges, canonical (host bits cleared), sorted, and without
 * ranges inside others: nft refuses overlapping intervals in one set. IPv6 and invalid entries are dropped.
 */
export function normalizeSourceRanges(ranges: unknown[]): string[] {
  const parsed = ranges
    .map((r) => (typeof r === 'string' ? parseIPv4CIDR(r) : undefined))
    .filter((c): c is { base: number; bits: number } => !!c)
    .sort((a, b) => a.bits - b.bits || a.base - b.base);
  const kept: { base: number; bits: number }[] = [];
  for (const c of parsed) {
    const inside = kept.some((k) => c.base >= k.base && c.base < k.base + 2 ** (32 - k.bits));
    if (!inside) kept.push(c);
  }
  return kept.sort((a, b) => a.base - b.base || a.bits - b.bits).map((c) => `${numberToIPv4(c.base)}/${c.bits}`);
}

function proto(p: unknown): L4Proto | undefined {
  const v = String(p ?? 'TCP').toLowerCase();
  return v === 'tcp' || v === 'udp' || v === 'sctp' ? v : undefined;
}

/** What {@link buildProxyState} reads from Services and EndpointSlices (plain API objects). */
export interface BuildInput {
  services: Iterable<Record<string, any>>;
  endpointSlices: Iterable<Record<string, any>>;
  nodeName: string;
  nodeIPs: string[];
  clusterCIDR: string;
  localhostNodePorts?: boolean;
}

/**
 * Join Services and their EndpointSlices (label kubernetes.io/service-name) into service ports.
 * Headless and ExternalName Services are skipped; only IPv4 is programmed.
 */
export function buildProxyState(input: BuildInput): ProxyState {
  // Endpoints per (namespace/service, port name, protocol), deduplicated by ip:port.
  const byService = new Map<string, Map<string, Map<string, EndpointState>>>();
  for (const slice of input.endpointSlices) {
    if (slice?.addressType && slice.addressType !== 'IPv4') continue;
    const svcName = slice?.metadata?.labels?.['kubernetes.io/service-name'];
    if (!svcName) continue;
    const skey = `${slice.metadata.namespace}/${svcName}`;
    let ports = byService.get(skey);
    if (!ports) byService.set(skey, (ports = new Map()));
    for (const p of slice.ports ?? []) {
      const pr = proto(p.protocol);
      if (!pr || typeof p.port !== 'number') continue;
      const pkey = `${p.name ?? ''}/${pr}`;
      let eps = ports.get(pkey);
      if (!eps) ports.set(pkey, (eps = new Map()));
      for (const ep of slice.endpoints ?? []) {
        const c = ep.conditions ?? {};
        const ready = c.ready !== false;
        const st: EndpointState = {
          ip: '',
          port: p.port,
          ready,
          serving: c.serving ?? ready,
          terminating: c.terminating === true,
          local: ep.nodeName === input.nodeName,
        };
        for (const addr of (ep.addresses ?? []).slice(0, 1)) {
          if (!isIPv4(addr)) continue;
          const k = `${addr}:${p.port}`;
          const prev = eps.get(k);
          // Two slices naming one address (mid-update): prefer the readier view.
          if (!prev || (!prev.ready && ready)) eps.set(k, { ...st, ip: addr });
        }
      }
    }
  }

  const services: ServicePortState[] = [];
  for (const svc of input.services) {
    const spec = svc?.spec ?? {};
    if (spec.type === 'ExternalName') continue;
    const clusterIP = isIPv4(spec.clusterIP) ? spec.clusterIP : '';
    if (!clusterIP) continue; // headless or not yet allocated
    const ns = svc.metadata?.namespace ?? 'default';
    const name = svc.metadata?.name ?? '';
    const ports = byService.get(`${ns}/${name}`);
    const lbIPs = ((svc.status?.loadBalancer?.ingress ?? []) as { ip?: string }[]).map((i) => i.ip).filter(isIPv4);
    const externalIPs = ((spec.externalIPs ?? []) as unknown[]).filter(isIPv4);
    const sourceRanges = spec.type === 'LoadBalancer' ? normalizeSourceRanges((spec.loadBalancerSourceRanges ?? []) as unknown[]) : [];
    const affinity = spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : undefined;
    const hasNodePorts = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
    for (const p of spec.ports ?? []) {
      const pr = proto(p.protocol);
      if (!pr || typeof p.port !== 'number') continue;
      const eps = ports?.get(`${p.name ?? ''}/${pr}`);
      services.push({
        namespace: ns,
        name,
        portName: p.name ?? '',
        protocol: pr,
        clusterIP,
        port: p.port,
        nodePort: hasNodePorts && typeof p.nodePort === 'number' ? p.nodePort : 0,
        externalIPs,
        loadBalancerIPs: spec.type === 'LoadBalancer' ? lbIPs : [],
        ...(sourceRanges.length ? { loadBalancerSourceRanges: sourceRanges } : {}),
        affinityTimeoutSeconds: affinity,
        externalPolicyLocal: spec.externalTrafficPolicy === 'Local' && (hasNodePorts || externalIPs.length > 0),
        internalPolicyLocal: spec.internalTrafficPolicy === 'Local',
        endpoints: eps ? [...eps.values()].sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1)) : [],
      });
    }
  }
  services.sort((a, b) => (servicePortKey(a) + a.protocol < servicePortKey(b) + b.protocol ? -1 : 1));
  const nodeIPs = input.nodeIPs.filter(isIPv4);
  if (input.localhostNodePorts && !nodeIPs.includes('127.0.0.1')) nodeIPs.push('127.0.0.1');
  return { nodeIPs, clusterCIDR: input.clusterCIDR, services, ...(input.localhostNodePorts ? { localhostNodePorts: true } : {}) };
}

/**
 * The sources allowed to reach a service port's load-balancer IPs, or undefined when every source
 * may (no load-balancer IP, or no source range). As upstream: when a node IP is inside a range,
 * the load-balancer IPs themselves are allowed too, since the node reaching a VIP bound on itself
 * can use the VIP as its source. Never overlapping, so the list can be one nft set.
 */
export function firewallSources(s: ServicePortState, nodeIPs: string[]): string[] | undefined {
  const ranges = s.loadBalancerSourceRanges ?? [];
  if (!ranges.length || !s.loadBalancerIPs.length) return undefined;
  const fromNode = nodeIPs.some((ip) => ranges.some((r) => cidrContains(r, ip)));
  const extra = fromNode ? s.loadBalancerIPs.filter((ip) => !ranges.some((r) => cidrContains(r, ip))) : [];
  return [...ranges, ...new Set(extra)];
}

/** What {@link ProxyStateTracker.build} reads besides the marks. */
export interface TrackerInput {
  /** The Service with key `namespace/name`, if it exists. */
  getService(key: string): Record<string, any> | undefined;
  /** Every Service (read only after {@link ProxyStateTracker.markAll}). */
  services(): Iterable<Record<string, any>>;
  /** Every EndpointSlice (one pass per build, picking those of changed Services). */
  endpointSlices(): Iterable<Record<string, any>>;
  nodeName: string;
  nodeIPs: string[];
  clusterCIDR: string;
  localhostNodePorts?: boolean;
}

/** `namespace/name` of the Service an EndpointSlice belongs to, or undefined. */
export function sliceServiceKey(slice: Record<string, any> | undefined): string | undefined {
  const svc = slice?.metadata?.labels?.['kubernetes.io/service-name'];
  return svc ? `${slice!.metadata.namespace}/${svc}` : undefined;
}

/**
 * {@link buildProxyState}, incrementally: remembers each Service's ports and rebuilds only the
 * Services marked as changed (upstream's change trackers). Unchanged service ports keep their
 * object identity from one build to the next, which lets the renderers skip them cheaply; built
 * objects are never changed in place.
 */
export class ProxyStateTracker {
  private readonly perService = new Map<string, ServicePortState[]>();
  private readonly dirty = new Set<string>();
  private all = true;
  private sorted: ServicePortState[] = [];

  /** The Service `namespace/name`, or one of its EndpointSlices, changed. */
  mark(key: string | undefined): void {
    if (key) this.dirty.add(key);
  }

  /** Rebuild everything next time (first build, or when unsure). */
  markAll(): void {
    this.all = true;
  }

  /** Whether a build would rebuild anything. */
  get pending(): boolean {
    return this.all || this.dirty.size > 0;
  }

  /** The state now; equal to {@link buildProxyState} over the same objects. */
  build(input: TrackerInput): ProxyState {
    const base = buildProxyState({ services: [], endpointSlices: [], nodeName: input.nodeName, nodeIPs: input.nodeIPs, clusterCIDR: input.clusterCIDR, localhostNodePorts: input.localhostNodePorts });
    if (this.all) {
      for (const k of this.perService.keys()) this.dirty.add(k);
      for (const svc of input.services()) this.dirty.add(`${svc?.metadata?.namespace ?? 'default'}/${svc?.metadata?.name ?? ''}`);
      this.all = false;
    }
    if (this.dirty.size) {
      const slices = new Map<string, Record<string, any>[]>();
      for (const s of input.endpointSlices()) {
        const k = sliceServiceKey(s);
        if (k && this.dirty.has(k)) (slices.get(k) ?? slices.set(k, []).get(k)!).push(s);
      }
      for (const k of this.dirty) {
        const svc = input.getService(k);
        const ports = svc ? buildProxyState({ services: [svc], endpointSlices: slices.get(k) ?? [], nodeName: input.nodeName, nodeIPs: [], clusterCIDR: input.clusterCIDR }).services : [];
        if (ports.length) this.perService.set(k, ports);
        else this.perService.delete(k);
      }
      this.dirty.clear();
      const keyed = [...this.perService.values()].flat().map((s) => ({ s, k: servicePortKey(s) + s.protocol }));
      keyed.sort((a, b) => (a.k < b.k ? -1 : 1));
      this.sorted = keyed.map((x) => x.s);
    }
    return { ...base, services: this.sorted };
  }
}
