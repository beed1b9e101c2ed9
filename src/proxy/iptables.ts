/**
 * Renders the proxy's state as `iptables-restore --noflush` input: the proxy's own KUBE-* chains
 * in the nat and filter tables, replaced in one commit per table. The jumps from the built-in
 * chains into them are managed separately ({@link iptablesJumps}), since --noflush cannot replace
 * a single rule of a built-in chain.
 *
 * loadBalancerSourceRanges work as upstream's iptables mode: a load-balancer IP goes through a
 * KUBE-FW chain that passes allowed sources on to the external chain (and so DNATs them); what
 * falls through keeps its load-balancer destination and is dropped in the filter table.
 */
import { categorizeEndpoints, firewallSources, servicePortKey, shortHash, type EndpointState, type ProxyState, type ServicePortState } from './state.js';
import { MASQ_MARK } from './nftables.js';

/** Fixed chains, by table. */
export const IPT_NAT_CHAINS = ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ'] as const;
export const IPT_FILTER_CHAINS = ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES'] as const;

/** A rule in a built-in chain that enters one of ours (`-I chain 1 <args>` in `table`). */
export interface IptablesJump {
  table: 'nat' | 'filter';
  chain: string;
  args: string[];
}

/** The jumps from built-in chains into the proxy's chains. */
export function iptablesJumps(): IptablesJump[] {
  const c = ['-m', 'comment', '--comment', 'k8ts-proxy'];
  return [
    { table: 'nat', chain: 'PREROUTING', args: [...c, '-j', 'KUBE-SERVICES'] },
    { table: 'nat', chain: 'OUTPUT', args: [...c, '-j', 'KUBE-SERVICES'] },
    { table: 'nat', chain: 'POSTROUTING', args: [...c, '-j', 'KUBE-POSTROUTING'] },
    { table: 'filter', chain: 'INPUT', args: ['-m', 'conntrack', '--ctstate', 'NEW', ...c, '-j', 'KUBE-EXTERNAL-SERVICES'] },
    { table: 'filter', chain: 'INPUT', args: ['-m', 'conntrack', '--ctstate', 'NEW', ...c, '-j', 'KUBE-SERVICES'] },
    { table: 'filter', chain: 'FORWARD', args: ['-m', 'conntrack', '--ctstate', 'NEW', ...c, '-j', 'KUBE-SERVICES'] },
    { table: 'filter', chain: 'OUTPUT', args: ['-m', 'conntrack', '--ctstate', 'NEW', ...c, '-j', 'KUBE-SERVICES'] },
  ];
}

function portId(s: ServicePortState): string {
  return `${s.namespace}/${s.name}:${s.portName}/${s.protocol}`;
}
const h = (prefix: string, id: string) => `${prefix}${shortHash(id, 16)}`;
/** Chain names (28 characters at most, as iptables requires). */
export const iptChain = {
  cluster: (s: ServicePortState) => h('KUBE-SVC-', portId(s)),
  local: (s: ServicePortState) => h('KUBE-SVL-', portId(s)),
  external: (s: ServicePortState) => h('KUBE-EXT-', portId(s)),
  firewall: (s: ServicePortState) => h('KUBE-FW-', portId(s)),
  endpoint: (s: ServicePortState, e: EndpointState) => h('KUBE-SEP-', `${portId(s)}__${e.ip}:${e.port}`),
};

const jumpArgs = (j: IptablesJump) => j.args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
const jumpLine = (j: IptablesJump) => `${j.chain} ${jumpArgs(j)}`;

/** What `iptables-save` output shows of the proxy: its per-service nat chains and the jumps present (one entry per copy). */
export function parseIptablesSave(save: string): { chains: Set<string>; jumps: IptablesJump[] } {
  const chains = new Set<string>();
  const jumps: IptablesJump[] = [];
  let table = '';
  const wanted = iptablesJumps();
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    const m = /^:(KUBE-(?:SVC|SVL|EXT|SEP|FW)-\S+)/.exec(line);
    if (m && table === 'nat') chains.add(m[1]);
    if (!line.startsWith('-A ')) continue;
    for (const j of wanted) if (j.table === table && line.slice(3) === jumpLine(j)) jumps.push(j);
  }
  return { chains, jumps };
}

/** Per-service chains of the nat table a state produces. */
export function iptablesChains(state: ProxyState): Set<string> {
  const out = new Set<string>();
  for (const line of renderIptablesRestore(state).split('\n')) {
    const m = /^:(KUBE-(?:SVC|SVL|EXT|SEP|FW)-\S+)/.exec(line);
    if (m) out.add(m[1]);
  }
  return out;
}

