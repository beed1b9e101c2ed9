/**
 * The in-memory view the cluster DNS answers from: Services, their ready EndpointSlice endpoints
 * and the namespaces, indexed by name and by address. Fed by informer events; pure (no I/O).
 */
import { isIP } from 'node:net';
import { normalizeIP } from './names.js';

/** A Service port as DNS sees it. `name` is '' for an unnamed port. */
export interface PortInfo {
  name: string;
  protocol: string;
  port: number;
}

/** What DNS needs from a Service. */
export interface ServiceInfo {
  namespace: string;
  name: string;
  type: string;
  headless: boolean;
  /** Cluster IPs in `spec.clusterIPs` order (the first is the primary family). */
  clusterIPs: string[];
  externalName?: string;
  ports: PortInfo[];
}

/** One ready address of an EndpointSlice endpoint, with the slice's ports. */
export interface EndpointInfo {
  ip: string;
  hostname?: string;
  ports: PortInfo[];
}

interface SliceInfo {
  key: string;
  service: string;
  endpoints: EndpointInfo[];
}

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
type Obj = Record<string, any>;

const lower = (s: string | undefined): string => (s ?? '').toLowerCase();
const keyOf = (ns: string, name: string): string => `${lower(ns)}/${lower(name)}`;

function portsOf(list: Obj[] | undefined): PortInfo[] {
  return (list ?? []).filter((p) => p && typeof p.port === 'number').map((p) => ({ name: lower(p.name), protocol: lower(p.protocol ?? 'TCP'), port: p.port }));
}

/** Convert a Service object; exported for tests. */
export function serviceInfo(svc: Obj): ServiceInfo {
  const spec = svc.spec ?? {};
  const raw: string[] = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  const type = spec.type ?? 'ClusterIP';
  return {
    namespace: lower(svc.metadata?.namespace),
    name: lower(svc.metadata?.name),
    type,
    headless: type !== 'ExternalName' && (spec.clusterIP === 'None' || raw[0] === 'None'),
    clusterIPs: raw.filter((ip) => isIP(ip)).map(normalizeIP),
    externalName: type === 'ExternalName' && spec.externalName ? lower(String(spec.externalName).replace(/\.$/, '')) : undefined,
    ports: portsOf(spec.ports),
  };
}

/** The ready addresses of an EndpointSlice (ready unset counts as ready, as in CoreDNS); exported for tests. */
export function sliceEndpoints(slice: Obj): EndpointInfo[] {
  if (slice.addressType === 'FQDN') return [];
  const ports = portsOf(slice.ports);
  const out: EndpointInfo[] = [];
  for (const ep of slice.endpoints ?? []) {
    if (ep?.conditions?.ready === false) continue;
    for (const a of ep.addresses ?? []) {
      if (!isIP(a)) continue;
      out.push({ ip: normalizeIP(a), hostname: ep.hostname ? lower(ep.hostname) : undefined, ports });
    }
  }
  return out;
}

/**
 * Services, endpoints and namespaces by name and address. Every change bumps {@link serial}
 * (seconds, as CoreDNS's SOA serial) and is visible to the next lookup at once.
 */
export class ServiceIndex {
  private readonly services = new Map<string, ServiceInfo>();
  private readonly slices = new Map<string, SliceInfo>();
  /** service key → slice keys */
  private readonly slicesBySvc = new Map<string, Set<string>>();
  private readonly namespaces = new Set<string>();
  /** namespace → number of services in it (a namespace with services exists even before its informer says so) */
  private readonly svcPerNs = new Map<string, number>();
  /** cluster IP → service keys */
  private readonly byClusterIP = new Map<string, Set<string>>();
  /** endpoint IP → slice keys */
  private readonly byEndpointIP = new Map<string, Set<string>>();
  /** SOA serial: unix seconds of the last change. */
  serial = Math.floor(Date.now() / 1000);

  private touch(): void {
    this.serial = Math.floor(Date.now() / 1000) >>> 0;
  }

