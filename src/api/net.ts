/**
 * IPv4 address arithmetic shared by the components that carve ranges: node pod CIDRs, Service
 * addresses, bridge gateways and load balancer pools.
 */

/** A dotted IPv4 address as a 32-bit unsigned number; throws on anything else. */
export function ipv4ToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || +p > 255)) throw new Error(`invalid IPv4 address "${ip}"`);
  return parts.reduce((n, p) => n * 256 + +p, 0);
}

export function intToIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parses `a.b.c.d/n` into its network base and prefix length (host bits cleared). */
export function parseCIDR(cidr: string): { base: number; bits: number } {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || +m[2] > 32) throw new Error(`invalid CIDR "${cidr}"`);
  const bits = +m[2];
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { base: (ipv4ToInt(m[1]) & mask) >>> 0, bits };
}

/** The n-th address of a CIDR (1 is a bridge's gateway; 10 of the Service range is the cluster DNS). */
export function nthAddress(cidr: string, n: number): string {
  return intToIPv4(parseCIDR(cidr).base + n);
}

/** The n-th subnet of prefix length `mask` inside a CIDR. */
export function nthSubnet(cidr: string, mask: number, n: number): string {
  return `${intToIPv4(parseCIDR(cidr).base + n * 2 ** (32 - mask))}/${mask}`;
}
