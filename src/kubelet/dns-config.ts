/**
 * A pod's resolver configuration (the CRI DNSConfig the runtime writes as resolv.conf), by the
 * kubelet's rules: dnsPolicy ClusterFirst / ClusterFirstWithHostNet / Default / None, merged with
 * `spec.dnsConfig`, then cut to the API limits (3 nameservers, 32 search domains, 2048 characters).
 */
import type { DNSConfig } from './runtime/runtime.js';

/** Options from `spec.dnsConfig.options`. */
export interface PodDNSConfigOption {
  name: string;
  value?: string;
}

/** `spec.dnsConfig`. */
export interface PodDNSConfig {
  nameservers?: string[];
  searches?: string[];
  options?: PodDNSConfigOption[];
}

/** A warning the kubelet would record as an Event (reason and message as upstream). */
export interface DNSWarning {
  reason: 'DNSConfigForming' | 'MissingClusterDNS';
  message: string;
}

export interface PodDNSResult extends DNSConfig {
  warnings: DNSWarning[];
}

/** Upstream's limits (ExpandedDNSConfig, GA since 1.28). */
export const MAX_DNS_NAMESERVERS = 3;
export const MAX_DNS_SEARCH_PATHS = 32;
export const MAX_DNS_SEARCH_LIST_CHARS = 2048;
const MAX_DOMAIN_LENGTH = 253;
const DEFAULT_OPTIONS = ['ndots:5'];

/**
 * Parse resolv.conf text as the kubelet does: nameservers accumulate, the last `search` line wins
 * (trailing dots dropped), the last `options` line wins.
 */
export function parseResolvConf(text: string): DNSConfig {
  const out: DNSConfig = { servers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) continue;
    const f = line.split(/\s+/).filter(Boolean);
    if (!f.length) continue;
    if (f[0] === 'nameserver' && f[1]) out.servers.push(f[1]);
    else if (f[0] === 'search') out.searches = f.slice(1).map((s) => s.replace(/\.$/, ''));
    else if (f[0] === 'options') out.options = f.slice(1);
  }
  return out;
}

/** resolv.conf text for a DNSConfig (what the runtime writes into the sandbox). */
export function renderResolvConf(c: DNSConfig): string {
  let s = '';
  if (c.searches.length) s += `search ${c.searches.join(' ')}\n`;
  for (const ns of c.servers) s += `nameserver ${ns}\n`;
  if (c.options.length) s += `options ${c.options.join(' ')}\n`;
  return s;
}

const unique = (xs: string[]): string[] => [...new Set(xs)];

/** Merge options by name; the pod's win, order kept (existing first, new ones appended). */
function mergeOptions(existing: string[], pod: PodDNSConfigOption[] = []): string[] {
  const m = new Map<string, string>();
  for (const op of existing) {
    const i = op.indexOf(':');
    if (i >= 0) m.set(op.slice(0, i), op.slice(i + 1));
    else m.set(op, '');
  }
  for (const op of pod) m.set(op.name, op.value ?? '');
  return [...m].map(([k, v]) => (v !== '' ? `${k}:${v}` : k));
}

function fitSearches(searches: string[], warnings: DNSWarning[]): string[] {
  let s = searches;
  let exceeded = false;
  if (s.length > MAX_DNS_SEARCH_PATHS) {
    s = s.slice(0, MAX_DNS_SEARCH_PATHS);
    exceeded = true;
  }
  // Some resolvers (glibc 2.28) abort on a search path over 255 characters.
  const kept = s.filter((d) => d.length <= MAX_DOMAIN_LENGTH);
  if (kept.length !== s.length) exceeded = true;
  s = kept;
  let len = s.join(' ').length;
  if (len > MAX_DNS_SEARCH_LIST_CHARS) {
    while (s.length && len > MAX_DNS_SEARCH_LIST_CHARS) {
      len -= s[s.length - 1].length + 1;
      s = s.slice(0, -1);
    }
    exceeded = true;
  }
  if (exceeded) {
    warnings.push({ reason: 'DNSConfigForming', message: `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${s.join(' ')}` });
  }
  return s;
}

