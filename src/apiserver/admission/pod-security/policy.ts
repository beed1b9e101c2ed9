/**
 * Pod Security levels, versions and the namespace labels that select them (upstream's
 * pod-security-admission/api): parsing, defaults and the per-namespace policy.
 */
import { field, fieldErrorString, type FieldError } from '../../../api/errors.js';
import type { Level } from './check.js';

export const labelPrefix = 'pod-security.kubernetes.io/';
export const enforceLevelLabel = `${labelPrefix}enforce`;
export const enforceVersionLabel = `${labelPrefix}enforce-version`;
export const auditLevelLabel = `${labelPrefix}audit`;
export const auditVersionLabel = `${labelPrefix}audit-version`;
export const warnLevelLabel = `${labelPrefix}warn`;
export const warnVersionLabel = `${labelPrefix}warn-version`;

const validLevels: Level[] = ['privileged', 'baseline', 'restricted'];

/** A level at a policy version; `version` is "latest" or "v1.N". */
export interface LevelVersion {
  level: Level;
  version: string;
}

/** The three modes a namespace configures. */
export interface Policy {
  enforce: LevelVersion;
  audit: LevelVersion;
  warn: LevelVersion;
}

/** "baseline:latest" */
export function levelVersionString(lv: LevelVersion): string {
  return `${lv.level}:${lv.version}`;
}

/** The minor version a policy version selects; latest is newer than any. */
export function versionMinor(version: string): number {
  return version === 'latest' ? Number.POSITIVE_INFINITY : Number(version.slice(3));
}

const versionRe = /^v1\.([0-9]|[1-9][0-9]*)$/;

/** Upstream's ParseLevel: an unknown level reads as restricted, with an error. */
export function parseLevel(value: string): { level: Level; error?: string } {
  if ((validLevels as string[]).includes(value)) return { level: value as Level };
  return { level: 'restricted', error: `must be one of ${validLevels.join(', ')}` };
}

/** Upstream's ParseVersion: an unknown version reads as latest, with an error. */
export function parseVersion(value: string): { version: string; error?: string } {
  if (value === 'latest' || versionRe.test(value)) return { version: value };
  return { version: 'latest', error: 'must be "latest" or "v1.x"' };
}

/** Configured defaults for namespaces without labels (upstream's AdmissionConfiguration `defaults`). */
export interface PolicyDefaults {
  enforce?: string;
  enforceVersion?: string;
  audit?: string;
  auditVersion?: string;
  warn?: string;
  warnVersion?: string;
}

/** The default policy from configuration; throws on an invalid value (a configuration error). */
export function policyFromDefaults(d: PolicyDefaults = {}): Policy {
  const lv = (mode: string, level = 'privileged', version = 'latest'): LevelVersion => {
    const l = parseLevel(level);
    if (l.error) throw new Error(`PodSecurity defaults.${mode}: invalid value ${JSON.stringify(level)}: ${l.error}`);
    const v = parseVersion(version);
    if (v.error) throw new Error(`PodSecurity defaults.${mode}-version: invalid value ${JSON.stringify(version)}: ${v.error}`);
    return { level: l.level, version: v.version };
  };
  return { enforce: lv('enforce', d.enforce, d.enforceVersion), audit: lv('audit', d.audit, d.auditVersion), warn: lv('warn', d.warn, d.warnVersion) };
}

/**
 * The policy a namespace's labels select, over the defaults (upstream's PolicyToEvaluate). A
 * bad label still yields a policy: restricted/latest for enforce, privileged for audit and warn
 * (they fail open), together with the field errors.
 */
export function policyToEvaluate(labels: Record<string, string> | undefined, defaults: Policy): { policy: Policy; errors: FieldError[] } {
  const p: Policy = { enforce: { ...defaults.enforce }, audit: { ...defaults.audit }, warn: { ...defaults.warn } };
  const errs: FieldError[] = [];
  if (!labels) return { policy: p, errors: errs };
  const bad = (label: string, value: string, detail: string) => errs.push(field.invalid(`metadata.labels[${label}]`, value, detail));
  const modes: [keyof Policy, string, string, Level | undefined][] = [
    ['enforce', enforceLevelLabel, enforceVersionLabel, undefined],
    ['audit', auditLevelLabel, auditVersionLabel, 'privileged'],
    ['warn', warnLevelLabel, warnVersionLabel, 'privileged'],
  ];
  for (const [mode, levelLabel, versionLabel, failOpen] of modes) {
    const level = labels[levelLabel];
    if (level !== undefined) {
      const r = parseLevel(level);
      p[mode].level = r.error && failOpen ? failOpen : r.level;
      if (r.error) bad(levelLabel, level, r.error);
    }
    const version = labels[versionLabel];
    if (version !== undefined) {
      const r = parseVersion(version);
      p[mode].version = r.version;
      if (r.error) bad(versionLabel, version, r.error);
    }
  }
  return { policy: p, errors: errs };
}

/** True when every mode is privileged: nothing to evaluate. */
export function fullyPrivileged(p: Policy): boolean {
  return p.enforce.level === 'privileged' && p.audit.level === 'privileged' && p.warn.level === 'privileged';
}

/** Same level and same version. */
export function sameLevelVersion(a: LevelVersion, b: LevelVersion): boolean {
  return a.level === b.level && a.version === b.version;
}

/** Equal modes, where privileged at any version counts as the same (upstream's Policy.Equivalent). */
export function equivalentPolicies(a: Policy, b: Policy): boolean {
  const eq = (x: LevelVersion, y: LevelVersion) => x.level === y.level && (x.level === 'privileged' || x.version === y.version);
  return eq(a.enforce, b.enforce) && eq(a.audit, b.audit) && eq(a.warn, b.warn);
}

/** -1, 0 or 1 as level a is less, equally or more strict than b. */
export function compareLevels(a: Level, b: Level): number {
  return Math.sign(validLevels.indexOf(a) - validLevels.indexOf(b));
}

/** Go's aggregate of field errors: one as is, several in brackets. */
export function aggregateFieldErrors(errs: FieldError[]): string {
  const list = errs.map(fieldErrorString);
  return list.length === 1 ? list[0] : `[${list.join(', ')}]`;
}
