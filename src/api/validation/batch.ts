/**
 * batch/v1 validation: Job and CronJob (upstream's pkg/apis/batch/validation).
 */
import { field, type FieldError } from '../errors.js';
import { labelSelectorFromObject, selectorMatches } from '../labels/label-selector.js';
import { child, get, list, map, semanticEqual, validateImmutable, validateLabelSelector, validateNonnegative, validateQualifiedName, type Obj } from './helpers.js';
import { validatePodTemplateSpec } from './pod.js';
import { parseCronSchedule } from './cron.js';

/** Labels and selector key the Job registry generates. */
export const jobLabels = {
  legacyControllerUid: 'controller-uid',
  controllerUid: 'batch.kubernetes.io/controller-uid',
  legacyJobName: 'job-name',
  jobName: 'batch.kubernetes.io/job-name',
};

function validateJobSpecCommon(spec: Obj, path: string, requireSelector: boolean): FieldError[] {
  const errs: FieldError[] = [];
  if (spec.parallelism !== undefined && spec.parallelism !== null) errs.push(...validateNonnegative(spec.parallelism, child(path, 'parallelism')));
  if (spec.completions !== undefined && spec.completions !== null) errs.push(...validateNonnegative(spec.completions, child(path, 'completions')));
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds !== null) {
    if (spec.activeDeadlineSeconds <= 0) errs.push(field.invalid(child(path, 'activeDeadlineSeconds'), spec.activeDeadlineSeconds, 'must be greater than 0'));
  }
  if (spec.backoffLimit !== undefined && spec.backoffLimit !== null) errs.push(...validateNonnegative(spec.backoffLimit, child(path, 'backoffLimit')));
  if (spec.ttlSecondsAfterFinished !== undefined && spec.ttlSecondsAfterFinished !== null) errs.push(...validateNonnegative(spec.ttlSecondsAfterFinished, child(path, 'ttlSecondsAfterFinished')));
  if (spec.completionMode !== undefined && spec.completionMode !== null) {
    if (!['NonIndexed', 'Indexed'].includes(spec.completionMode)) errs.push(field.notSupported(child(path, 'completionMode'), spec.completionMode, ['NonIndexed', 'Indexed']));
    if (spec.completionMode === 'Indexed') {
      if (spec.completions === undefined || spec.completions === null) errs.push(field.required(child(path, 'completions'), 'when completion mode is Indexed'));
      else if (spec.completions > 100000) errs.push(field.invalid(child(path, 'completions'), spec.completions, 'must be less than or equal to 100000 when completion mode is Indexed'));
    }
  }
  if (spec.podReplacementPolicy !== undefined && spec.podReplacementPolicy !== null && !['Failed', 'TerminatingOrFailed'].includes(spec.podReplacementPolicy)) {
    errs.push(field.notSupported(child(path, 'podReplacementPolicy'), spec.podReplacementPolicy, ['Failed', 'TerminatingOrFailed']));
  }
  if (spec.selector === undefined || spec.selector === null) {
    if (requireSelector) errs.push(field.required(child(path, 'selector'), ''));
  } else {
    errs.push(...validateLabelSelector(spec.selector, child(path, 'selector')));
    try {
      const sel = labelSelectorFromObject(spec.selector);
      const labels = map(get(spec, 'template', 'metadata', 'labels'));
      if (!selectorMatches(sel, labels)) errs.push(field.invalid(child(path, 'template', 'metadata', 'labels'), labels, '`selector` does not match template `labels`'));
    } catch {
      // reported by validateLabelSelector
    }
  }
  errs.push(...validatePodTemplateSpec(spec.template, child(path, 'template')));
  if (spec.podFailurePolicy !== undefined && spec.podFailurePolicy !== null) errs.push(...validatePodFailurePolicy(spec, child(path, 'podFailurePolicy')));
  errs.push(...validateBackoffLimitPerIndex(spec, path));
  const rp = get(spec, 'template', 'spec', 'restartPolicy');
  const rpPath = child(path, 'template', 'spec', 'restartPolicy');
  if (rp !== 'OnFailure' && rp !== 'Never') errs.push(field.notSupported(rpPath, rp ?? '', ['OnFailure', 'Never']));
  else if (spec.podFailurePolicy !== undefined && spec.podFailurePolicy !== null && rp !== 'Never') {
    errs.push(field.invalid(rpPath, rp, 'only "Never" is supported when podFailurePolicy is specified'));
  }
  return errs;
}