  private static add<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
    let s = m.get(k);
    if (!s) m.set(k, (s = new Set()));
    s.add(v);
  }
  private static remove<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
    const s = m.get(k);
    if (!s) return;
    s.delete(v);
    if (!s.size) m.delete(k);
  }

  /** Add or replace a Service. */
  setService(obj: Obj): void {
    const info = serviceInfo(obj);
    const key = keyOf(info.namespace, info.name);
    const old = this.services.get(key);
    if (old) for (const ip of old.clusterIPs) ServiceIndex.remove(this.byClusterIP, ip, key);
    else this.svcPerNs.set(info.namespace, (this.svcPerNs.get(info.namespace) ?? 0) + 1);
    this.services.set(key, info);
    for (const ip of info.clusterIPs) ServiceIndex.add(this.byClusterIP, ip, key);
    this.touch();
  }

  deleteService(obj: Obj): void {
    const key = keyOf(obj.metadata?.namespace, obj.metadata?.name);
    const old = this.services.get(key);
    if (!old) return;
    for (const ip of old.clusterIPs) ServiceIndex.remove(this.byClusterIP, ip, key);
    this.services.delete(key);
    const n = (this.svcPerNs.get(old.namespace) ?? 1) - 1;
    if (n > 0) this.svcPerNs.set(old.namespace, n);
    else this.svcPerNs.delete(old.namespace);
    this.touch();
  }

  /** Add or replace an EndpointSlice (keyed by its own name, attached to its Service by label). */
  setEndpointSlice(obj: Obj): void {
    const ns = obj.metadata?.namespace;
    const key = keyOf(ns, obj.metadata?.name);
    this.dropSlice(key);
    const svcName = obj.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svcName) return;
    const info: SliceInfo = { key, service: keyOf(ns, svcName), endpoints: sliceEndpoints(obj) };
    this.slices.set(key, info);
    ServiceIndex.add(this.slicesBySvc, info.service, key);
    for (const e of info.endpoints) ServiceIndex.add(this.byEndpointIP, e.ip, key);
    this.touch();
  }

  deleteEndpointSlice(obj: Obj): void {
    if (this.dropSlice(keyOf(obj.metadata?.namespace, obj.metadata?.name))) this.touch();
  }

  private dropSlice(key: string): boolean {
    const old = this.slices.get(key);
    if (!old) return false;
    this.slices.delete(key);
    ServiceIndex.remove(this.slicesBySvc, old.service, key);
    for (const e of old.endpoints) ServiceIndex.remove(this.byEndpointIP, e.ip, key);
    return true;
  }

  setNamespace(obj: Obj): void {
    this.namespaces.add(lower(obj.metadata?.name));
  }
  deleteNamespace(obj: Obj): void {
    this.namespaces.delete(lower(obj.metadata?.name));
  }

  /** True when the namespace exists (seen by the namespace informer, or holding a Service). */
  hasNamespace(ns: string): boolean {
    return this.namespaces.has(ns) || this.svcPerNs.has(ns);
  }

  service(namespace: string, name: string): ServiceInfo | undefined {
    return this.services.get(keyOf(namespace, name));
  }

  /** Ready endpoint addresses of a Service over all its slices (an address may repeat across slices). */
  endpoints(namespace: string, name: string): EndpointInfo[] {
    const keys = this.slicesBySvc.get(keyOf(namespace, name));
    if (!keys) return [];
    const out: EndpointInfo[] = [];
    for (const k of keys) out.push(...(this.slices.get(k)?.endpoints ?? []));
    return out;
  }

  /** Services owning this cluster IP. */
  servicesByClusterIP(ip: string): ServiceInfo[] {
    return [...(this.byClusterIP.get(normalizeIP(ip)) ?? [])].map((k) => this.services.get(k)!).filter(Boolean);
  }

  /** (service, endpoint) pairs for a ready endpoint address; the service may be gone. */
  endpointsByIP(ip: string): { namespace: string; service: string; endpoint: EndpointInfo }[] {
    const want = normalizeIP(ip);
    const out: { namespace: string; service: string; endpoint: EndpointInfo }[] = [];
    for (const k of this.byEndpointIP.get(want) ?? []) {
      const s = this.slices.get(k);
      if (!s) continue;
      const [namespace, service] = s.service.split('/');
      for (const e of s.endpoints) if (e.ip === want) out.push({ namespace, service, endpoint: e });
    }
    return out;
  }

  /** Counts, for tests and metrics. */
  size(): { services: number; slices: number; namespaces: number } {
    return { services: this.services.size, slices: this.slices.size, namespaces: this.namespaces.size };
  }
}
