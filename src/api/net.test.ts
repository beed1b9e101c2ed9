import { test } from 'node:test';
import assert from 'node:assert/strict';
import { intToIPv4, ipv4ToInt, nthAddress, nthSubnet, parseCIDR } from './net.js';

test('parseCIDR masks host bits and rejects malformed ranges', () => {
  const cases: [string, { base: number; bits: number } | 'error'][] = [
    ['10.42.0.0/16', { base: 0x0a2a0000, bits: 16 }],
    ['10.42.7.9/16', { base: 0x0a2a0000, bits: 16 }],
    ['0.0.0.0/0', { base: 0, bits: 0 }],
    ['10.42.0.0/33', 'error'],
    ['10.42.0/16', 'error'],
    ['300.1.1.1/8', 'error'],
  ];
  for (const [cidr, want] of cases) {
    if (want === 'error') assert.throws(() => parseCIDR(cidr), /^Error: invalid /, cidr);
    else assert.deepEqual(parseCIDR(cidr), want, cidr);
  }
});

test('address arithmetic gives nth addresses and subnets', () => {
  const cases: [string, string][] = [
    [nthAddress('10.42.3.77/24', 1), '10.42.3.1'],
    [nthAddress('10.43.0.0/16', 10), '10.43.0.10'],
    [nthSubnet('10.42.0.0/16', 24, 0), '10.42.0.0/24'],
    [nthSubnet('10.42.0.0/16', 24, 5), '10.42.5.0/24'],
    [intToIPv4(ipv4ToInt('192.168.255.254')), '192.168.255.254'],
  ];
  for (const [got, want] of cases) assert.equal(got, want);
});
