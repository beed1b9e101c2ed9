import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAdmissionConfig } from './config.js';

function withFiles(files: Record<string, string>, fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-admcfg-'));
  try {
    for (const [n, t] of Object.entries(files)) writeFileSync(join(dir, n), t);
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const inline = `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: baseline, enforce-version: latest, warn: restricted}
    exemptions: {namespaces: [kube-system], usernames: [admin]}
`;

describe('AdmissionConfiguration', () => {
  it('reads PodSecurity defaults and exemptions given inline', () => {
    withFiles({ 'a.yaml': inline }, (d) => {
      const c = loadAdmissionConfig(join(d, 'a.yaml'));
      assert.equal(c.podSecurity?.defaults?.enforce, 'baseline');
      assert.equal(c.podSecurity?.defaults?.enforceVersion, 'latest');
      assert.equal(c.podSecurity?.defaults?.warn, 'restricted');
      assert.deepEqual(c.podSecurity?.exemptions?.namespaces, ['kube-system']);
      assert.deepEqual(c.podSecurity?.exemptions?.usernames, ['admin']);
    });
  });
  it('reads a plugin configuration from a path relative to the file', () => {
    const psa = 'apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults: {enforce: restricted}\n';
    const adm = 'apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: PodSecurity\n  path: psa.yaml\n';
    withFiles({ 'a.yaml': adm, 'psa.yaml': psa }, (d) => assert.equal(loadAdmissionConfig(join(d, 'a.yaml')).podSecurity?.defaults?.enforce, 'restricted'));
  });
  for (const [name, text, msg] of [
    ['a wrong kind', 'apiVersion: v1\nkind: Pod\n', /expected kind AdmissionConfiguration/],
    ['an unknown level', inline.replace('enforce: baseline', 'enforce: strict'), /defaults.enforce: Unsupported value: "strict"/],
    ['a wrong plugin kind', inline.replace('kind: PodSecurityConfiguration', 'kind: Other'), /expected kind PodSecurityConfiguration/],
  ] as const) {
    it(`refuses ${name}`, () => withFiles({ 'a.yaml': text }, (d) => assert.throws(() => loadAdmissionConfig(join(d, 'a.yaml')), msg)));
  }
});
