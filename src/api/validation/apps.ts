/**
 * apps/v1 validation: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision
 * (upstream's pkg/apis/apps/validation).
 */
import { field, type FieldError } from '../errors.js';
import { labelSelectorFromObject, selectorIsEmpty, selectorMatches, type LabelSelector } from '../labels/label-selector.js';
import {
  child,
  get,
  intOrPercentValue,
  list,
  map,
  semanticEqual,
  validateImmutable,
  validateLabelSelector,
  validateNonnegative,
  validateNotMoreThan100Percent,
  validatePositiveIntOrPercent,
  type Obj,
} from './helpers.js';
import { validatePodTemplateSpec, type PodSpecOptions } from './pod.js';

function parseSelector(sel: unknown): LabelSelector | undefined {
  try {
    return labelSelectorFromObject(sel as any);
  } catch {
    return undefined;
  }
}

/** `spec.selector` is required, valid and (for these kinds) non-empty. */
function validateWorkloadSelector(spec: Obj, path: string, emptyMsg: string): FieldError[] {
  if (spec.selector === undefined || spec.selector === null) return [field.required(child(path, 'selector'), '')];
  const errs = validateLabelSelector(spec.selector, child(path, 'selector'));
  const s = map(spec.selector);
  if (Object.keys(map(s.matchLabels)).length + list(s.matchExpressions).length === 0) {
    errs.push(field.invalid(child(path, 'selector'), spec.selector, emptyMsg));
  }
  return errs;
}

/**
 * A template for a long-running workload: the selector must match its labels, restartPolicy
 * must be Always and activeDeadlineSeconds unset (upstream's ValidatePodTemplateSpecForReplicaSet).
 */
export function validatePodTemplateForReplicas(template: unknown, selector: unknown, path: string, kindWord: string, opts: PodSpecOptions = {}): FieldError[] {
  const errs: FieldError[] = [];
  if (template === undefined || template === null) return [field.required(path, '')];
  const t = map(template);
  const sel = parseSelector(selector);
  const labels = map(get(t, 'metadata', 'labels'));
  if (sel && selector && !selectorIsEmpty(sel) && !selectorMatches(sel, labels)) {
    errs.push(field.invalid(child(path, 'metadata', 'labels'), labels, '`selector` does not match template `labels`'));
  }
  errs.push(...validatePodTemplateSpec(t, path, opts));
  const rp = get(t, 'spec', 'restartPolicy');
  if (rp !== 'Always') errs.push(field.notSupported(child(path, 'spec', 'restartPolicy'), rp ?? '', ['Always']));
  const ads = get(t, 'spec', 'activeDeadlineSeconds');
  if (ads !== undefined && ads !== null) errs.push(field.forbidden(child(path, 'spec', 'activeDeadlineSeconds'), `activeDeadlineSeconds in ${kindWord} is not Supported`));
  return errs;
}

function validateSelectorAndTemplate(spec: Obj, path: string, emptyMsg: string, kindWord: string): FieldError[] {
  const errs = validateWorkloadSelector(spec, path, emptyMsg);
  if (spec.selector && !parseSelector(spec.selector)) {
    errs.push(field.invalid(child(path, 'selector'), spec.selector, 'invalid label selector'));
    return errs;
  }
  errs.push(...validatePodTemplateForReplicas(spec.template, spec.selector, child(path, 'template'), kindWord));
  return errs;
}

// ---- Deployment -------------------------------------------------------------------------------

function validateRollingUpdateDeployment(ru: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...validatePositiveIntOrPercent(ru.maxUnavailable, child(path, 'maxUnavailable')));
  errs.push(...validatePositiveIntOrPercent(ru.maxSurge, child(path, 'maxSurge')));
  if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0) {
    errs.push(field.invalid(child(path, 'maxUnavailable'), ru.maxUnavailable ?? 0, 'may not be 0 when `maxSurge` is 0'));
  }
  errs.push(...validateNotMoreThan100Percent(ru.maxUnavailable, child(path, 'maxUnavailable')));
  return errs;
}

