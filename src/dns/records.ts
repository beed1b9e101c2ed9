/**
 * Answers for one question, built from a {@link ServiceIndex} the way CoreDNS's kubernetes plugin
 * (with `pods insecure` and `fallthrough in-addr.arpa ip6.arpa`) builds them. Pure: the server
 * turns a {@link LookupResult} into a packet, forwarding or chasing a CNAME where it says so.
 */
import { isIP } from 'node:net';
import type { Answer, RecordType } from 'dns-packet';
import { canonicalName, ipToDashed, isReverseName, parseClusterName, reverseToIP } from './names.js';
import type { EndpointInfo, PortInfo, ServiceIndex, ServiceInfo } from './service-index.js';

/** The DNS schema version this server implements (kubernetes/dns docs/specification.md). */
export const DNS_SCHEMA_VERSION = '1.1.0';

export type Rcode = 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED' | 'FORMERR' | 'NOTIMP';

export interface LookupOptions {
  /** Cluster domain, e.g. cluster.local (any case, trailing dot optional). */
  zone: string;
  /** TTL of every record; also the SOA minimum (negative-caching TTL). */
  ttl: number;
  /** False until the informers have synced: a negative answer is then SERVFAIL, as in CoreDNS. */
  synced?: boolean;
  /** How many in-zone CNAMEs were followed to get here (internal; stops loops). */
  depth?: number;
}

export interface LookupResult {
  rcode: Rcode;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  /** Set on answers from the cluster zone (the AA bit). */
  authoritative: boolean;
  /** Not ours: send the query to the upstream servers. */
  forward?: boolean;
  /** An ExternalName CNAME whose target lies outside the zone: resolve `name`/`type` upstream and append. */
  chase?: { name: string; type: RecordType };
}

const empty = (): LookupResult => ({ rcode: 'NOERROR', answers: [], authorities: [], additionals: [], authoritative: true });

/** The SOA record for negative answers and SOA queries (TTL min(ttl, 300), minimum ttl, as CoreDNS). */
export function soaRecord(zone: string, ttl: number, serial: number): Answer {
  const z = canonicalName(zone);
  return {
    type: 'SOA',
    name: z,
    ttl: Math.min(ttl, 300),
    class: 'IN',
    data: { mname: `ns.dns.${z}`, rname: `hostmaster.${z}`, serial: serial >>> 0, refresh: 7200, retry: 1800, expire: 86400, minimum: ttl },
  };
}

function familyOf(type: RecordType): 4 | 6 | undefined {
  return type === 'A' ? 4 : type === 'AAAA' ? 6 : undefined;
}

function addr(name: string, ip: string, ttl: number): Answer {
  return { type: isIP(ip) === 6 ? 'AAAA' : 'A', name, ttl, class: 'IN', data: ip };
}

/** Matching as CoreDNS: an empty query port or protocol matches anything; otherwise case-insensitive equality. */
function portMatches(p: PortInfo, port: string, protocol: string): boolean {
  return (port === '' || p.name === port) && (protocol === '' || p.protocol === protocol);
}

/** The per-record SRV weight CoreDNS gives n equal-priority records: floor(100 / n), at least 1. */
export function srvWeight(n: number): number {
  return Math.max(1, Math.floor(100 / Math.max(1, n)));
}

/** An endpoint's DNS label: its hostname, else its dashed address. */
export function endpointLabel(e: EndpointInfo): string {
  return e.hostname || ipToDashed(e.ip);
}

/**
 * Answer one question. `qname` is used as the owner name of answers as it was asked (case kept).
 */
