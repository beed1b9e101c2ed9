/**
 * Renders the proxy's state as one `nft -f -` transaction on the proxy's own table, `ip k8ts-proxy`.
 *
 * Layout (close to upstream's nftables mode): verdict maps keyed by destination send new
 * connections to a per-service chain, which picks an endpoint with `numgen random` and DNATs to
 * it (with session affinity, through per-endpoint chains that remember clients). Services without
 * usable endpoints are rejected in the filter hooks, before the packet can wait for a reply that
 * never comes. Marked connections are masqueraded in postrouting (traffic from outside the pod
 * range to a ClusterIP, NodePorts), and so is hairpin traffic, found there by one set of
 * `endpoint . endpoint` pairs. Few chains and sets matter: nft lists them all on every run. New
 * connections to a load-balancer IP whose Service has loadBalancerSourceRanges pass a per-service
 * firewall chain first (filter prerouting and output, before DNAT) that drops other sources.
 *
 * The first sync replaces the table whole (which also clears what an earlier run left); later
 * ones diff against the previous snapshot and touch only changed chains and map elements, so one
 * endpoint change is a few lines however many Services there are, and affinity sets survive.
 */
import { categorizeEndpoints, firewallSources, servicePortKey, shortHash, type EndpointState, type ProxyState, type ServicePortState } from './state.js';

/** The proxy's table name (family ip). */
export const NFT_TABLE = 'k8ts-proxy';
/** The masquerade mark bit, as upstream's kube-proxy. */
export const MASQ_MARK = 0x4000;



/** Base chains and helper chains that always exist. */
const baseChains: [string, string | undefined][] = [
  ['nat-prerouting', 'type nat hook prerouting priority dstnat; policy accept;'],
  ['nat-output', 'type nat hook output priority -100; policy accept;'],
  ['nat-postrouting', 'type nat hook postrouting priority srcnat; policy accept;'],
  // -110: before DNAT (-100), so destinations are still the service addresses.
  ['filter-prerouting', 'type filter hook prerouting priority -110; policy accept;'],
  ['filter-input', 'type filter hook input priority -110; policy accept;'],
  ['filter-forward', 'type filter hook forward priority -110; policy accept;'],
  ['filter-output', 'type filter hook output priority -110; policy accept;'],
  ['services', undefined],
  ['masquerading', undefined],
  ['mark-for-masquerade', undefined],
  ['service-endpoints-check', undefined],
  ['nodeport-endpoints-check', undefined],
  ['reject-chain', undefined],
  ['firewall-check', undefined],
];

const baseChainNames = new Set(baseChains.map(([n]) => n));

const maps: [string, string][] = [
  ['service-ips', 'type ipv4_addr . inet_proto . inet_service : verdict;'],
  ['service-nodeports', 'type inet_proto . inet_service : verdict;'],
  ['no-endpoint-services', 'type ipv4_addr . inet_proto . inet_service : verdict;'],
  ['no-endpoint-nodeports', 'type inet_proto . inet_service : verdict;'],
  ['firewall-ips', 'type ipv4_addr . inet_proto . inet_service : verdict;'],
];
const plainSets: [string, string][] = [
  ['nodeport-ips', 'type ipv4_addr;'],
  // `ip . ip` for every endpoint: a DNATed packet whose source is its destination is hairpin traffic.
  ['hairpin-endpoints', 'type ipv4_addr . ipv4_addr;'],
];

/**
 * Up to this many endpoints, a service chain picks one with a cascade of `numgen` rules (as
 * iptables' statistic cascade), which adds no kernel object; more use one anonymous DNAT map.
 * Endpoint chains exist only for session affinity. Every chain and set costs each `nft` run a
 * little, since nft lists them all before applying a transaction.
 */
const CASCADE_MAX = 8;

