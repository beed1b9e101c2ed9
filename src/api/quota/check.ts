/**
 * The quota check one write goes through (upstream's resourcequota CheckRequest), as pure
 * functions: which quotas apply, whether each is known and satisfied, and the usage to charge.
 * Messages are upstream's; the caller wraps them in a 403 Forbidden.
 */
import {
  addLists,
  formatResourceList,
  lessThanOrEqual,
  maskList,
  negativeNames,
  parseResourceList,
  prettyPrint,
  prettyPrintNames,
  removeZeros,
  subtractNonNegative,
  type ResourceList,
} from './resource-list.js';
import { quotaMatches, type QuotaEvaluator } from './evaluators.js';

type Obj = Record<string, any>;

/** The write being checked. */
export interface QuotaRequest {
  operation: 'CREATE' | 'UPDATE';
  object: Obj;
  /** The stored object, for UPDATE. */
  oldObject?: Obj;
}

/** What the request does to one quota. */
export type QuotaOutcome =
  | { kind: 'skip' }
  | { kind: 'refuse'; message: string }
  /** `used` is the quota's status.used after the charge (JSON form). */
  | { kind: 'charge'; delta: ResourceList; used: Record<string, string> };

/** Whether every limited resource the kind uses has a usage figure yet (upstream's hasUsageStats). */
function hasUsageStats(quota: Obj, restricted: string[]): boolean {
  const used = quota?.status?.used ?? {};
  return restricted.every((r) => used[r] !== undefined);
}

/**
 * The first pass over one quota: whether it applies, and if so whether the object satisfies its
 * constraints and the quota's usage is known. Returns the restricted resource names when it applies.
 */
function preflight(quota: Obj, req: QuotaRequest, ev: QuotaEvaluator): { kind: 'skip' } | { kind: 'refuse'; message: string } | { kind: 'applies'; restricted: string[] } {
  if (!quotaMatches(quota, req.object, ev)) return { kind: 'skip' };
  const name = quota?.metadata?.name ?? '';
  const restricted = ev.matchingResources(Object.keys(parseResourceList(quota?.status?.hard)));
  const c = ev.constraints(restricted, req.object);
  if (c) return { kind: 'refuse', message: `failed quota: ${name}: ${c}` };
  if (!hasUsageStats(quota, restricted)) {
    return { kind: 'refuse', message: `status unknown for quota: ${name}, resources: ${prettyPrintNames(restricted)}` };
  }
  return { kind: 'applies', restricted };
}

/** The usage the request adds to an applying quota: all of it on create, the growth on update. */
function deltaFor(quota: Obj, req: QuotaRequest, ev: QuotaEvaluator, now: Date): ResourceList {
  const input = ev.usage(req.object, now);
  if (req.operation === 'UPDATE' && req.oldObject?.metadata?.resourceVersion && quotaMatches(quota, req.oldObject, ev)) {
    return removeZeros(subtractNonNegative(input, ev.usage(req.oldObject, now)));
  }
  return removeZeros(input);
}

/** Charge `delta` to the quota if it fits within status.hard; else upstream's "exceeded quota" message. */
function charge(quota: Obj, delta: ResourceList): QuotaOutcome {
  const hard = parseResourceList(quota?.status?.hard);
  const used = parseResourceList(quota?.status?.used);
  const requested = maskList(delta, Object.keys(hard));
  if (Object.keys(requested).length === 0) return { kind: 'skip' };
  const newUsed = addLists(used, requested);
  const { allowed, exceeded } = lessThanOrEqual(maskList(newUsed, Object.keys(requested)), hard);
  if (!allowed) {
    const name = quota?.metadata?.name ?? '';
    return {
      kind: 'refuse',
      message: `exceeded quota: ${name}, requested: ${prettyPrint(maskList(requested, exceeded))}, used: ${prettyPrint(maskList(used, exceeded))}, limited: ${prettyPrint(maskList(hard, exceeded))}`,
    };
  }
  // Keep the stored figures for resources not charged, as written.
  const out: Record<string, string> = { ...(quota?.status?.used ?? {}), ...formatResourceList(maskList(newUsed, Object.keys(requested))) };
  return { kind: 'charge', delta: requested, used: out };
}

/**
 * Check a write against every quota of its namespace. Either a refusal message, or the charges to
 * make (quota name → outcome with the new status.used); quotas the write does not touch are absent.
 */
export function checkQuotas(
  quotas: Obj[],
  req: QuotaRequest,
  ev: QuotaEvaluator,
  now = new Date(),
): { refuse: string } | { charges: { quota: Obj; delta: ResourceList; used: Record<string, string> }[] } {
  if (!ev.handles(req.operation)) return { charges: [] };
  const applying: Obj[] = [];
  for (const q of quotas) {
    const p = preflight(q, req, ev);
    if (p.kind === 'refuse') return { refuse: p.message };
    if (p.kind === 'applies') applying.push(q);
  }
  if (applying.length === 0) return { charges: [] };
  const neg = negativeNames(ev.usage(req.object, now));
  if (neg.length) return { refuse: `quota usage is negative for resource(s): ${prettyPrintNames(neg)}` };
  const charges: { quota: Obj; delta: ResourceList; used: Record<string, string> }[] = [];
  for (const q of applying) {
    const delta = deltaFor(q, req, ev, now);
    if (Object.keys(delta).length === 0) continue;
    const c = charge(q, delta);
    if (c.kind === 'refuse') return { refuse: c.message };
    if (c.kind === 'charge') charges.push({ quota: q, delta: c.delta, used: c.used });
  }
  return { charges };
}

/**
 * Re-check one quota as it is now stored (after a conflicting write moved it), for the same
 * request: skip if it no longer applies, refuse, or the new status.used.
 */
export function recheckQuota(quota: Obj, req: QuotaRequest, ev: QuotaEvaluator, now = new Date()): QuotaOutcome {
  const p = preflight(quota, req, ev);
  if (p.kind !== 'applies') return p;
  const delta = deltaFor(quota, req, ev, now);
  if (Object.keys(delta).length === 0) return { kind: 'skip' };
  return charge(quota, delta);
}

/** Give back a charge (a write that was refused after some quotas were charged). Never below zero. */
export function refundQuota(quota: Obj, delta: ResourceList): Record<string, string> {
  const used = parseResourceList(quota?.status?.used);
  const back = subtractNonNegative(maskList(used, Object.keys(delta)), delta);
  return { ...(quota?.status?.used ?? {}), ...formatResourceList(back) };
}
