/**
 * PodSecurity admission (upstream's pod-security-admission, as the in-tree plugin runs it):
 * namespaces choose a Pod Security Standards level per mode with `pod-security.kubernetes.io/*`
 * labels; pods violating the enforce level are refused, and violations of the warn and audit
 * levels become response warnings and audit annotations. Workload templates get warn and audit
 * only. Changing a namespace's enforce level warns about its existing pods.
 */
import { errors, StatusError, type GroupResource } from '../../../api/errors.js';
import type { KObject } from '../../registry/generic/strategy.js';
import type { AdmissionAttributes, AdmissionPlugin } from '../index.js';
import type { ObjectMeta, PodSpec } from './check.js';
import {
  aggregateFieldErrors,
  auditLevelLabel,
  auditVersionLabel,
  compareLevels,
  enforceLevelLabel,
  enforceVersionLabel,
  equivalentPolicies,
  fullyPrivileged,
  labelPrefix,
  levelVersionString,
  policyFromDefaults,
  policyToEvaluate,
  sameLevelVersion,
  warnLevelLabel,
  warnVersionLabel,
  type LevelVersion,
  type Policy,
  type PolicyDefaults,
} from './policy.js';
import { evaluatePod, forbiddenDetail, forbiddenReason, type Evaluation } from './registry.js';

export type { PolicyDefaults } from './policy.js';

/** Who and what is never evaluated (upstream's PodSecurityConfiguration `exemptions`). */
export interface PodSecurityExemptions {
  usernames?: string[];
  namespaces?: string[];
  runtimeClasses?: string[];
}

/** Plugin configuration (upstream's PodSecurityConfiguration). */
export interface PodSecurityOptions {
  defaults?: PolicyDefaults;
  exemptions?: PodSecurityExemptions;
  /** Most existing pods checked when a namespace's enforce level changes (upstream: 3000). */
  namespaceMaxPodsToCheck?: number;
}

/** Audit annotation keys the plugin writes (upstream prefixes each with `pod-security.kubernetes.io/`). */
export const enforcePolicyAnnotation = `${labelPrefix}enforce-policy`;
export const auditViolationsAnnotation = `${labelPrefix}audit-violations`;
export const exemptAnnotation = `${labelPrefix}exempt`;
export const errorAnnotation = `${labelPrefix}error`;

/** Pod subresources whose writes cannot change the pod spec. */
const ignoredPodSubresources = new Set(['exec', 'attach', 'binding', 'eviction', 'log', 'portforward', 'proxy', 'status']);

/** Resources that embed a pod template, and where it sits. */
const podTemplateResources: Record<string, (o: KObject) => KObject | undefined> = {
  '/replicationcontrollers': (o) => o.spec?.template,
  '/podtemplates': (o) => o.template,
  'apps/replicasets': (o) => o.spec?.template,
  'apps/deployments': (o) => o.spec?.template,
  'apps/statefulsets': (o) => o.spec?.template,
  'apps/daemonsets': (o) => o.spec?.template,
  'batch/jobs': (o) => o.spec?.template,
  'batch/cronjobs': (o) => o.spec?.jobTemplate?.spec?.template,
};

