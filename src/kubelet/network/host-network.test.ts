import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayOf, intToIPv4, ipv4ToInt, nthAddress, nthSubnet } from './host-network.js';

test('address arithmetic gives gateways and node subnets', () => {
  const cases: [string, string][] = [
    [gatewayOf('10.42.0.0/24'), '10.42.0.1'],
    [gatewayOf('10.42.3.77/24'), '10.42.3.1'],
    [nthSubnet('10.42.0.0/16', 24, 0), '10.42.0.0/24'],
    [nthAddress('10.43.0.0/16', 10), '10.43.0.10'],
    [nthSubnet('10.42.0.0/16', 24, 5), '10.42.5.0/24'],
    [intToIPv4(ipv4ToInt('192.168.255.254')), '192.168.255.254'],
  ];
  for (const [got, want] of cases) assert.equal(got, want);
});
