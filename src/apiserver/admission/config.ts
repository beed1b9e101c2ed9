/**
 * Upstream's --admission-control-config-file: an apiserver.config.k8s.io/v1 AdmissionConfiguration
 * whose `plugins` carry per-plugin settings inline (`configuration`) or in a file (`path`).
 * k8ts reads the PodSecurity plugin's PodSecurityConfiguration (defaults and exemptions).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import type { PodSecurityOptions } from './pod-security/index.js';

export interface AdmissionConfig {
  podSecurity?: PodSecurityOptions;
}

const levels = ['privileged', 'baseline', 'restricted'];

function podSecurityConfig(c: any, where: string): PodSecurityOptions {
  if (!c || typeof c !== 'object') throw new Error(`${where}: PodSecurity configuration must be an object`);
  if (c.kind !== 'PodSecurityConfiguration' || !/^pod-security\.admission\.config\.k8s\.io\/v1(beta1|alpha1)?$/.test(c.apiVersion ?? '')) {
    throw new Error(`${where}: expected kind PodSecurityConfiguration in pod-security.admission.config.k8s.io/v1, got ${c.apiVersion ?? '?'}/${c.kind ?? '?'}`);
  }
  const d = c.defaults ?? {};
  for (const m of ['enforce', 'audit', 'warn']) {
    if (d[m] !== undefined && !levels.includes(d[m])) throw new Error(`${where}: defaults.${m}: Unsupported value: "${d[m]}": supported values: "privileged", "baseline", "restricted"`);
  }
  const e = c.exemptions ?? {};
  const list = (k: string): string[] | undefined => {
    if (e[k] === undefined) return undefined;
    if (!Array.isArray(e[k]) || e[k].some((x: unknown) => typeof x !== 'string')) throw new Error(`${where}: exemptions.${k} must be a list of strings`);
    return e[k];
  };
  return {
    defaults: { enforce: d.enforce, enforceVersion: d['enforce-version'], audit: d.audit, auditVersion: d['audit-version'], warn: d.warn, warnVersion: d['warn-version'] },
    exemptions: { usernames: list('usernames'), namespaces: list('namespaces'), runtimeClasses: list('runtimeClasses') },
  };
}

/** Parse an AdmissionConfiguration file; throws with the file and field on errors. */
export function loadAdmissionConfig(path: string): AdmissionConfig {
  const doc = parse(readFileSync(path, 'utf8'));
  if (!doc || doc.kind !== 'AdmissionConfiguration' || !/^apiserver\.(config\.)?k8s\.io\/v1(alpha1|beta1)?$/.test(doc.apiVersion ?? '')) {
    throw new Error(`${path}: expected kind AdmissionConfiguration in apiserver.config.k8s.io/v1`);
  }
  const out: AdmissionConfig = {};
  for (const p of Array.isArray(doc.plugins) ? doc.plugins : []) {
    if (p?.name !== 'PodSecurity') continue;
    let conf = p.configuration;
    if (!conf && p.path) conf = parse(readFileSync(isAbsolute(p.path) ? p.path : join(dirname(path), p.path), 'utf8'));
    out.podSecurity = podSecurityConfig(conf, `${path}: plugins[PodSecurity]`);
  }
  return out;
}