function portId(s: ServicePortState): string {
  return `${s.namespace}/${s.name}/${s.protocol}/${s.portName || 'p' + s.port}`;
}
/** Chain spreading over the Cluster-policy endpoints. */
export function clusterChainName(s: ServicePortState): string {
  return `service-${shortHash(portId(s))}-${portId(s)}`;
}
/** Chain spreading over this node's endpoints. */
export function localChainName(s: ServicePortState): string {
  return `local-${shortHash(portId(s))}-${portId(s)}`;
}
/** Chain for traffic to NodePorts, external IPs and load-balancer IPs. */
export function externalChainName(s: ServicePortState): string {
  return `external-${shortHash(portId(s))}-${portId(s)}`;
}
/** Chain that drops sources outside loadBalancerSourceRanges. */
export function firewallChainName(s: ServicePortState): string {
  return `firewall-${shortHash(portId(s))}-${portId(s)}`;
}
/** Chain that DNATs to one endpoint. */
export function endpointChainName(s: ServicePortState, e: EndpointState): string {
  const id = `${portId(s)}__${e.ip}/${e.port}`;
  return `endpoint-${shortHash(id)}-${id}`;
}
/** The session-affinity set of one endpoint; the timeout is in the name so a change makes a new set. */
export function affinitySetName(s: ServicePortState, e: EndpointState): string {
  const id = `${portId(s)}__${e.ip}/${e.port}`;
  return `affinity-${shortHash(id)}-${s.affinityTimeoutSeconds ?? 0}`;
}

/** Everything a state puts in the table: the memory of one sync, diffed against by the next. */
export interface NftSnapshot {
  /** Chain → its rules. */
  chains: Map<string, string[]>;
  /** Dynamic sets (affinity): created once, never flushed, so affinity survives syncs. */
  affinitySets: Map<string, number>;
  /** Per set or map: element key → the rest of the element (comment, verdict). */
  elements: Map<string, Map<string, string>>;
}

function build(state: ProxyState, cache?: NftRenderCache): NftSnapshot {
  const chains = new Map<string, string[]>();
  const affinitySets = new Map<string, number>();
  const elements = new Map<string, Map<string, string>>([...maps, ...plainSets].map(([n]) => [n, new Map()]));
  // Two Services may claim one address and port (external IPs are not checked for clashes); a
  // duplicate key would fail the whole transaction, so the first one (in sorted order) wins.
  const element = (set: string, key: string, rest = '') => {
    const m = elements.get(set)!;
    if (!m.has(key)) m.set(key, rest);
  };
  for (const [name] of baseChains) chains.set(name, []);
  const rule = (chain: string, r: string) => chains.get(chain)!.push(r);

  rule('nat-prerouting', 'jump services');
  rule('nat-output', 'jump services');
  rule('nat-postrouting', 'jump masquerading');
  rule('filter-input', 'ct state new jump nodeport-endpoints-check');
  rule('filter-input', 'ct state new jump service-endpoints-check');
  rule('filter-forward', 'ct state new jump service-endpoints-check');
  rule('filter-output', 'ct state new jump service-endpoints-check');
  rule('filter-prerouting', 'ct state new jump firewall-check');
  rule('filter-output', 'ct state new jump firewall-check');
  rule('services', 'ip daddr . meta l4proto . th dport vmap @service-ips');
  rule('services', 'ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports');
  // Hairpin: a pod reaching itself through a Service must see the reply come back NATed.
  rule('masquerading', 'ct status dnat ip saddr . ip daddr @hairpin-endpoints jump mark-for-masquerade');
  rule('masquerading', `meta mark & ${hex(MASQ_MARK)} == 0 return`);
  rule('masquerading', `meta mark set meta mark ^ ${hex(MASQ_MARK)}`);
  rule('masquerading', 'masquerade fully-random');
  rule('mark-for-masquerade', `meta mark set meta mark | ${hex(MASQ_MARK)}`);
  rule('service-endpoints-check', 'ip daddr . meta l4proto . th dport vmap @no-endpoint-services');
  rule('nodeport-endpoints-check', 'ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports');
  rule('firewall-check', 'ip daddr . meta l4proto . th dport vmap @firewall-ips');
  // A TCP reset refuses at once; an ICMP error from these hooks came a second late here (or not at all).
  rule('reject-chain', 'meta l4proto tcp reject with tcp reset');
  rule('reject-chain', 'reject with icmp type port-unreachable');
  for (const ip of state.nodeIPs) element('nodeport-ips', ip);
  if (state.localhostNodePorts) {
    // route_localnet lets outside packets reach 127/8; only DNATed ones may (upstream's CVE-2020-8558 guard).
    chains.get('filter-input')!.unshift('ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct status & dnat == 0 drop');
  }

  const seen = new Set<string>();
  // What a fragment depends on besides its service port.
  const ctx = `${state.clusterCIDR}|${state.nodeIPs.join(',')}`;
  for (const s of state.services) {
    const k = fragmentKey(s);
    seen.add(k);
    let frag = cache?.get(k);
    // The same object as last time (states are never changed in place) needs no fingerprint.
    if (!frag || frag.src !== s || frag.cidr !== ctx) {
      const fp = cache ? JSON.stringify(s) : '';
      if (!frag || frag.fp !== fp || frag.cidr !== ctx) frag = { ...renderService(s, state.clusterCIDR, state.nodeIPs), fp, cidr: ctx, src: s };
      else frag.src = s;
      cache?.set(k, frag);
    }
    for (const [name, rules] of frag.chains) chains.set(name, rules);
    for (const [name, timeout] of frag.sets) affinitySets.set(name, timeout);
    for (const [set, key, rest] of frag.elements) element(set, key, rest);
  }
  if (cache) for (const k of cache.keys()) if (!seen.has(k)) cache.delete(k);
  return { chains, affinitySets, elements };
}