/** Builds the PodSecurity admission plugin; throws when `defaults` hold an invalid level or version. */
export function podSecurity(opts: PodSecurityOptions = {}): AdmissionPlugin {
  const defaultPolicy = policyFromDefaults(opts.defaults);
  const ex = opts.exemptions ?? {};
  const exemptNamespaces = new Set(ex.namespaces ?? []);
  const exemptUsers = new Set(ex.usernames ?? []);
  const exemptRuntimeClasses = new Set(ex.runtimeClasses ?? []);
  const maxPods = opts.namespaceMaxPodsToCheck ?? 3000;

  const exemptNamespace = (ns: string | undefined) => !!ns && exemptNamespaces.has(ns);
  const exemptUser = (u: string | undefined) => !!u && exemptUsers.has(u);
  const exemptRuntimeClass = (rc: string | undefined) => !!rc && exemptRuntimeClasses.has(rc);

  async function namespaceLabels(a: AdmissionAttributes, ns: string): Promise<Record<string, string> | undefined> {
    // The cache first; a namespace it does not show yet is read from the store.
    let obj = await a.cached.get('', 'namespaces', '', ns);
    if (!obj) {
      const store = a.lookup('', 'namespaces');
      if (!store) throw new Error('no namespaces store');
      obj = await store.get({ namespace: '', name: ns });
    }
    return obj.metadata?.labels;
  }

  /** Upstream's EvaluatePod: enforce (pods only), then audit, then warn, sharing equal evaluations. */
  function evaluate(a: AdmissionAttributes, gr: GroupResource, name: string, policy: Policy, policyErrs: string | undefined, meta: ObjectMeta, spec: PodSpec, enforce: boolean): void {
    if (exemptRuntimeClass(spec.runtimeClassName)) {
      a.annotate(exemptAnnotation, 'runtimeClass');
      return;
    }
    if (policyErrs) a.annotate(errorAnnotation, `Failed to parse policy: ${policyErrs}`);
    const cache = new Map<string, Evaluation>();
    const run = (lv: LevelVersion): Evaluation => {
      const key = levelVersionString(lv);
      let e = cache.get(key);
      if (!e) cache.set(key, (e = evaluatePod(lv, meta, spec)));
      return e;
    };
    let refusal: StatusError | undefined;
    if (enforce) {
      a.annotate(enforcePolicyAnnotation, levelVersionString(policy.enforce));
      const r = run(policy.enforce);
      if (!r.allowed) refusal = errors.forbidden(gr, name, `violates PodSecurity "${levelVersionString(policy.enforce)}": ${forbiddenDetail(r)}`);
    }
    const audit = run(policy.audit);
    if (!audit.allowed) a.annotate(auditViolationsAnnotation, `would violate PodSecurity "${levelVersionString(policy.audit)}": ${forbiddenDetail(audit)}`);
    if (refusal) throw refusal;
    const warn = run(policy.warn);
    if (!warn.allowed) a.warn(`would violate PodSecurity "${levelVersionString(policy.warn)}": ${forbiddenDetail(warn)}`);
  }

  async function validatePod(a: AdmissionAttributes): Promise<void> {
    if (ignoredPodSubresources.has(a.subresource)) return;
    const pod = a.object;
    const ns = pod.metadata?.namespace ?? '';
    if (exemptNamespace(ns)) return a.annotate(exemptAnnotation, 'namespace');
    if (exemptUser(a.user?.username)) return a.annotate(exemptAnnotation, 'user');
    let labels;
    try {
      labels = await namespaceLabels(a, ns);
    } catch {
      throw errors.internal(`failed to lookup namespace "${ns}"`);
    }
    const { policy, errors: errs } = policyToEvaluate(labels, defaultPolicy);
    // Upstream records the shared privileged answer as privileged:latest whatever the version label.
    if (!errs.length && fullyPrivileged(policy)) return a.annotate(enforcePolicyAnnotation, 'privileged:latest');
    if (a.operation === 'UPDATE' && a.oldObject && !isSignificantPodUpdate(pod, a.oldObject)) return;
    evaluate(a, a.store.gr, pod.metadata?.name ?? '', policy, errs.length ? aggregateFieldErrors(errs) : undefined, pod.metadata ?? {}, pod.spec ?? {}, true);
  }

  async function validatePodController(a: AdmissionAttributes, template: KObject | undefined): Promise<void> {
    if (a.subresource !== '') return;
    const ns = a.object.metadata?.namespace ?? '';
    if (exemptNamespace(ns)) return a.annotate(exemptAnnotation, 'namespace');
    if (exemptUser(a.user?.username)) return a.annotate(exemptAnnotation, 'user');
    let labels;
    try {
      labels = await namespaceLabels(a, ns);
    } catch (e) {
      // Workloads are never refused: an unreadable namespace is only recorded.
      return a.annotate(errorAnnotation, `failed to lookup namespace "${ns}": ${(e as Error).message}`);
    }
    const { policy, errors: errs } = policyToEvaluate(labels, defaultPolicy);
    if (!errs.length && policy.warn.level === 'privileged' && policy.audit.level === 'privileged') return;
    if (!template) return;
    evaluate(a, a.store.gr, a.object.metadata?.name ?? '', policy, errs.length ? aggregateFieldErrors(errs) : undefined, template.metadata ?? {}, template.spec ?? {}, false);
  }

  async function validateNamespace(a: AdmissionAttributes): Promise<void> {
    if (a.subresource !== '') return;
    const nsObj = a.object;
    const name: string = nsObj.metadata?.name ?? '';
    const labels = nsObj.metadata?.labels;
    const { policy: next, errors: nextErrs } = policyToEvaluate(labels, defaultPolicy);
    const invalid = () => errors.invalid('', 'Namespace', name, nextErrs);
    if (a.operation === 'CREATE') {
      if (nextErrs.length) throw invalid();
      if (exemptNamespace(name)) warnExempt(a, name, next, labels ?? {});
      return;
    }
    const { policy: prev, errors: prevErrs } = policyToEvaluate(a.oldObject?.metadata?.labels, defaultPolicy);
    if (nextErrs.length && (!prevErrs.length || aggregateFieldErrors(nextErrs) !== aggregateFieldErrors(prevErrs))) throw invalid();
    if (sameLevelVersion(next.enforce, prev.enforce)) return;
    if (next.enforce.level === 'privileged') return;
    if (next.enforce.version === prev.enforce.version && compareLevels(next.enforce.level, prev.enforce.level) < 1) return;
    if (exemptNamespace(name)) return warnExempt(a, name, next, labels ?? {});
    for (const w of await evaluatePodsInNamespace(a, name, next.enforce)) a.warn(w);
  }

  function warnExempt(a: AdmissionAttributes, name: string, p: Policy, labels: Record<string, string>): void {
    if (fullyPrivileged(p) || equivalentPolicies(p, defaultPolicy)) return;
    const parts: string[] = [];
    const modes: [string, LevelVersion, string, string][] = [
      ['enforce', p.enforce, enforceLevelLabel, enforceVersionLabel],
      ['audit', p.audit, auditLevelLabel, auditVersionLabel],
      ['warn', p.warn, warnLevelLabel, warnVersionLabel],
    ];
    for (const [mode, lv, levelLabel, versionLabel] of modes) {
      if (lv.level !== 'privileged' && (levelLabel in labels || versionLabel in labels)) parts.push(`${mode}=${levelVersionString(lv)}`);
    }
    a.warn(`namespace "${name}" is exempt from Pod Security, and the policy (${parts.join(', ')}) will be ignored`);
  }

  /** Upstream's EvaluatePodsInNamespace: one warning line per distinct set of reasons. */
  async function evaluatePodsInNamespace(a: AdmissionAttributes, ns: string, enforce: LevelVersion): Promise<string[]> {
    const store = a.lookup('', 'pods');
    let pods: KObject[];
    try {
      if (!store) throw new Error('no pods store');
      pods = (await store.list(ns)).items;
    } catch {
      return ['failed to list pods while checking new PodSecurity enforce level'];
    }
    const ordered = prioritizePods(pods);
    const total = ordered.length;
    const checked = ordered.slice(0, maxPods);
    const byReason = new Map<string, { first: string; count: number }>();
    for (const pod of checked) {
      const r = evaluatePod(enforce, pod.metadata ?? {}, pod.spec ?? {});
      if (r.allowed) continue;
      const reason = forbiddenReason(r);
      const podName: string = pod.metadata?.name ?? '';
      const c = byReason.get(reason);
      if (!c) byReason.set(reason, { first: podName, count: 1 });
      else {
        c.count++;
        if (podName < c.first) c.first = podName;
      }
    }
    const out: string[] = [];
    if (checked.length < total) out.push(`new PodSecurity enforce level only checked against the first ${checked.length} of ${total} existing pods`);
    if (byReason.size) out.push(`existing pods in namespace "${ns}" violate the new PodSecurity enforce level "${levelVersionString(enforce)}"`);
    const lines = [...byReason].map(([reason, c]) => {
      if (c.count === 1) return `${c.first}: ${reason}`;
      if (c.count === 2) return `${c.first} (and 1 other pod): ${reason}`;
      return `${c.first} (and ${c.count - 1} other pods): ${reason}`;
    });
    return [...out, ...lines.sort()];
  }

  /** Skips exempt runtime classes and checks one pod per controller before the rest. */
  function prioritizePods(pods: KObject[]): KObject[] {
    const first: KObject[] = [];
    const rest: KObject[] = [];
    const seen = new Set<string>();
    for (const pod of pods) {
      if (exemptRuntimeClass(pod.spec?.runtimeClassName)) continue;
      const owner = (pod.metadata?.ownerReferences ?? []).find((r: KObject) => r.controller === true);
      if (!owner) first.push(pod);
      else if (seen.has(owner.uid)) rest.push(pod);
      else {
        seen.add(owner.uid);
        first.push(pod);
      }
    }
    return [...first, ...rest];
  }

  return {
    name: 'PodSecurity',
    // Not async: a write it does not apply to costs the chain no promise.
    validate(a) {
      if (a.operation !== 'CREATE' && a.operation !== 'UPDATE') return;
      const { group, resource } = a.store.gr;
      if (group === '' && resource === 'namespaces') return validateNamespace(a);
      if (group === '' && resource === 'pods') return validatePod(a);
      const template = podTemplateResources[`${group}/${resource}`];
      if (template) return validatePodController(a, template(a.object));
    },
  };
}