/** Upstream's limits on podFailurePolicy sizes. */
const MAX_POD_FAILURE_POLICY_RULES = 20;
const MAX_ON_EXIT_CODES_VALUES = 255;
const MAX_ON_POD_CONDITIONS_PATTERNS = 20;
const MAX_FAILED_INDEXES_LIMIT = 100000;
const POD_FAILURE_POLICY_ACTIONS = ['Count', 'FailIndex', 'FailJob', 'Ignore'];
const ON_EXIT_CODES_OPERATORS = ['In', 'NotIn'];
const CONDITION_STATUSES = ['False', 'True', 'Unknown'];
/** Go's %q of a sorted string list, as upstream's "valid values: [...]" details print it. */
const quotedList = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;
const tooMany = (path: string, max: number): FieldError => ({ type: 'FieldValueTooMany', field: path, detail: `must have at most ${max} items` });

/** spec.podFailurePolicy (upstream's validatePodFailurePolicy): rule actions, onExitCodes and onPodConditions. */
function validatePodFailurePolicy(spec: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const rules = list(map(spec.podFailurePolicy).rules);
  const rulesPath = child(path, 'rules');
  if (rules.length > MAX_POD_FAILURE_POLICY_RULES) errs.push(tooMany(rulesPath, MAX_POD_FAILURE_POLICY_RULES));
  const tspec = map(get(spec, 'template', 'spec'));
  const containerNames = new Set([...list(tspec.containers), ...list(tspec.initContainers)].map((c) => c?.name));
  rules.forEach((raw, i) => {
    const rule = map(raw);
    const rulePath = `${rulesPath}[${i}]`;
    const actionPath = child(rulePath, 'action');
    if (!rule.action) errs.push(field.required(actionPath, `valid values: ${quotedList(POD_FAILURE_POLICY_ACTIONS)}`));
    else if (rule.action === 'FailIndex') {
      if (spec.backoffLimitPerIndex === undefined || spec.backoffLimitPerIndex === null) errs.push(field.invalid(actionPath, rule.action, 'requires the backoffLimitPerIndex to be set'));
    } else if (!POD_FAILURE_POLICY_ACTIONS.includes(rule.action)) errs.push(field.notSupported(actionPath, rule.action, POD_FAILURE_POLICY_ACTIONS));
    const hasExit = rule.onExitCodes !== undefined && rule.onExitCodes !== null;
    const conds = list(rule.onPodConditions);
    if (hasExit) errs.push(...validateOnExitCodes(map(rule.onExitCodes), child(rulePath, 'onExitCodes'), containerNames));
    if (conds.length) errs.push(...validateOnPodConditions(conds, child(rulePath, 'onPodConditions')));
    if (hasExit && conds.length) errs.push(field.invalid(rulePath, undefined, 'specifying both OnExitCodes and OnPodConditions is not supported'));
    if (!hasExit && !conds.length) errs.push(field.invalid(rulePath, undefined, 'specifying one of OnExitCodes and OnPodConditions is required'));
  });
  return errs;
}

function validateOnExitCodes(req: Obj, path: string, containerNames: Set<unknown>): FieldError[] {
  const errs: FieldError[] = [];
  const opPath = child(path, 'operator');
  if (!req.operator) errs.push(field.required(opPath, `valid values: ${quotedList(ON_EXIT_CODES_OPERATORS)}`));
  else if (!ON_EXIT_CODES_OPERATORS.includes(req.operator)) errs.push(field.notSupported(opPath, req.operator, ON_EXIT_CODES_OPERATORS));
  if (req.containerName !== undefined && req.containerName !== null && !containerNames.has(req.containerName)) {
    errs.push(field.invalid(child(path, 'containerName'), req.containerName, 'must be one of the container or initContainer names in the pod template'));
  }
  const valuesPath = child(path, 'values');
  const values = list(req.values);
  if (!values.length) errs.push(field.invalid(valuesPath, values, 'at least one value is required'));
  else if (values.length > MAX_ON_EXIT_CODES_VALUES) errs.push(tooMany(valuesPath, MAX_ON_EXIT_CODES_VALUES));
  else {
    const seen = new Set<number>();
    let ordered = true;
    values.forEach((v, j) => {
      const vp = `${valuesPath}[${j}]`;
      if (req.operator === 'In' && v === 0) errs.push(field.invalid(vp, v, 'must not be 0 for the In operator'));
      if (seen.has(v)) errs.push(field.duplicate(vp, v));
      else seen.add(v);
      if (j > 0 && Number(values[j - 1]) > Number(v)) ordered = false;
    });
    if (!ordered) errs.push(field.invalid(valuesPath, values, 'must be ordered'));
  }
  return errs;
}