function validateDeploymentStrategy(strategy: unknown, path: string): FieldError[] {
  const s = map(strategy);
  switch (s.type) {
    case 'Recreate':
      return s.rollingUpdate ? [field.forbidden(child(path, 'rollingUpdate'), "may not be specified when strategy `type` is 'Recreate'")] : [];
    case 'RollingUpdate':
      if (!s.rollingUpdate) return [field.required(child(path, 'rollingUpdate'), 'this should be defaulted and never be nil')];
      return validateRollingUpdateDeployment(s.rollingUpdate, child(path, 'rollingUpdate'));
    default:
      return [field.notSupported(path, strategy ?? null, ['Recreate', 'RollingUpdate'])];
  }
}

/** A Deployment's spec. */
export function validateDeployment(d: Obj): FieldError[] {
  const spec = map(d.spec);
  const p = 'spec';
  const errs: FieldError[] = [];
  errs.push(...validateNonnegative(spec.replicas, child(p, 'replicas')));
  errs.push(...validateSelectorAndTemplate(spec, p, 'empty selector is invalid for deployment', 'ReplicaSet'));
  errs.push(...validateNonnegative(spec.minReadySeconds, child(p, 'minReadySeconds')));
  if (spec.revisionHistoryLimit !== undefined && spec.revisionHistoryLimit !== null) errs.push(...validateNonnegative(spec.revisionHistoryLimit, child(p, 'revisionHistoryLimit')));
  if (spec.rollbackTo) errs.push(...validateNonnegative(spec.rollbackTo.revision, child(p, 'rollback', 'revision')));
  errs.push(...validateDeploymentStrategy(spec.strategy, child(p, 'strategy')));
  if (spec.progressDeadlineSeconds !== undefined && spec.progressDeadlineSeconds !== null) {
    errs.push(...validateNonnegative(spec.progressDeadlineSeconds, child(p, 'progressDeadlineSeconds')));
    if (spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0)) {
      errs.push(field.invalid(child(p, 'progressDeadlineSeconds'), spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
    }
  }
  return errs;
}

/** A Deployment update: apps/v1 selectors are immutable. */
export function validateDeploymentUpdate(d: Obj, old: Obj): FieldError[] {
  return [...validateImmutable(get(d, 'spec', 'selector'), get(old, 'spec', 'selector'), 'spec.selector'), ...validateDeployment(d)];
}

function validateReplicaCounts(status: Obj, path: string, fields: string[]): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of fields) errs.push(...validateNonnegative(status[f], child(path, f)));
  return errs;
}

