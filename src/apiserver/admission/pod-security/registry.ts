/**
 * The ordered checks of the Pod Security Standards and their evaluation at a level and version
 * (upstream's policy registry): baseline checks, then restricted ones, each sorted by ID, with a
 * restricted check replacing the baseline check it overrides.
 */
import type { Check, Forbidden, ObjectMeta, PodSpec } from './check.js';
import { versionMinor, type LevelVersion } from './policy.js';
import { allowPrivilegeEscalation } from './checks/allow-privilege-escalation.js';
import { appArmorProfile } from './checks/app-armor-profile.js';
import { capabilitiesBaseline } from './checks/capabilities-baseline.js';
import { capabilitiesRestricted } from './checks/capabilities-restricted.js';
import { hostNamespaces } from './checks/host-namespaces.js';
import { hostPathVolumes } from './checks/host-path-volumes.js';
import { hostPorts } from './checks/host-ports.js';
import { hostProbesAndHostLifecycle } from './checks/host-probes-and-host-lifecycle.js';
import { privileged } from './checks/privileged.js';
import { procMount } from './checks/proc-mount.js';
import { restrictedVolumes } from './checks/restricted-volumes.js';
import { runAsNonRoot } from './checks/run-as-non-root.js';
import { runAsUser } from './checks/run-as-user.js';
import { seLinuxOptions } from './checks/se-linux-options.js';
import { seccompProfileBaseline } from './checks/seccomp-profile-baseline.js';
import { seccompProfileRestricted } from './checks/seccomp-profile-restricted.js';
import { sysctls } from './checks/sysctls.js';
import { windowsHostProcess } from './checks/windows-host-process.js';

/** Every check of the standard. */
export const defaultChecks: readonly Check[] = [
  allowPrivilegeEscalation, appArmorProfile, capabilitiesBaseline, capabilitiesRestricted, hostNamespaces,
  hostPathVolumes, hostPorts, hostProbesAndHostLifecycle, privileged, procMount, restrictedVolumes,
  runAsNonRoot, runAsUser, seLinuxOptions, seccompProfileBaseline, seccompProfileRestricted, sysctls,
  windowsHostProcess,
];

/** Go's byte-order string sort (upper case before lower case). */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The checks that run at a level and version, in upstream's order. */
export function checksFor(lv: LevelVersion, checks: readonly Check[] = defaultChecks): Check[] {
  if (lv.level === 'privileged') return [];
  const minor = versionMinor(lv.version);
  const active = checks.filter((c) => c.minVersion <= minor && (c.level === 'baseline' || lv.level === 'restricted'));
  const overridden = new Set(active.flatMap((c) => c.overrides ?? []));
  const kept = active.filter((c) => !overridden.has(c.id));
  const baseline = kept.filter((c) => c.level === 'baseline').sort((a, b) => byteOrder(a.id, b.id));
  const restricted = kept.filter((c) => c.level === 'restricted').sort((a, b) => byteOrder(a.id, b.id));
  return [...baseline, ...restricted];
}

/** The failures of one evaluation, in check order (upstream's AggregateCheckResult). */
export interface Evaluation {
  allowed: boolean;
  failures: Forbidden[];
}

/** Runs the checks of a level and version over one pod's metadata and spec. */
export function evaluatePod(lv: LevelVersion, meta: ObjectMeta, spec: PodSpec, checks?: readonly Check[]): Evaluation {
  const failures: Forbidden[] = [];
  for (const c of checksFor(lv, checks)) {
    const f = c.check(meta ?? {}, spec ?? {});
    if (f) failures.push({ reason: f.reason || 'unknown forbidden reason', detail: f.detail });
  }
  return { allowed: failures.length === 0, failures };
}

/** "privileged, hostPort" — the reasons only. */
export function forbiddenReason(e: Evaluation): string {
  return e.failures.map((f) => f.reason).join(', ');
}

/** "privileged (container \"c\" must not ...), hostPort (...)" — reasons with details. */
export function forbiddenDetail(e: Evaluation): string {
  return e.failures.map((f) => (f.detail ? `${f.reason} (${f.detail})` : f.reason)).join(', ');
}
