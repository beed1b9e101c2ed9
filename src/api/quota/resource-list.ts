/**
 * Resource lists (upstream's corev1.ResourceList) as maps of exact quantities, with the helpers
 * quota admission and the quota controller share (upstream's k8s.io/apiserver/pkg/quota/v1/resources.go).
 */
import { Quantity, tryParseQuantity } from '../quantity.js';

/** Resource name → quantity. */
export type ResourceList = Record<string, Quantity>;

const zero = Quantity.fromValue(0);

/** Parse a JSON resource list (`{cpu: '100m'}`); unparsable values are left out. */
export function parseResourceList(raw: unknown): ResourceList {
  const out: ResourceList = {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return out;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const q = tryParseQuantity(v);
    if (q) out[k] = q;
  }
  return out;
}

/** The JSON form: canonical quantity strings. */
export function formatResourceList(l: ResourceList): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(l).sort()) out[k] = l[k].toString();
  return out;
}

/** The union of both lists, summing resources present in both. */
export function addLists(a: ResourceList, b: ResourceList): ResourceList {
  const out: ResourceList = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = out[k] ? out[k].add(v) : v;
  return out;
}

/** `a - b` for resources in `a`, never below zero (upstream's SubtractWithNonNegativeResult). */
export function subtractNonNegative(a: ResourceList, b: ResourceList): ResourceList {
  const out: ResourceList = {};
  for (const [k, v] of Object.entries(a)) {
    const d = b[k] ? v.sub(b[k]) : v;
    out[k] = d.sign() < 0 ? zero : d;
  }
  return out;
}

/** Only the named resources. */
export function maskList(l: ResourceList, names: Iterable<string>): ResourceList {
  const out: ResourceList = {};
  for (const n of names) if (l[n]) out[n] = l[n];
  return out;
}

/** Without zero entries. */
export function removeZeros(l: ResourceList): ResourceList {
  const out: ResourceList = {};
  for (const [k, v] of Object.entries(l)) if (!v.isZero()) out[k] = v;
  return out;
}

/** Same names and equal quantities. */
export function listsEqual(a: ResourceList, b: ResourceList): boolean {
  const ak = Object.keys(a);
  if (ak.length !== Object.keys(b).length) return false;
  return ak.every((k) => b[k] !== undefined && a[k].cmp(b[k]) === 0);
}

/** Names whose quantity is negative. */
export function negativeNames(l: ResourceList): string[] {
  return Object.keys(l).filter((k) => l[k].sign() < 0);
}

/**
 * Whether every resource of `a` that `b` also names is within `b`; the names that exceed it
 * (upstream's LessThanOrEqual).
 */
export function lessThanOrEqual(a: ResourceList, b: ResourceList): { allowed: boolean; exceeded: string[] } {
  const exceeded: string[] = [];
  for (const [k, v] of Object.entries(a)) {
    const limit = b[k];
    if (limit && v.cmp(limit) > 0) exceeded.push(k);
  }
  return { allowed: exceeded.length === 0, exceeded };
}

/** `a=1,b=2Gi`, sorted by name, as upstream's prettyPrint. */
export function prettyPrint(l: ResourceList): string {
  return Object.keys(l)
    .sort()
    .map((k) => `${k}=${l[k].toString()}`)
    .join(',');
}

/** Sorted names joined by commas (upstream's prettyPrintResourceNames). */
export function prettyPrintNames(names: Iterable<string>): string {
  return [...new Set(names)].sort().join(',');
}
