/**
 * Query-name parsing for the cluster zone, after the Kubernetes DNS specification and CoreDNS's
 * kubernetes plugin: `[_port._proto.|endpoint.]service.namespace.svc.<zone>`,
 * `a-b-c-d.namespace.pod.<zone>`, and reverse names under in-addr.arpa and ip6.arpa.
 * Pure functions: no I/O.
 */
import { isIP } from 'node:net';

/** What a name inside the cluster zone asks for. Labels are lower-cased. */
export type ClusterName =
  | { kind: 'apex' }
  | { kind: 'dns-version' }
  /** `svc.<zone>` or `pod.<zone>`: exists, holds no records. */
  | { kind: 'type-root'; type: 'svc' | 'pod' }
  /** `<ns>.svc.<zone>` or `<ns>.pod.<zone>`: exists when the namespace does. */
  | { kind: 'namespace'; type: 'svc' | 'pod'; namespace: string }
  | { kind: 'service'; namespace: string; service: string }
  /** `<endpoint>.<svc>.<ns>.svc.<zone>`: an endpoint's hostname or its dashed address. */
  | { kind: 'endpoint'; namespace: string; service: string; endpoint: string }
  /** `_<port>._<proto>.<svc>.<ns>.svc.<zone>` (the underscores are optional, as in CoreDNS). */
  | { kind: 'port'; namespace: string; service: string; port: string; protocol: string }
  /** `<dashed-ip>.<ns>.pod.<zone>`; `ip` is undefined when the label is not an address. */
  | { kind: 'pod'; namespace: string; ip: string | undefined }
  /** Inside the zone, but no record can ever live there: NXDOMAIN. */
  | { kind: 'invalid' };

/** Lower-case, without the trailing dot. */
export function canonicalName(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/** The labels in front of `zone`, or undefined when `name` is outside it. Both are canonical. */
export function trimZone(name: string, zone: string): string[] | undefined {
  if (name === zone) return [];
  if (!name.endsWith('.' + zone)) return undefined;
  return name.slice(0, -(zone.length + 1)).split('.');
}

const stripUnderscore = (s: string): string => (s.startsWith('_') ? s.slice(1) : s);

/**
 * Parse a name in the cluster zone. Returns undefined when `name` is outside `zone`.
 * `name` and `zone` may be in any case and may end in a dot.
 */
export function parseClusterName(name: string, zone: string): ClusterName | undefined {
  const labels = trimZone(canonicalName(name), canonicalName(zone));
  if (!labels) return undefined;
  if (labels.length === 0) return { kind: 'apex' };
  if (labels.some((l) => l === '')) return { kind: 'invalid' };
  const last = labels.length - 1;
  const type = labels[last];
  if (labels.length === 1 && type === 'dns-version') return { kind: 'dns-version' };
  if (type !== 'svc' && type !== 'pod') return { kind: 'invalid' };
  if (labels.length === 1) return { kind: 'type-root', type };
  const namespace = labels[last - 1];
  if (labels.length === 2) return { kind: 'namespace', type, namespace };
  const name3 = labels[last - 2];
  if (type === 'pod') {
    if (labels.length !== 3) return { kind: 'invalid' };
    return { kind: 'pod', namespace, ip: dashedToIP(name3) };
  }
  if (labels.length === 3) return { kind: 'service', namespace, service: name3 };
  if (labels.length === 4) return { kind: 'endpoint', namespace, service: name3, endpoint: labels[0] };
  if (labels.length === 5) return { kind: 'port', namespace, service: name3, port: stripUnderscore(labels[0]), protocol: stripUnderscore(labels[1]) };
  return { kind: 'invalid' };
}

/** `10.1.2.3` → `10-1-2-3`, `fd00::1` → `fd00--1` (CoreDNS's endpoint and pod label form). */
export function ipToDashed(ip: string): string {
  return ip.includes('.') ? ip.replaceAll('.', '-') : ip.replaceAll(':', '-');
}

/** The address a dashed label stands for, or undefined. Three dashes and no `--` means IPv4. */
export function dashedToIP(label: string): string | undefined {
  const v4 = (label.match(/-/g) ?? []).length === 3 && !label.includes('--');
  const ip = v4 ? label.replaceAll('-', '.') : label.replaceAll('-', ':');
  return isIP(ip) ? ip : undefined;
}

/** True for names under in-addr.arpa or ip6.arpa (any case, trailing dot optional). */
export function isReverseName(name: string): boolean {
  const n = canonicalName(name);
  return n === 'in-addr.arpa' || n.endsWith('.in-addr.arpa') || n === 'ip6.arpa' || n.endsWith('.ip6.arpa');
}

/**
 * The address a complete reverse name stands for: `4.3.2.1.in-addr.arpa` → `1.2.3.4`, 32 nibbles
 * under ip6.arpa → the compressed IPv6 form. Undefined for partial or malformed names.
 */
export function reverseToIP(name: string): string | undefined {
  const n = canonicalName(name);
  if (n.endsWith('.in-addr.arpa')) {
    const parts = n.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
    return parts.reverse().join('.');
  }
  if (n.endsWith('.ip6.arpa')) {
    const nibbles = n.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((x) => /^[0-9a-f]$/.test(x))) return undefined;
    const hex = nibbles.reverse().join('');
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4));
    return normalizeIP(groups.join(':'));
  }
  return undefined;
}

/** The reverse name of an address (no trailing dot). */
export function ipToReverse(ip: string): string {
  if (isIP(ip) === 4) return ip.split('.').reverse().join('.') + '.in-addr.arpa';
  const hex = expandIPv6(ip).replaceAll(':', '');
  return hex.split('').reverse().join('.') + '.ip6.arpa';
}

/** The eight groups of an IPv6 address, four hex digits each, joined by `:`. */
function expandIPv6(ip: string): string {
  let head = ip;
  let v4tail: string[] = [];
  const lastColon = ip.lastIndexOf(':');
  if (ip.slice(lastColon + 1).includes('.')) {
    const o = ip.slice(lastColon + 1).split('.').map(Number);
    v4tail = [((o[0] << 8) | o[1]).toString(16), ((o[2] << 8) | o[3]).toString(16)];
    head = ip.slice(0, lastColon + 1) + '0';
  }
  const [l, r] = head.includes('::') ? head.split('::') : [head, undefined];
  const left = l ? l.split(':') : [];
  const right = r ? r.split(':') : [];
  if (v4tail.length) (r !== undefined ? right : left).splice(-1, 1, ...v4tail);
  const fill = r !== undefined ? new Array(8 - left.length - right.length).fill('0') : [];
  return [...left, ...fill, ...right].map((g) => g.padStart(4, '0')).join(':');
}

/** One spelling per address: IPv4 as is, IPv6 in the RFC 5952 compressed, lower-case form. */
export function normalizeIP(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const groups = expandIPv6(ip.toLowerCase()).split(':').map((g) => g.replace(/^0+(?=.)/, ''));
  // Longest run of two or more zero groups becomes '::' (first one on a tie).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
