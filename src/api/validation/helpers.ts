/**
 * Small building blocks shared by the per-kind validators: field paths, immutability,
 * non-negative numbers, int-or-percent, labels and label selectors.
 */
import { field, type FieldError } from '../errors.js';
import { isLabelKey, isLabelValue, isValidPercent } from './identifiers.js';

/** A plain JSON object as the validators see it. */
export type Obj = Record<string, any>;

/** `spec` + `containers` → `spec.containers`; the root is `''`. */
export function child(path: string, ...names: string[]): string {
  // Called for every field validated: plain concatenation, no arrays.
  let out = path;
  for (const n of names) if (n !== '') out = out === '' ? n : `${out}.${n}`;
  return out;
}

/** `spec.containers` + 0 → `spec.containers[0]` */
export function index(path: string, i: number): string {
  return `${path}[${i}]`;
}

/** `data` + `k` → `data[k]` */
export function key(path: string, k: string): string {
  return `${path}[${k}]`;
}

/** Upstream's IsNegativeErrorMsg. */
export const isNegativeErrorMsg = 'must be greater than or equal to 0';
/** Upstream's FieldImmutableErrorMsg. */
export const fieldImmutableErrorMsg = 'field is immutable';
/** Upstream's isNotPositiveErrorMsg. */
export const isNotPositiveErrorMsg = 'must be greater than zero';

/** `path: Invalid value: -1: must be greater than or equal to 0` when the number is negative. */
export function validateNonnegative(value: unknown, path: string): FieldError[] {
  return typeof value === 'number' && value < 0 ? [field.invalid(path, value, isNegativeErrorMsg)] : [];
}

function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).every((k) => isEmptyValue((v as Obj)[k]));
  return false;
}

/**
 * Semantic equality of JSON values as upstream's apiequality.Semantic sees Go structs:
 * absent, null, empty string, empty list and empty map are all the zero value.
 */
export function semanticEqual(a: unknown, b: unknown): boolean {
  if (isEmptyValue(a) && isEmptyValue(b)) return true;
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => semanticEqual(x, bb[i]));
  }
  const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
  for (const k of keys) if (!semanticEqual((a as Obj)[k], (b as Obj)[k])) return false;
  return true;
}

/** `path: Invalid value: <new>: field is immutable` when the value changed. */
export function validateImmutable(newVal: unknown, oldVal: unknown, path: string): FieldError[] {
  return semanticEqual(newVal, oldVal) ? [] : [field.invalid(path, newVal, fieldImmutableErrorMsg)];
}

/** The value an int-or-string resolves to for validation: `25%` → 25, 3 → 3. */
export function intOrPercentValue(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const m = /^([0-9]+)%$/.exec(v);
    if (m) return Number(m[1]);
    const n = Number(v);
    return Number.isFinite(n) ? n : 0;
  }
  return 0;
}

/** Upstream's ValidatePositiveIntOrPercent: a non-negative number or a `N%` string. */
export function validatePositiveIntOrPercent(v: unknown, path: string): FieldError[] {
  if (typeof v === 'string') return isValidPercent(v).map((m) => field.invalid(path, v, m));
  if (typeof v === 'number') return validateNonnegative(v, path);
  return [];
}

/** Upstream's IsNotMoreThan100Percent. */
export function validateNotMoreThan100Percent(v: unknown, path: string): FieldError[] {
  if (typeof v === 'string' && /%$/.test(v) && intOrPercentValue(v) > 100) return [field.invalid(path, v, 'must not be greater than 100%')];
  return [];
}

/** A label key or other qualified name. */
export function validateQualifiedName(value: string, path: string): FieldError[] {
  return isLabelKey(value).map((m) => field.invalid(path, value, m));
}

/** Labels: keys are qualified names, values label values; errors point at the map (`metadata.labels`). */
export function validateLabels(labels: unknown, path: string): FieldError[] {
  if (!labels || typeof labels !== 'object') return [];
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels as Obj)) {
    errs.push(...validateQualifiedName(k, path));
    const value = typeof v === 'string' ? v : String(v ?? '');
    errs.push(...isLabelValue(value).map((m) => field.invalid(path, value, m)));
  }
  return errs;
}

/** A metav1.LabelSelector's structure (upstream's ValidateLabelSelector). */
export function validateLabelSelector(sel: unknown, path: string): FieldError[] {
  if (!sel || typeof sel !== 'object') return [];
  const s = sel as Obj;
  const errs = validateLabels(s.matchLabels, child(path, 'matchLabels'));
  (Array.isArray(s.matchExpressions) ? s.matchExpressions : []).forEach((expr: Obj, i: number) => {
    const p = index(child(path, 'matchExpressions'), i);
    const values: unknown[] = Array.isArray(expr?.values) ? expr.values : [];
    switch (expr?.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) errs.push(field.required(child(p, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) errs.push(field.forbidden(child(p, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      default:
        errs.push(field.invalid(child(p, 'operator'), expr?.operator ?? '', 'not a valid selector operator'));
    }
    errs.push(...validateQualifiedName(String(expr?.key ?? ''), child(p, 'key')));
    values.forEach((v, j) => errs.push(...isLabelValue(String(v)).map((m) => field.invalid(index(child(p, 'values'), j), v, m))));
  });
  return errs;
}

/** Go's `%#v` of a []string, for messages that quote one: `[]string{"a", "b"}`. */
export function goStringSlice(values: string[]): string {
  return `[]string{${values.map((v) => JSON.stringify(v)).join(', ')}}`;
}

/** Read a nested property without throwing: `get(obj, 'spec', 'template')`. */
export function get(obj: unknown, ...path: string[]): any {
  let cur: any = obj;
  for (const p of path) {
    if (cur === null || cur === undefined || typeof cur !== 'object') return undefined;
    cur = cur[p];
  }
  return cur;
}

/** The value as a list, or `[]`. */
export function list(v: unknown): any[] {
  return Array.isArray(v) ? v : [];
}

/** The value as a map, or `{}`. */
export function map(v: unknown): Obj {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

/** `path: Too long: must have at most N bytes` (upstream prints no value for TooLong). */
export function tooLong(path: string, max: number): FieldError {
  const e = field.tooLong(path, undefined, max);
  delete e.value;
  return e;
}
