/**
 * IP address and CIDR parsing and validation, as upstream's netutils "sloppy" parsers accept
 * them (IPv4 with leading zeros is read as decimal), with upstream's messages.
 */
import { field, type FieldError } from '../errors.js';

/** An IP address: 4 bytes for IPv4 (including IPv4-mapped IPv6), 16 for IPv6. */
export type IPBytes = Uint8Array;

function parseIPv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^[0-9]{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIPv6(s: string): Uint8Array | undefined {
  if (s.length === 0 || s.includes('%')) return undefined;
  let tail4: Uint8Array | undefined;
  let str = s;
  const lastColon = str.lastIndexOf(':');
  if (lastColon >= 0 && str.slice(lastColon + 1).includes('.')) {
    tail4 = parseIPv4(str.slice(lastColon + 1));
    if (!tail4) return undefined;
    str = `${str.slice(0, lastColon + 1)}0:0`;
  }
  const dbl = str.indexOf('::');
  if (dbl !== str.lastIndexOf('::')) return undefined;
  const toGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const gs = part.split(':');
    const out: number[] = [];
    for (const g of gs) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl >= 0) {
    const head = toGroups(str.slice(0, dbl));
    const tail = toGroups(str.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = toGroups(str);
    if (!all || all.length !== 8) return undefined;
    groups = all;
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (tail4) out.set(tail4, 12);
  return out;
}

/** Parse an IP address; IPv4-mapped IPv6 comes back as 4 bytes. Undefined when invalid. */
export function parseIP(s: string): IPBytes | undefined {
  if (typeof s !== 'string') return undefined;
  if (s.includes(':')) {
    const v6 = parseIPv6(s);
    if (!v6) return undefined;
    const mapped = v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
    return mapped ? v6.slice(12) : v6;
  }
  return parseIPv4(s);
}

/** Canonical text of an address (`10.0.0.1`, `2001:db8::1`). */
export function formatIP(ip: IPBytes): string {
  if (ip.length === 4) return Array.from(ip).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip[i] << 8) | ip[i + 1]);
  // Longest run of two or more zero groups becomes `::` (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** IP family of an address string, or undefined when it is not an IP. */
export function ipFamilyOf(s: string): 'IPv4' | 'IPv6' | undefined {
  const ip = parseIP(s);
  if (!ip) return undefined;
  return ip.length === 4 ? 'IPv4' : 'IPv6';
}

/** A parsed CIDR: the network address (host bits cleared) and prefix length. */
export interface CIDR {
  ip: IPBytes;
  prefix: number;
  /** The address as written (host bits possibly set). */
  address: IPBytes;
}

/** Parse `10.43.0.0/16` or `fd00::/108`. Undefined when invalid. */
export function parseCIDR(s: string): CIDR | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addrText = s.slice(0, slash);
  const prefixText = s.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText)) return undefined;
  let address = addrText.includes(':') ? parseIPv6(addrText) : parseIPv4(addrText);
  if (!address) return undefined;
  let prefix = Number(prefixText);
  const bits = address.length * 8;
  if (prefix > bits) return undefined;
  const mapped = address.length === 16 && address.slice(0, 10).every((b) => b === 0) && address[10] === 0xff && address[11] === 0xff;
  if (mapped && prefix >= 96) {
    address = address.slice(12);
    prefix -= 96;
  }
  const ip = new Uint8Array(address);
  for (let i = 0; i < ip.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    ip[i] &= keep === 8 ? 0xff : (0xff << (8 - keep)) & 0xff;
  }
  return { ip, prefix, address };
}

/** The address as a bigint (for arithmetic over ranges). */
export function ipToBigInt(ip: IPBytes): bigint {
  let n = 0n;
  for (const b of ip) n = (n << 8n) | BigInt(b);
  return n;
}

/** The inverse of {@link ipToBigInt} for a 4- or 16-byte address. */
export function bigIntToIP(n: bigint, length: 4 | 16): IPBytes {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** Is the address inside the CIDR? */
export function cidrContains(cidr: CIDR, ip: IPBytes): boolean {
  if (ip.length !== cidr.ip.length) return false;
  const bits = BigInt(ip.length * 8);
  const shift = bits - BigInt(cidr.prefix);
  return ipToBigInt(ip) >> shift === ipToBigInt(cidr.ip) >> shift;
}

/** Field error when the value is not an IP (`must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`). */
export function validateIP(path: string, value: string): FieldError[] {
  return parseIP(value) ? [] : [field.invalid(path, value, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)')];
}

/** Field error when the value is not a CIDR. */
export function validateCIDR(path: string, value: string): FieldError[] {
  return parseCIDR(value) ? [] : [field.invalid(path, value, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')];
}

/** Upstream's ValidateNonSpecialIP: no unspecified, loopback or link-local addresses (Endpoints, external IPs). */
export function validateNonSpecialIP(path: string, value: string): FieldError[] {
  const ip = parseIP(value);
  if (!ip) return [field.invalid(path, value, 'must be a valid IP address')];
  const errs: FieldError[] = [];
  const isV4 = ip.length === 4;
  if (ip.every((b) => b === 0)) errs.push(field.invalid(path, value, `may not be unspecified (${value})`));
  const loopback = isV4 ? ip[0] === 127 : ip.slice(0, 15).every((b) => b === 0) && ip[15] === 1;
  if (loopback) errs.push(field.invalid(path, value, 'may not be in the loopback range (127.0.0.0/8, ::1/128)'));
  const linkLocalUnicast = isV4 ? ip[0] === 169 && ip[1] === 254 : ip[0] === 0xfe && (ip[1] & 0xc0) === 0x80;
  if (linkLocalUnicast) errs.push(field.invalid(path, value, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)'));
  const linkLocalMulticast = isV4 ? ip[0] === 224 && ip[1] === 0 && ip[2] === 0 : ip[0] === 0xff && (ip[1] & 0x0f) === 0x02;
  if (linkLocalMulticast) errs.push(field.invalid(path, value, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'));
  return errs;
}