/** A Deployment `/status` update. */
export function validateDeploymentStatusUpdate(d: Obj, _old: Obj): FieldError[] {
  const s = map(d.status);
  const errs = validateReplicaCounts(s, 'status', ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas', 'observedGeneration']);
  if (typeof s.collisionCount === 'number') errs.push(...validateNonnegative(s.collisionCount, 'status.collisionCount'));
  const msg = 'cannot be greater than status.replicas';
  if ((s.updatedReplicas ?? 0) > (s.replicas ?? 0)) errs.push(field.invalid('status.updatedReplicas', s.updatedReplicas, msg));
  if ((s.readyReplicas ?? 0) > (s.replicas ?? 0)) errs.push(field.invalid('status.readyReplicas', s.readyReplicas, msg));
  if ((s.availableReplicas ?? 0) > (s.replicas ?? 0)) errs.push(field.invalid('status.availableReplicas', s.availableReplicas, msg));
  if ((s.availableReplicas ?? 0) > (s.readyReplicas ?? 0)) errs.push(field.invalid('status.availableReplicas', s.availableReplicas, 'cannot be greater than readyReplicas'));
  return errs;
}

// ---- ReplicaSet -------------------------------------------------------------------------------

/** A ReplicaSet's spec. */
export function validateReplicaSet(rs: Obj): FieldError[] {
  const spec = map(rs.spec);
  const errs: FieldError[] = [];
  errs.push(...validateNonnegative(spec.replicas, 'spec.replicas'));
  errs.push(...validateNonnegative(spec.minReadySeconds, 'spec.minReadySeconds'));
  errs.push(...validateSelectorAndTemplate(spec, 'spec', 'empty selector is invalid for deployment', 'ReplicaSet'));
  return errs;
}

/** A ReplicaSet update: the selector is immutable in apps/v1. */
export function validateReplicaSetUpdate(rs: Obj, old: Obj): FieldError[] {
  return [...validateReplicaSet(rs), ...validateImmutable(get(rs, 'spec', 'selector'), get(old, 'spec', 'selector'), 'spec.selector')];
}

/** A ReplicaSet `/status` update. */
export function validateReplicaSetStatusUpdate(rs: Obj, _old: Obj): FieldError[] {
  const s = map(rs.status);
  const errs = validateReplicaCounts(s, 'status', ['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration']);
  const msg = 'cannot be greater than status.replicas';
  if ((s.fullyLabeledReplicas ?? 0) > (s.replicas ?? 0)) errs.push(field.invalid('status.fullyLabeledReplicas', s.fullyLabeledReplicas, msg));
  if ((s.readyReplicas ?? 0) > (s.replicas ?? 0)) errs.push(field.invalid('status.readyReplicas', s.readyReplicas, msg));
  if ((s.availableReplicas ?? 0) > (s.replicas ?? 0)) errs.push(field.invalid('status.availableReplicas', s.availableReplicas, msg));
  if ((s.availableReplicas ?? 0) > (s.readyReplicas ?? 0)) errs.push(field.invalid('status.availableReplicas', s.availableReplicas, 'cannot be greater than readyReplicas'));
  return errs;
}

// ---- StatefulSet ------------------------------------------------------------------------------

/** A StatefulSet's spec. */
export function validateStatefulSet(sts: Obj): FieldError[] {
  const spec = map(sts.spec);
  const errs: FieldError[] = [];
  switch (spec.podManagementPolicy) {
    case undefined:
    case null:
    case '':
      errs.push(field.required('spec.podManagementPolicy', ''));
      break;
    case 'OrderedReady':
    case 'Parallel':
      break;
    default:
      errs.push(field.invalid('spec.podManagementPolicy', spec.podManagementPolicy, "must be 'OrderedReady' or 'Parallel'"));
  }
  const us = map(spec.updateStrategy);
  switch (us.type) {
    case undefined:
    case null:
    case '':
      errs.push(field.required('spec.updateStrategy', ''));
      break;
    case 'OnDelete':
      if (us.rollingUpdate) errs.push(field.invalid('spec.updateStrategy.rollingUpdate', us.rollingUpdate, "only allowed for updateStrategy 'RollingUpdate'"));
      break;
    case 'RollingUpdate':
      if (us.rollingUpdate) {
        errs.push(...validateNonnegative(us.rollingUpdate.partition, 'spec.updateStrategy.rollingUpdate.partition'));
        if (us.rollingUpdate.maxUnavailable !== undefined && us.rollingUpdate.maxUnavailable !== null) {
          const mu = us.rollingUpdate.maxUnavailable;
          errs.push(...validatePositiveIntOrPercent(mu, 'spec.updateStrategy.rollingUpdate.maxUnavailable'));
          if (intOrPercentValue(mu) === 0) errs.push(field.invalid('spec.updateStrategy.rollingUpdate.maxUnavailable', mu, 'cannot be 0'));
          errs.push(...validateNotMoreThan100Percent(mu, 'spec.updateStrategy.rollingUpdate.maxUnavailable'));
        }
      }
      break;
    default:
      errs.push(field.invalid('spec.updateStrategy', spec.updateStrategy, "must be 'RollingUpdate' or 'OnDelete'"));
  }
  const pvc = spec.persistentVolumeClaimRetentionPolicy;
  if (pvc) {
    for (const f of ['whenDeleted', 'whenScaled']) {
      if (!['Retain', 'Delete'].includes(pvc[f])) errs.push(field.notSupported(`spec.persistentVolumeClaimRetentionPolicy.${f}`, pvc[f] ?? '', ['Retain', 'Delete']));
    }
  }
  if (spec.ordinals && typeof spec.ordinals.start === 'number') errs.push(...validateNonnegative(spec.ordinals.start, 'spec.ordinals.start'));
  errs.push(...validateNonnegative(spec.replicas, 'spec.replicas'));
  errs.push(...validateNonnegative(spec.minReadySeconds, 'spec.minReadySeconds'));
  errs.push(...validateWorkloadSelector(spec, 'spec', 'empty selector is invalid for statefulset'));
  const sel = spec.selector ? parseSelector(spec.selector) : undefined;
  if (spec.selector && !sel) {
    errs.push(field.invalid('spec.selector', spec.selector, ''));
  } else if (spec.template === undefined || spec.template === null) {
    errs.push(field.required('spec.template', ''));
  } else {
    const labels = map(get(spec.template, 'metadata', 'labels'));
    if (sel && !selectorIsEmpty(sel) && !selectorMatches(sel, labels)) {
      errs.push(field.invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
    }
    const claimNames = list(spec.volumeClaimTemplates).map((c: Obj) => String(get(c, 'metadata', 'name') ?? ''));
    errs.push(...validatePodTemplateSpec(spec.template, 'spec.template', { extraVolumes: claimNames }));
  }
  const rp = get(spec, 'template', 'spec', 'restartPolicy');
  if (rp !== 'Always') errs.push(field.notSupported('spec.template.spec.restartPolicy', rp ?? '', ['Always']));
  const ads = get(spec, 'template', 'spec', 'activeDeadlineSeconds');
  if (ads !== undefined && ads !== null) errs.push(field.invalid('spec.template.spec.activeDeadlineSeconds', ads, 'must not be specified'));
  return errs;
}

/** A StatefulSet update: only replicas, template, updateStrategy, minReadySeconds, ordinals and the PVC retention policy may change. */
export function validateStatefulSetUpdate(sts: Obj, old: Obj): FieldError[] {
  const errs = validateStatefulSet(sts);
  const mutable = ['replicas', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds', 'ordinals', 'revisionHistoryLimit'];
  const strip = (s: unknown) => Object.fromEntries(Object.entries(map(s)).filter(([k]) => !mutable.includes(k)));
  if (!semanticEqual(strip(sts.spec), strip(old.spec))) {
    errs.push(
      field.forbidden(
        'spec',
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
      ),
    );
  }
  return errs;
}

/** A StatefulSet `/status` update. */
export function validateStatefulSetStatusUpdate(sts: Obj, old: Obj): FieldError[] {
  const s = map(sts.status);
  const errs = validateReplicaCounts(s, 'status', ['replicas', 'readyReplicas', 'currentReplicas', 'updatedReplicas', 'availableReplicas', 'observedGeneration', 'collisionCount']);
  const msg = 'cannot be greater than status.replicas';
  for (const f of ['readyReplicas', 'currentReplicas', 'updatedReplicas', 'availableReplicas']) {
    if ((s[f] ?? 0) > (s.replicas ?? 0)) errs.push(field.invalid(`status.${f}`, s[f], msg));
  }
  const oc = get(old, 'status', 'collisionCount');
  if (typeof oc === 'number' && (typeof s.collisionCount !== 'number' || s.collisionCount < oc)) {
    errs.push(field.invalid('status.collisionCount', s.collisionCount ?? 0, 'cannot be decremented'));
  }
  return errs;
}

// ---- DaemonSet --------------------------------------------------------------------------------

/** A DaemonSet's spec. */
export function validateDaemonSet(ds: Obj): FieldError[] {
  const spec = map(ds.spec);
  const errs: FieldError[] = [];
  errs.push(...validateSelectorAndTemplate(spec, 'spec', 'empty selector is invalid for daemonset', 'DaemonSet'));
  errs.push(...validateNonnegative(spec.minReadySeconds, 'spec.minReadySeconds'));
  if (spec.templateGeneration !== undefined) errs.push(...validateNonnegative(spec.templateGeneration, 'spec.templateGeneration'));
  const us = map(spec.updateStrategy);
  const p = 'spec.updateStrategy';
  switch (us.type) {
    case 'OnDelete':
      break;
    case 'RollingUpdate': {
      if (!us.rollingUpdate) {
        errs.push(field.required(child(p, 'rollingUpdate'), ''));
        break;
      }
      const ru = us.rollingUpdate;
      const rp = child(p, 'rollingUpdate');
      errs.push(...validatePositiveIntOrPercent(ru.maxUnavailable, child(rp, 'maxUnavailable')));
      errs.push(...validatePositiveIntOrPercent(ru.maxSurge, child(rp, 'maxSurge')));
      const mu = intOrPercentValue(ru.maxUnavailable);
      const ms = intOrPercentValue(ru.maxSurge);
      if (mu === 0 && ms === 0) errs.push(field.invalid(child(rp, 'maxUnavailable'), ru.maxUnavailable ?? 0, 'may not be 0 when `maxSurge` is 0'));
      if (mu !== 0 && ms !== 0) errs.push(field.invalid(child(rp, 'maxSurge'), ru.maxSurge, 'may not be set when maxUnavailable is non-zero'));
      errs.push(...validateNotMoreThan100Percent(ru.maxUnavailable, child(rp, 'maxUnavailable')));
      errs.push(...validateNotMoreThan100Percent(ru.maxSurge, child(rp, 'maxSurge')));
      break;
    }
    default:
      errs.push(field.notSupported(child(p, 'type'), us.type ?? '', ['OnDelete', 'RollingUpdate']));
  }
  if (spec.revisionHistoryLimit !== undefined && spec.revisionHistoryLimit !== null) errs.push(...validateNonnegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit'));
  return errs;
}

/** A DaemonSet update: the selector is immutable. */
export function validateDaemonSetUpdate(ds: Obj, old: Obj): FieldError[] {
  return [...validateImmutable(get(ds, 'spec', 'selector'), get(old, 'spec', 'selector'), 'spec.selector'), ...validateDaemonSet(ds)];
}

/** A DaemonSet `/status` update. */
export function validateDaemonSetStatusUpdate(ds: Obj, _old: Obj): FieldError[] {
  const s = map(ds.status);
  return validateReplicaCounts(s, 'status', [
    'numberMisscheduled',
    'desiredNumberScheduled',
    'numberReady',
    'observedGeneration',
    'updatedNumberScheduled',
    'numberAvailable',
    'numberUnavailable',
    'currentNumberScheduled',
    'collisionCount',
  ]);
}

// ---- ControllerRevision -----------------------------------------------------------------------

/** A ControllerRevision: data required, revision ≥ 0. */
export function validateControllerRevision(cr: Obj): FieldError[] {
  const errs: FieldError[] = [];
  if (cr.data === undefined || cr.data === null) errs.push(field.required('data', 'data is mandatory'));
  errs.push(...validateNonnegative(cr.revision, 'revision'));
  return errs;
}

/** A ControllerRevision update: data is immutable. */
export function validateControllerRevisionUpdate(cr: Obj, old: Obj): FieldError[] {
  return [...validateControllerRevision(cr), ...validateImmutable(cr.data, old.data, 'data')];
}