export function lookup(index: ServiceIndex, qname: string, qtype: RecordType, o: LookupOptions): LookupResult {
  const zone = canonicalName(o.zone);
  const name = canonicalName(qname);
  const ttl = o.ttl;
  const owner = qname.replace(/\.$/, '');
  const res = empty();
  const negative = (rcode: 'NOERROR' | 'NXDOMAIN'): LookupResult => {
    if (rcode === 'NXDOMAIN' && o.synced === false) return { ...empty(), rcode: 'SERVFAIL' };
    return { ...empty(), rcode, authorities: [soaRecord(zone, ttl, index.serial)] };
  };
  const nodata = () => negative('NOERROR');
  const nxdomain = () => negative('NXDOMAIN');

  if (isReverseName(name)) {
    if (qtype !== 'PTR') return { ...empty(), authoritative: false, forward: true };
    const ip = reverseToIP(name);
    const targets = ip ? reverseTargets(index, ip, zone) : [];
    if (!targets.length) return { ...empty(), authoritative: false, forward: true };
    res.answers = targets.map((t) => ({ type: 'PTR', name: owner, ttl, class: 'IN', data: t }) as Answer);
    return res;
  }

  const parsed = parseClusterName(name, zone);
  if (!parsed) return { ...empty(), authoritative: false, forward: true };

  switch (parsed.kind) {
    case 'apex':
      if (qtype === 'SOA') res.answers = [soaRecord(zone, ttl, index.serial)];
      else if (qtype === 'NS') res.answers = [{ type: 'NS', name: owner, ttl, class: 'IN', data: `ns.dns.${zone}` }];
      else return nodata();
      return res;
    case 'dns-version':
      if (qtype !== 'TXT') return nodata();
      res.answers = [{ type: 'TXT', name: owner, ttl, class: 'IN', data: DNS_SCHEMA_VERSION }];
      return res;
    case 'type-root':
      return nodata();
    case 'namespace':
      return index.hasNamespace(parsed.namespace) ? nodata() : nxdomain();
    case 'invalid':
      return nxdomain();
    case 'pod': {
      if (!index.hasNamespace(parsed.namespace) || !parsed.ip) return nxdomain();
      const fam = familyOf(qtype);
      if (fam && isIP(parsed.ip) === fam) res.answers = [addr(owner, parsed.ip, ttl)];
      return res.answers.length ? res : nodata();
    }
    case 'service':
    case 'endpoint':
    case 'port': {
      if (!index.hasNamespace(parsed.namespace)) return nxdomain();
      const svc = index.service(parsed.namespace, parsed.service);
      if (!svc) return nxdomain();
      if (svc.type === 'ExternalName') {
        if (parsed.kind !== 'service' || !svc.externalName) return nxdomain();
        return externalName(index, svc, owner, qtype, o, res);
      }
      const base = `${svc.name}.${svc.namespace}.svc.${zone}`;
      const port = parsed.kind === 'port' ? parsed.port : '';
      const protocol = parsed.kind === 'port' ? parsed.protocol : '';
      if (svc.headless || parsed.kind === 'endpoint') {
        let eps = index.endpoints(svc.namespace, svc.name);
        if (parsed.kind === 'endpoint') eps = eps.filter((e) => endpointLabel(e) === parsed.endpoint);
        // One entry per (address, matching port); an endpoint without ports still has its address.
        const items: { e: EndpointInfo; p?: PortInfo }[] = [];
        for (const e of eps) {
          if (!e.ports.length) {
            if (port === '' && protocol === '') items.push({ e });
            continue;
          }
          for (const p of e.ports) if (portMatches(p, port, protocol)) items.push({ e, p });
        }
        if (!items.length) return nxdomain();
        if (qtype === 'SRV') {
          const weight = srvWeight(items.length);
          const seenSrv = new Set<string>();
          const seenAddr = new Set<string>();
          for (const { e, p } of items) {
            if (!p) continue;
            const target = `${endpointLabel(e)}.${base}`;
            if (!seenSrv.has(`${target}|${p.port}`)) {
              seenSrv.add(`${target}|${p.port}`);
              res.answers.push({ type: 'SRV', name: owner, ttl, class: 'IN', data: { priority: 0, weight, port: p.port, target } });
            }
            if (!seenAddr.has(`${target}|${e.ip}`)) {
              seenAddr.add(`${target}|${e.ip}`);
              res.additionals.push(addr(target, e.ip, ttl));
            }
          }
        } else {
          const fam = familyOf(qtype);
          const seen = new Set<string>();
          for (const { e } of items) {
            if (fam && isIP(e.ip) === fam && !seen.has(e.ip)) {
              seen.add(e.ip);
              res.answers.push(addr(owner, e.ip, ttl));
            }
          }
        }
        return res.answers.length ? res : nodata();
      }
      // A Service with a cluster IP. A Service without ports still has its address (CoreDNS port -1).
      const ports = svc.ports.length ? svc.ports.filter((p) => portMatches(p, port, protocol)) : port === '' && protocol === '' ? [undefined] : [];
      if (!ports.length) return nxdomain();
      if (qtype === 'SRV') {
        const real = ports.filter((p): p is PortInfo => !!p);
        const weight = srvWeight(ports.length * Math.max(1, svc.clusterIPs.length));
        const seen = new Set<number>();
        for (const p of real) {
          if (seen.has(p.port)) continue;
          seen.add(p.port);
          res.answers.push({ type: 'SRV', name: owner, ttl, class: 'IN', data: { priority: 0, weight, port: p.port, target: base } });
        }
        if (res.answers.length) for (const ip of svc.clusterIPs) res.additionals.push(addr(base, ip, ttl));
      } else {
        const fam = familyOf(qtype);
        for (const ip of svc.clusterIPs) if (fam && isIP(ip) === fam) res.answers.push(addr(owner, ip, ttl));
      }
      return res.answers.length ? res : nodata();
    }
  }
}

function externalName(index: ServiceIndex, svc: ServiceInfo, owner: string, qtype: RecordType, o: LookupOptions, res: LookupResult): LookupResult {
  const target = svc.externalName!;
  const zone = canonicalName(o.zone);
  res.answers.push({ type: 'CNAME', name: owner, ttl: o.ttl, class: 'IN', data: target });
  if (qtype === 'CNAME') return res;
  if (target === zone || target.endsWith('.' + zone)) {
    // In-zone target: follow it here, one level deep at a time (loops end at NXDOMAIN or a depth of 8).
    const depth = o.depth ?? 0;
    if (depth < 8) {
      const next = lookup(index, target, qtype, { ...o, depth: depth + 1 });
      if (next.rcode === 'NOERROR') {
        res.answers.push(...next.answers);
        res.additionals.push(...next.additionals);
      }
    }
    return res;
  }
  res.chase = { name: target, type: qtype };
  return res;
}

/** PTR targets for an address: the first Service owning it as a cluster IP, else every ready endpoint with a hostname. */
export function reverseTargets(index: ServiceIndex, ip: string, zone: string): string[] {
  const z = canonicalName(zone);
  const svcs = index.servicesByClusterIP(ip);
  if (svcs.length) return [`${svcs[0].name}.${svcs[0].namespace}.svc.${z}`];
  const out = new Set<string>();
  for (const { namespace, service, endpoint } of index.endpointsByIP(ip)) {
    if (endpoint.hostname) out.add(`${endpoint.hostname}.${service}.${namespace}.svc.${z}`);
  }
  return [...out];
}