/**
 * Whether a pod update can change what the policy sees (upstream's isSignificantPodUpdate): the
 * spec is immutable except for images and ephemeral containers, so other updates are skipped.
 */
export function isSignificantPodUpdate(pod: KObject, old: KObject): boolean {
  const spec = pod.spec ?? {};
  const oldSpec = old.spec ?? {};
  const ann = pod.metadata?.annotations ?? {};
  const oldAnn = old.metadata?.annotations ?? {};
  const containerChanged = (c: KObject, oc: KObject) => {
    if (c.image !== oc.image) return true;
    const key = `container.seccomp.security.alpha.kubernetes.io/${c.name}`;
    return ann[key] !== oldAnn[key];
  };
  for (const field of ['containers', 'initContainers']) {
    const cs: KObject[] = spec[field] ?? [];
    const ocs: KObject[] = oldSpec[field] ?? [];
    if (cs.length !== ocs.length) return true;
    if (cs.some((c, i) => containerChanged(c, ocs[i]))) return true;
  }
  const oldEph: KObject[] = oldSpec.ephemeralContainers ?? [];
  for (const c of (spec.ephemeralContainers ?? []) as KObject[]) {
    const oc = oldEph.find((o) => o.name === c.name);
    if (!oc || containerChanged(c, oc)) return true;
  }
  return false;
}