const fragmentKeys = new WeakMap<ServicePortState, string>();
/** The render cache's key of a service port, memoised per state object (most survive many syncs). */
function fragmentKey(s: ServicePortState): string {
  let k = fragmentKeys.get(s);
  if (k === undefined) fragmentKeys.set(s, (k = `${servicePortKey(s)}/${s.protocol}`));
  return k;
}

/** What one service port adds to the table. */
export interface NftFragment {
  chains: [string, string[]][];
  sets: [string, number][];
  elements: [string, string, string][];
}

/**
 * Memo of per-service fragments between syncs (pass the same Map each time); `cidr` keys what
 * else they depend on, `src` is the state object last rendered. With a cache, do not change a
 * state's service ports in place: an unchanged object is taken as unchanged content.
 */
export type NftRenderCache = Map<string, NftFragment & { fp: string; cidr: string; src?: ServicePortState }>;

function renderService(s: ServicePortState, clusterCIDR: string, nodeIPs: string[]): NftFragment {
  const frag: NftFragment = { chains: [], sets: [], elements: [] };
  const chainMap = new Map<string, string[]>();
  const newChain = (name: string) => {
    const rules: string[] = [];
    chainMap.set(name, rules);
    frag.chains.push([name, rules]);
  };
  const rule = (chain: string, r: string) => chainMap.get(chain)!.push(r);
  const element = (set: string, key: string, rest: string) => frag.elements.push([set, key, rest]);
  const state = { clusterCIDR };
  const cat = categorizeEndpoints(s);
  const comment = ` comment ${JSON.stringify(servicePortKey(s))}`;
  const key = (ip: string) => `${ip} . ${s.protocol} . ${s.port}`;
  const externalDests = [...s.externalIPs, ...s.loadBalancerIPs];

  // loadBalancerSourceRanges guard the load-balancer IPs only (not NodePorts or external IPs),
  // with or without endpoints, as upstream.
  const allowed = firewallSources(s, nodeIPs);
  if (allowed) {
    const fw = firewallChainName(s);
    newChain(fw);
    rule(fw, `ip saddr != { ${allowed.join(', ')} } drop`);
    for (const ip of s.loadBalancerIPs) element('firewall-ips', key(ip), `${comment} : goto ${fw}`);
  }

  if (!cat.hasAny) {
    // Nothing can answer: refuse at once on every address of the service.
    for (const ip of [s.clusterIP, ...externalDests]) element('no-endpoint-services', key(ip), `${comment} : goto reject-chain`);
    if (s.nodePort) element('no-endpoint-nodeports', `${s.protocol} . ${s.nodePort}`, `${comment} : goto reject-chain`);
    return frag;
  }

  const affinity = s.affinityTimeoutSeconds !== undefined;
  const dnat = (e: EndpointState) => `meta l4proto ${s.protocol} dnat to ${e.ip}:${e.port}`;
  const spread = (chain: string, eps: EndpointState[]) => {
    for (const e of eps) element('hairpin-endpoints', `${e.ip} . ${e.ip}`, '');
    if (affinity) {
      // Per-endpoint chains: each remembers its clients in its own timed set.
      for (const e of eps) rule(chain, `ip saddr @${affinitySetName(s, e)} goto ${endpointChainName(s, e)}`);
      if (eps.length === 1) rule(chain, `goto ${endpointChainName(s, eps[0])}`);
      else rule(chain, `numgen random mod ${eps.length} vmap { ${eps.map((e, i) => `${i} : goto ${endpointChainName(s, e)}`).join(', ')} }`);
    } else if (eps.length <= CASCADE_MAX) {
      // Endpoint i (of n) with probability 1/(n-i) among those left: uniform overall.
      eps.forEach((e, i) => rule(chain, i < eps.length - 1 ? `numgen random mod ${eps.length - i} == 0 ${dnat(e)}` : dnat(e)));
    } else {
      rule(chain, `meta l4proto ${s.protocol} dnat ip addr . port to numgen random mod ${eps.length} map { ${eps.map((e, i) => `${i} : ${e.ip} . ${e.port}`).join(', ')} }`);
    }
  };
  const usedEndpoints = new Set<EndpointState>();
  const clusterChain = cat.cluster.length ? clusterChainName(s) : '';
  const localChain = cat.local.length && (s.internalPolicyLocal || s.externalPolicyLocal) ? localChainName(s) : '';
  if (clusterChain) {
    newChain(clusterChain);
    if (affinity) cat.cluster.forEach((e) => usedEndpoints.add(e));
  }
  if (localChain) {
    newChain(localChain);
    if (affinity) cat.local.forEach((e) => usedEndpoints.add(e));
  }

  // ClusterIP.
  const internalChain = s.internalPolicyLocal ? localChain : clusterChain;
  if (internalChain) {
    if (state.clusterCIDR) rule(internalChain, `ip daddr ${s.clusterIP} ${s.protocol} dport ${s.port} ip saddr != ${state.clusterCIDR} jump mark-for-masquerade`);
    else rule(internalChain, `ip daddr ${s.clusterIP} ${s.protocol} dport ${s.port} jump mark-for-masquerade`);
    element('service-ips', key(s.clusterIP), `${comment} : goto ${internalChain}`);
  } else {
    // internalTrafficPolicy Local with no endpoint on this node: drop, as upstream.
    element('no-endpoint-services', key(s.clusterIP), `${comment} : drop`);
  }

  // NodePort, external IPs, load-balancer IPs.
  if (s.nodePort || externalDests.length) {
    const ext = externalChainName(s);
    newChain(ext);
    if (!s.externalPolicyLocal) {
      rule(ext, 'jump mark-for-masquerade');
      rule(ext, `goto ${clusterChain}`);
    } else {
      // Pods and the node itself may use any endpoint (upstream's short-circuit); the rest keep
      // their source address and go to local endpoints only.
      if (state.clusterCIDR) rule(ext, `ip saddr ${state.clusterCIDR} goto ${clusterChain}`);
      rule(ext, 'fib saddr type local jump mark-for-masquerade');
      rule(ext, `fib saddr type local goto ${clusterChain}`);
      rule(ext, localChain ? `goto ${localChain}` : 'drop');
    }
    for (const ip of externalDests) element('service-ips', key(ip), `${comment} : goto ${ext}`);
    if (s.nodePort) element('service-nodeports', `${s.protocol} . ${s.nodePort}`, `${comment} : goto ${ext}`);
  }

  if (clusterChain) spread(clusterChain, cat.cluster);
  if (localChain) spread(localChain, cat.local);
  for (const e of usedEndpoints) {
    const c = endpointChainName(s, e);
    newChain(c);
    const set = affinitySetName(s, e);
    frag.sets.push([set, s.affinityTimeoutSeconds!]);
    rule(c, `update @${set} { ip saddr }`);
    rule(c, dnat(e));
  }
  return frag;
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}