function validateOnPodConditions(patterns: unknown[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (patterns.length > MAX_ON_POD_CONDITIONS_PATTERNS) errs.push(tooMany(path, MAX_ON_POD_CONDITIONS_PATTERNS));
  patterns.forEach((raw, j) => {
    const p = map(raw);
    const pp = `${path}[${j}]`;
    errs.push(...validateQualifiedName(String(p.type ?? ''), child(pp, 'type')));
    const sp = child(pp, 'status');
    if (!p.status) errs.push(field.required(sp, `valid values: ${quotedList(CONDITION_STATUSES)}`));
    else if (!CONDITION_STATUSES.includes(p.status)) errs.push(field.notSupported(sp, p.status, CONDITION_STATUSES));
  });
  return errs;
}

/** backoffLimitPerIndex and maxFailedIndexes: non-negative, Indexed only, maxFailedIndexes bounded by completions. */
function validateBackoffLimitPerIndex(spec: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const set = (v: unknown) => v !== undefined && v !== null;
  if (set(spec.backoffLimitPerIndex)) {
    errs.push(...validateNonnegative(spec.backoffLimitPerIndex, child(path, 'backoffLimitPerIndex')));
    if (set(spec.maxFailedIndexes)) {
      const mp = child(path, 'maxFailedIndexes');
      errs.push(...validateNonnegative(spec.maxFailedIndexes, mp));
      if (set(spec.completions) && Number(spec.maxFailedIndexes) > Number(spec.completions)) errs.push(field.invalid(mp, spec.maxFailedIndexes, 'must be less than or equal to completions'));
      if (Number(spec.maxFailedIndexes) > MAX_FAILED_INDEXES_LIMIT) errs.push(field.invalid(mp, spec.maxFailedIndexes, `must be less than or equal to ${MAX_FAILED_INDEXES_LIMIT}`));
    }
    if (spec.completionMode !== 'Indexed') errs.push(field.invalid(child(path, 'backoffLimitPerIndex'), spec.backoffLimitPerIndex, 'requires indexed completion mode'));
  } else if (set(spec.maxFailedIndexes)) {
    errs.push(field.required(child(path, 'backoffLimitPerIndex'), 'when maxFailedIndexes is specified'));
  }
  return errs;
}

function validateGeneratedSelector(job: Obj): FieldError[] {
  const errs: FieldError[] = [];
  if (get(job, 'spec', 'manualSelector') === true) return errs;
  const sel = get(job, 'spec', 'selector');
  if (sel === undefined || sel === null) return errs;
  const uid = String(get(job, 'metadata', 'uid') ?? '');
  const name = String(get(job, 'metadata', 'name') ?? '');
  if (!uid) errs.push(field.required('metadata.uid', ''));
  const tlabels = map(get(job, 'spec', 'template', 'metadata', 'labels'));
  for (const [k, want] of [
    [jobLabels.legacyControllerUid, uid],
    [jobLabels.legacyJobName, name],
  ]) {
    if (!(k in tlabels)) errs.push(field.required(`spec.template.metadata.labels[${k}]`, `must be '${want}'`));
    else if (tlabels[k] !== want) errs.push(field.invalid(`spec.template.metadata.labels[${k}]`, tlabels, `must be '${want}'`));
  }
  try {
    if (!selectorMatches(labelSelectorFromObject(sel), { [jobLabels.controllerUid]: uid, [jobLabels.jobName]: name })) {
      errs.push(field.invalid('spec.selector', sel, '`selector` not auto-generated'));
    }
  } catch {
    // reported elsewhere
  }
  return errs;
}

/** A Job: the generated selector, the spec, and the template's restartPolicy. */
export function validateJob(job: Obj): FieldError[] {
  return [...validateGeneratedSelector(job), ...validateJobSpecCommon(map(job.spec), 'spec', true)];
}

const schedulingFields = ['nodeSelector', 'tolerations', 'affinity', 'schedulingGates'];

/**
 * A Job update: completions (outside elastic indexed jobs), selector, completionMode and
 * podFailurePolicy are immutable; the template is immutable unless the Job is suspended and
 * never started, when scheduling directives and labels may change.
 */
export function validateJobUpdate(job: Obj, old: Obj): FieldError[] {
  const errs = validateJob(job);
  const s = map(job.spec);
  const o = map(old.spec);
  const elastic = s.completionMode === 'Indexed' && s.completions === s.parallelism && o.completions === o.parallelism;
  if (!elastic) errs.push(...validateImmutable(s.completions, o.completions, 'spec.completions'));
  errs.push(...validateImmutable(s.selector, o.selector, 'spec.selector'));
  errs.push(...validateImmutable(s.completionMode, o.completionMode, 'spec.completionMode'));
  errs.push(...validateImmutable(s.podFailurePolicy, o.podFailurePolicy, 'spec.podFailurePolicy'));
  errs.push(...validateImmutable(s.backoffLimitPerIndex, o.backoffLimitPerIndex, 'spec.backoffLimitPerIndex'));
  const suspendedNotStarted = o.suspend === true && !get(old, 'status', 'startTime');
  const strip = (t: unknown) => {
    const c: Obj = structuredClone(map(t));
    if (suspendedNotStarted) {
      for (const f of schedulingFields) if (c.spec) delete c.spec[f];
      if (c.metadata) {
        delete c.metadata.labels;
        delete c.metadata.annotations;
      }
    }
    return c;
  };
  if (!semanticEqual(strip(s.template), strip(o.template))) errs.push(field.invalid('spec.template', s.template, 'field is immutable'));
  return errs;
}

/** A Job `/status` update: counters are non-negative. */
export function validateJobStatusUpdate(job: Obj, _old: Obj): FieldError[] {
  const st = map(job.status);
  const errs: FieldError[] = [];
  for (const f of ['active', 'succeeded', 'failed', 'terminating', 'ready']) {
    if (st[f] !== undefined && st[f] !== null) errs.push(...validateNonnegative(st[f], `status.${f}`));
  }
  return errs;
}

/** A CronJob: name length, schedule, timeZone, concurrencyPolicy, history limits, job template. */
export function validateCronJob(cj: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const name = String(get(cj, 'metadata', 'name') ?? '');
  // Jobs get an 11-character suffix, and Job names feed into labels (≤ 63).
  if (name.length > 52) errs.push(field.invalid('metadata.name', name, 'must be no more than 52 characters'));
  const spec = map(cj.spec);
  if (!spec.schedule) errs.push(field.required('spec.schedule', ''));
  else {
    try {
      parseCronSchedule(String(spec.schedule));
    } catch (e) {
      errs.push(field.invalid('spec.schedule', spec.schedule, (e as Error).message));
    }
    if (String(spec.schedule).includes('TZ')) {
      errs.push(field.invalid('spec.schedule', spec.schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
    }
  }
  if (spec.timeZone !== undefined && spec.timeZone !== null) {
    const tz = String(spec.timeZone);
    let ok = tz !== '' && tz !== 'Local' && !/\s/.test(tz);
    if (ok && tz !== 'UTC') {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
      } catch {
        ok = false;
      }
    }
    if (!ok) errs.push(field.invalid('spec.timeZone', tz, `unknown time zone ${tz}`));
  }
  switch (spec.concurrencyPolicy) {
    case 'Allow':
    case 'Forbid':
    case 'Replace':
      break;
    case undefined:
    case null:
    case '':
      errs.push(field.required('spec.concurrencyPolicy', ''));
      break;
    default:
      errs.push(field.notSupported('spec.concurrencyPolicy', spec.concurrencyPolicy, ['Allow', 'Forbid', 'Replace']));
  }
  if (spec.startingDeadlineSeconds !== undefined && spec.startingDeadlineSeconds !== null) errs.push(...validateNonnegative(spec.startingDeadlineSeconds, 'spec.startingDeadlineSeconds'));
  for (const f of ['successfulJobsHistoryLimit', 'failedJobsHistoryLimit']) {
    if (spec[f] !== undefined && spec[f] !== null) errs.push(...validateNonnegative(spec[f], `spec.${f}`));
  }
  const jt = map(spec.jobTemplate);
  const jspec = map(jt.spec);
  errs.push(...validateJobSpecCommon(jspec, 'spec.jobTemplate.spec', false));
  if (jspec.manualSelector === true) errs.push(field.notSupported('spec.jobTemplate.spec.manualSelector', true, ['nil', 'false']));
  return errs;
}

/** A CronJob update: the same rules as create. */
export function validateCronJobUpdate(cj: Obj, _old: Obj): FieldError[] {
  return validateCronJob(cj);
}

/** A CronJob `/status` update: nothing beyond metadata. */
export function validateCronJobStatusUpdate(_cj: Obj, _old: Obj): FieldError[] {
  return [];
}