/** Options for {@link renderIptablesRestore}. */
export interface IptablesRenderOptions {
  /** Per-service nat chains that exist now; those the state no longer needs are deleted. */
  existing?: Iterable<string>;
  /** Jumps from built-in chains to insert (those found missing). */
  addJumps?: IptablesJump[];
}

const q = (s: string) => JSON.stringify(s);

/**
 * `iptables-restore --noflush` input making the proxy's chains match `state`. Declaring a chain
 * flushes it, so every chain is rewritten whole inside the table's commit. Pure.
 */
export function renderIptablesRestore(state: ProxyState, opts: IptablesRenderOptions = {}): string {
  const natChains: string[] = [...IPT_NAT_CHAINS];
  const nat: string[] = [];
  const filter: string[] = [];
  const mark = `0x${MASQ_MARK.toString(16)}`;

  nat.push(`-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`);
  nat.push(`-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`);
  nat.push(`-A KUBE-POSTROUTING -j MASQUERADE --random-fully`);
  nat.push(`-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`);
  const nodePortRules: string[] = [];

  for (const s of state.services) {
    const cat = categorizeEndpoints(s);
    const comment = `-m comment --comment ${q(servicePortKey(s))}`;
    const dest = (ip: string) => `-d ${ip}/32 -p ${s.protocol} -m ${s.protocol} --dport ${s.port}`;
    const externalDests = [...s.externalIPs, ...s.loadBalancerIPs];
    // A TCP reset refuses at once; an ICMP error from these hooks came a second late here (or not at all).
    const reject = s.protocol === 'tcp' ? 'REJECT --reject-with tcp-reset' : 'REJECT';
    if (!cat.hasAny) {
      for (const ip of [s.clusterIP, ...externalDests]) filter.push(`-A KUBE-SERVICES ${comment} ${dest(ip)} -j ${reject}`);
      if (s.nodePort) {
        for (const ip of state.nodeIPs) filter.push(`-A KUBE-EXTERNAL-SERVICES ${comment} -d ${ip}/32 -p ${s.protocol} -m ${s.protocol} --dport ${s.nodePort} -j ${reject}`);
      }
      continue;
    }
    const clusterChain = cat.cluster.length ? iptChain.cluster(s) : '';
    const localChain = cat.local.length && (s.internalPolicyLocal || s.externalPolicyLocal) ? iptChain.local(s) : '';
    const used = new Set<EndpointState>();
    if (clusterChain) {
      natChains.push(clusterChain);
      cat.cluster.forEach((e) => used.add(e));
    }
    if (localChain) {
      natChains.push(localChain);
      cat.local.forEach((e) => used.add(e));
    }
    const internalChain = s.internalPolicyLocal ? localChain : clusterChain;
    if (internalChain) {
      nat.push(`-A KUBE-SERVICES ${comment} ${dest(s.clusterIP)} -j ${internalChain}`);
      const src = state.clusterCIDR ? `! -s ${state.clusterCIDR} ` : '';
      nat.push(`-A ${internalChain} ${comment} ${src}${dest(s.clusterIP)} -j KUBE-MARK-MASQ`);
    } else {
      filter.push(`-A KUBE-SERVICES ${comment} ${dest(s.clusterIP)} -j DROP`);
    }
    if (s.nodePort || externalDests.length) {
      const ext = iptChain.external(s);
      natChains.push(ext);
      if (!s.externalPolicyLocal) {
        nat.push(`-A ${ext} -j KUBE-MARK-MASQ`);
        nat.push(`-A ${ext} -j ${clusterChain}`);
      } else {
        if (state.clusterCIDR) nat.push(`-A ${ext} -s ${state.clusterCIDR} -j ${clusterChain}`);
        nat.push(`-A ${ext} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`);
        nat.push(`-A ${ext} -m addrtype --src-type LOCAL -j ${clusterChain}`);
        if (localChain) nat.push(`-A ${ext} -j ${localChain}`);
        else {
          // No endpoint here: external traffic is dropped (filter), as upstream.
          for (const ip of externalDests) filter.push(`-A KUBE-EXTERNAL-SERVICES ${comment} ${dest(ip)} -j DROP`);
          if (s.nodePort) for (const ip of state.nodeIPs) filter.push(`-A KUBE-EXTERNAL-SERVICES ${comment} -d ${ip}/32 -p ${s.protocol} -m ${s.protocol} --dport ${s.nodePort} -j DROP`);
        }
      }
      const allowed = firewallSources(s, state.nodeIPs);
      if (allowed) {
        // Allowed sources go on to the external chain; the rest stay un-DNATed and are dropped below.
        const fw = iptChain.firewall(s);
        natChains.push(fw);
        for (const src of allowed) nat.push(`-A ${fw} ${comment} -s ${src.includes('/') ? src : src + '/32'} -j ${ext}`);
        for (const ip of s.loadBalancerIPs) {
          nat.push(`-A KUBE-SERVICES ${comment} ${dest(ip)} -j ${fw}`);
          filter.push(`-A KUBE-SERVICES ${comment} ${dest(ip)} -j DROP`);
        }
      }
      const lbFirewalled = (ip: string) => !!allowed && s.loadBalancerIPs.includes(ip);
      for (const ip of externalDests) if (!lbFirewalled(ip)) nat.push(`-A KUBE-SERVICES ${comment} ${dest(ip)} -j ${ext}`);
      if (s.nodePort) nodePortRules.push(`-A KUBE-NODEPORTS ${comment} -p ${s.protocol} -m ${s.protocol} --dport ${s.nodePort} -j ${ext}`);
    }
    const spread = (chain: string, eps: EndpointState[]) => {
      if (s.affinityTimeoutSeconds !== undefined) {
        for (const e of eps) {
          const sep = iptChain.endpoint(s, e);
          nat.push(`-A ${chain} ${comment} -m recent --name ${sep} --mask 255.255.255.255 --rsource --rcheck --seconds ${s.affinityTimeoutSeconds} --reap -j ${sep}`);
        }
      }
      eps.forEach((e, i) => {
        const left = eps.length - i;
        const prob = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : '';
        nat.push(`-A ${chain} ${comment}${prob} -j ${iptChain.endpoint(s, e)}`);
      });
    };
    if (clusterChain) spread(clusterChain, cat.cluster);
    if (localChain) spread(localChain, cat.local);
    for (const e of used) {
      const sep = iptChain.endpoint(s, e);
      natChains.push(sep);
      nat.push(`-A ${sep} ${comment} -s ${e.ip}/32 -j KUBE-MARK-MASQ`);
      const rec = s.affinityTimeoutSeconds !== undefined ? ` -m recent --name ${sep} --mask 255.255.255.255 --rsource --set` : '';
      nat.push(`-A ${sep} ${comment} -p ${s.protocol} -m ${s.protocol}${rec} -j DNAT --to-destination ${e.ip}:${e.port}`);
    }
  }
  if (state.localhostNodePorts) {
    // route_localnet lets outside packets reach 127/8; only DNATed ones may (upstream's CVE-2020-8558 guard).
    filter.unshift('-A KUBE-EXTERNAL-SERVICES -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP');
  }
  // NodePorts come last in KUBE-SERVICES, as upstream.
  for (const ip of state.nodeIPs) nat.push(`-A KUBE-SERVICES -d ${ip}/32 -j KUBE-NODEPORTS`);
  nat.push(...nodePortRules);

  const wanted = new Set(natChains);
  const stale = [...(opts.existing ?? [])].filter((c) => !wanted.has(c) && /^KUBE-(SVC|SVL|EXT|SEP|FW)-/.test(c));
  const out: string[] = ['*nat'];
  for (const c of natChains) out.push(`:${c} - [0:0]`);
  // Declaring flushes them, so nothing references them when they go.
  for (const c of stale) out.push(`:${c} - [0:0]`);
  out.push(...nat);
  for (const c of stale) out.push(`-X ${c}`);
  const jumps = (table: string) => (opts.addJumps ?? []).filter((j) => j.table === table).map((j) => `-I ${j.chain} 1 ${jumpArgs(j)}`);
  out.push(...jumps('nat'));
  out.push('COMMIT', '*filter');
  for (const c of IPT_FILTER_CHAINS) out.push(`:${c} - [0:0]`);
  out.push(...filter, ...jumps('filter'), 'COMMIT');
  return out.join('\n') + '\n';
}

/** Restore input that removes the given jumps (one line per copy present), then empties and deletes the chains. */
export function renderIptablesCleanup(natChains: Iterable<string>, jumps: IptablesJump[] = []): string {
  const nat = [...new Set([...IPT_NAT_CHAINS, ...natChains])];
  const del = (table: string) => jumps.filter((j) => j.table === table).map((j) => `-D ${jumpLine(j)}`);
  const out = ['*nat', ...nat.map((c) => `:${c} - [0:0]`), ...del('nat'), ...nat.map((c) => `-X ${c}`), 'COMMIT', '*filter'];
  out.push(...IPT_FILTER_CHAINS.map((c) => `:${c} - [0:0]`), ...del('filter'), ...IPT_FILTER_CHAINS.map((c) => `-X ${c}`), 'COMMIT');
  return out.join('\n') + '\n';
}
