import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareLevels, equivalentPolicies, parseVersion, policyFromDefaults, policyToEvaluate, type Policy } from './policy.js';

const privileged: Policy = policyFromDefaults();

describe('policyToEvaluate', () => {
  const cases: { name: string; labels: Record<string, string>; want: Policy; errors: string[] }[] = [
    { name: 'no labels keep the defaults', labels: {}, want: privileged, errors: [] },
    {
      name: 'each mode reads its level and version label',
      labels: {
        'pod-security.kubernetes.io/enforce': 'baseline',
        'pod-security.kubernetes.io/enforce-version': 'v1.30',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/audit-version': 'v1.0',
      },
      want: { enforce: { level: 'baseline', version: 'v1.30' }, audit: { level: 'privileged', version: 'v1.0' }, warn: { level: 'restricted', version: 'latest' } },
      errors: [],
    },
    {
      name: 'a bad enforce level fails closed as restricted; bad audit and warn levels fail open',
      labels: { 'pod-security.kubernetes.io/enforce': 'x', 'pod-security.kubernetes.io/audit': 'y', 'pod-security.kubernetes.io/warn-version': 'v2' },
      want: { enforce: { level: 'restricted', version: 'latest' }, audit: { level: 'privileged', version: 'latest' }, warn: { level: 'privileged', version: 'latest' } },
      errors: ['pod-security.kubernetes.io/enforce', 'pod-security.kubernetes.io/audit', 'pod-security.kubernetes.io/warn-version'],
    },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const got = policyToEvaluate(tc.labels, privileged);
      assert.deepEqual(got.policy, tc.want);
      assert.deepEqual(got.errors.map((e) => e.field), tc.errors.map((l) => `metadata.labels[${l}]`));
    });
  }
});

describe('policy helpers', () => {
  it('versions are "latest" or v1.N without leading zeros', () => {
    assert.deepEqual(['latest', 'v1.0', 'v1.30', 'v1.05', 'v2.1', '1.30', 'v1.'].map((v) => parseVersion(v).error === undefined), [true, true, true, false, false, false, false]);
  });
  it('levels compare by strictness', () => {
    assert.deepEqual([compareLevels('privileged', 'baseline'), compareLevels('restricted', 'baseline'), compareLevels('baseline', 'baseline')], [-1, 1, 0]);
  });
  it('privileged modes are equivalent at any version, others only at the same version', () => {
    const a = policyFromDefaults({ enforceVersion: 'v1.20', warn: 'baseline' });
    assert.equal(equivalentPolicies(a, policyFromDefaults({ warn: 'baseline' })), true);
    assert.equal(equivalentPolicies(a, policyFromDefaults({ warn: 'baseline', warnVersion: 'v1.20' })), false);
  });
});