/** What `state` puts in the table (pass it as {@link NftRenderOptions.previous} next time). */
export function nftSnapshot(state: ProxyState): NftSnapshot {
  return build(state);
}

/** Options for {@link renderNftRuleset}. */
export interface NftRenderOptions {
  /**
   * What the table held after the last successful sync. Given, the script changes the table in
   * place, so affinity sets survive: only chains whose rules changed are rewritten and only map
   * elements that changed are replaced. Absent, the script deletes and recreates the whole table.
   */
  previous?: NftSnapshot;
  /** With `previous`: rewrite every chain and map in place anyway (periodic repair). */
  rewriteAll?: boolean;
  /** Reuse unchanged services' rendering from earlier calls (the proxy keeps one per run). */
  cache?: NftRenderCache;
  /** The table (family ip). Default {@link NFT_TABLE}; several proxies in one namespace need their own. */
  table?: string;
}

/** One atomic `nft -f -` transaction that makes the table match `state`. Pure. */
export function renderNftRuleset(state: ProxyState, opts: NftRenderOptions = {}): string {
  return renderNft(state, opts).script;
}

/** {@link renderNftRuleset}, also returning the snapshot for the next call. */
export function renderNft(state: ProxyState, opts: NftRenderOptions = {}): { script: string; snapshot: NftSnapshot } {
  const r = build(state, opts.cache);
  const prev = opts.previous;
  const T = `ip ${opts.table ?? NFT_TABLE}`;
  const out: string[] = [];
  const addSet = (name: string, timeout: number) => out.push(`add set ${T} ${name} { type ipv4_addr; flags dynamic,timeout; timeout ${timeout}s; }`);
  const fill = (chain: string, rules: string[]) => {
    for (const rule of rules) out.push(`add rule ${T} ${chain} ${rule}`);
  };
  const elems = (set: string, list: [string, string][]) => {
    if (list.length) out.push(`add element ${T} ${set} { ${list.map(([k, rest]) => k + rest).join(', ')} }`);
  };

  if (!prev || opts.rewriteAll) {
    out.push(`add table ${T}`);
    if (!prev) out.push(`delete table ${T}`, `add table ${T}`);
    for (const [name, spec] of baseChains) out.push(`add chain ${T} ${name}${spec ? ` { ${spec} }` : ''}`);
    for (const name of r.chains.keys()) if (!baseChainNames.has(name)) out.push(`add chain ${T} ${name}`);
    for (const [name, spec] of maps) out.push(`add map ${T} ${name} { ${spec} }`);
    for (const [name, spec] of plainSets) out.push(`add set ${T} ${name} { ${spec} }`);
    for (const [name, timeout] of r.affinitySets) addSet(name, timeout);
    if (prev) {
      for (const [name] of [...maps, ...plainSets]) out.push(`flush ${maps.some(([m]) => m === name) ? 'map' : 'set'} ${T} ${name}`);
      for (const name of r.chains.keys()) out.push(`flush chain ${T} ${name}`);
    }
    for (const [chain, rules] of r.chains) fill(chain, rules);
    for (const [set, m] of r.elements) elems(set, [...m]);
  } else {
    // Only what changed: new chains and sets first (rules may refer to them), then rewritten chains.
    for (const name of r.chains.keys()) if (!prev.chains.has(name)) out.push(`add chain ${T} ${name}`);
    for (const [name, timeout] of r.affinitySets) if (!prev.affinitySets.has(name)) addSet(name, timeout);
    for (const [chain, rules] of r.chains) {
      const old = prev.chains.get(chain);
      if (old && (old === rules || sameRules(old, rules))) continue;
      if (old) out.push(`flush chain ${T} ${chain}`);
      fill(chain, rules);
    }
    for (const [set, m] of r.elements) {
      const before = prev.elements.get(set) ?? new Map<string, string>();
      // Plain loops: these maps hold an entry per service and endpoint, and this runs every sync.
      const gone: string[] = [];
      for (const [k, v] of before) if (m.get(k) !== v) gone.push(k);
      if (gone.length) out.push(`delete element ${T} ${set} { ${gone.join(', ')} }`);
      const added: [string, string][] = [];
      for (const [k, v] of m) if (before.get(k) !== v) added.push([k, v]);
      elems(set, added);
    }
  }
  if (prev) {
    // Stale chains may jump to each other: flush them all before deleting any.
    const stale = [...prev.chains.keys()].filter((c) => !r.chains.has(c));
    for (const c of stale) out.push(`flush chain ${T} ${c}`);
    for (const c of stale) out.push(`delete chain ${T} ${c}`);
    for (const s of prev.affinitySets.keys()) if (!r.affinitySets.has(s)) out.push(`delete set ${T} ${s}`);
  }
  return { script: out.length ? out.join('\n') + '\n' : '', snapshot: r };
}

function sameRules(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The transaction that removes the proxy's table (no error when it is already gone). */
export function renderNftCleanup(table: string = NFT_TABLE): string {
  const T = `ip ${table}`;
  return `add table ${T}\ndelete table ${T}\n`;
}
