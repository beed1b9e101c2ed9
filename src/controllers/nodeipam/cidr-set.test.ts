import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CIDRSet } from './cidr-set.js';

test('a CIDR set hands out each node subnet once, skips occupied ones and reuses released ones', () => {
  const s = new CIDRSet('10.42.0.0/22', 24);
  assert.equal(s.free, 4);
  assert.equal(s.occupy('10.42.1.0/24'), true);
  assert.equal(s.occupy('10.43.0.0/24'), false, 'outside the range');
  assert.equal(s.occupy('10.42.2.0/25'), false, 'wrong size');
  assert.equal(s.allocateNext(), '10.42.0.0/24');
  assert.equal(s.allocateNext(), '10.42.2.0/24');
  assert.equal(s.allocateNext(), '10.42.3.0/24');
  assert.equal(s.allocateNext(), undefined, 'exhausted');
  s.release('10.42.2.0/24');
  assert.equal(s.allocateNext(), '10.42.2.0/24');
});

test('a node mask smaller than the cluster prefix is refused', () => {
  assert.throws(() => new CIDRSet('10.42.0.0/16', 8), /does not fit/);
});