/**
 * The pod's DNS configuration.
 *
 * @param clusterDNS the cluster DNS server address(es) (kubelet `clusterDNS`); empty means none known
 * @param namespace the pod's namespace
 * @param domain the cluster domain (kubelet `clusterDomain`); empty leaves the cluster searches out
 * @param dnsPolicy `spec.dnsPolicy` (default ClusterFirst)
 * @param dnsConfig `spec.dnsConfig`
 * @param hostResolv the node's resolv.conf, as text or parsed; undefined when the kubelet has none
 *   (`--resolv-conf=""`), which makes Default pods resolve through the local machine
 * @param hostNetwork `spec.hostNetwork`: ClusterFirst then falls back to Default
 * @param nodeIPs the node's addresses, for the no-resolv.conf case (an IPv6 one gives `::1`)
 */
export function podResolvConf(
  clusterDNS: string | string[],
  namespace: string,
  domain: string,
  dnsPolicy: string | undefined,
  dnsConfig: PodDNSConfig | undefined,
  hostResolv: string | DNSConfig | undefined,
  hostNetwork = false,
  nodeIPs: string[] = [],
): PodDNSResult {
  const warnings: DNSWarning[] = [];
  const cluster = (Array.isArray(clusterDNS) ? clusterDNS : [clusterDNS]).filter(Boolean);
  const host: DNSConfig = hostResolv === undefined ? { servers: [], searches: [], options: [] } : typeof hostResolv === 'string' ? parseResolvConf(hostResolv) : { servers: [...hostResolv.servers], searches: [...hostResolv.searches], options: [...hostResolv.options] };
  const policy = dnsPolicy || 'ClusterFirst';
  let kind: 'cluster' | 'host' | 'none';
  if (policy === 'None') kind = 'none';
  else if (policy === 'ClusterFirstWithHostNet') kind = 'cluster';
  else if (policy === 'ClusterFirst') kind = hostNetwork ? 'host' : 'cluster';
  else if (policy === 'Default') kind = 'host';
  else kind = 'cluster'; // the API server rejects other values; the kubelet falls back to ClusterFirst

  let cfg: DNSConfig = host;
  if (kind === 'none') cfg = { servers: [], searches: [], options: [] };
  else if (kind === 'cluster' && cluster.length) {
    const searches = domain ? unique([`${namespace}.svc.${domain}`, `svc.${domain}`, domain, ...host.searches]) : host.searches;
    cfg = { servers: [...cluster], searches, options: [...DEFAULT_OPTIONS] };
  } else {
    if (kind === 'cluster') {
      warnings.push({
        reason: 'MissingClusterDNS',
        message: `kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`,
      });
    }
    if (hostResolv === undefined) {
      // No resolv.conf: the local machine's resolver, and no search.
      const servers = nodeIPs.map((ip) => (ip.includes(':') ? '::1' : '127.0.0.1'));
      cfg = { servers: servers.length ? servers : ['127.0.0.1'], searches: ['.'], options: host.options };
    }
  }

  if (dnsConfig) {
    cfg = {
      servers: unique([...cfg.servers, ...(dnsConfig.nameservers ?? [])]),
      searches: unique([...cfg.searches, ...(dnsConfig.searches ?? [])]),
      options: mergeOptions(cfg.options, dnsConfig.options),
    };
  }
  let servers = cfg.servers;
  if (servers.length > MAX_DNS_NAMESERVERS) {
    servers = servers.slice(0, MAX_DNS_NAMESERVERS);
    warnings.push({ reason: 'DNSConfigForming', message: `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${servers.join(' ')}` });
  }
  return { servers, searches: fitSearches(cfg.searches, warnings), options: cfg.options, warnings };
}
