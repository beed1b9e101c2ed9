/**
 * LimitRanger admission (upstream's plugin/pkg/admission/limitranger): a new pod's containers get
 * the namespace's LimitRange defaults for the limits and requests they leave out, and pods and
 * claims must keep within each LimitRange's min, max and limit/request ratio.
 */
import { errors } from '../../api/errors.js';
import { computePodQOS } from '../../api/defaulting/pod.js';
import { tryParseQuantity, type Quantity } from '../../api/quantity.js';
import { parseResourceList, podLimits, podRequests, type ResourceList } from '../../api/quota/index.js';
import type { KObject } from '../registry/generic/strategy.js';
import type { AdmissionAttributes, AdmissionPlugin } from './index.js';

/** The annotation naming what the plugin set. */
export const limitRangerAnnotation = 'kubernetes.io/limit-ranger';

type Obj = Record<string, any>;
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const items = (lr: Obj): Obj[] => arr(lr?.spec?.limits);

/** Pods on create, claims on create and update; never subresources (upstream's SupportsAttributes). */
function supports(a: AdmissionAttributes): 'pods' | 'persistentvolumeclaims' | undefined {
  if (a.subresource !== '' || a.store.gr.group !== '') return undefined;
  const r = a.store.gr.resource;
  // A pod's containers cannot change after create, so updates are not checked (as upstream).
  if (r === 'pods' && a.operation === 'CREATE') return r;
  if (r === 'persistentvolumeclaims' && (a.operation === 'CREATE' || a.operation === 'UPDATE')) return r;
  return undefined;
}

async function limitRangesFor(a: AdmissionAttributes): Promise<Obj[]> {
  const ns = a.object?.metadata?.namespace;
  if (!ns) return [];
  return a.cached.list('', 'limitranges', ns);
}

// ---- defaults ----------------------------------------------------------------------------------

/**
 * Fill a container's missing limits from `default` and missing requests from `defaultRequest` of
 * the LimitRange's Container items, noting what was set (upstream's mergeContainerResources).
 */
function mergeContainer(c: Obj, lr: Obj, kind: string, notes: string[]): void {
  const defLimits: Record<string, unknown> = {};
  const defRequests: Record<string, unknown> = {};
  for (const it of items(lr)) {
    if (it?.type !== 'Container') continue;
    Object.assign(defRequests, it.defaultRequest ?? {});
    Object.assign(defLimits, it.default ?? {});
  }
  const res = (c.resources ??= {});
  const setLimits: string[] = [];
  const setRequests: string[] = [];
  for (const [k, v] of Object.entries(defLimits)) {
    if (res.limits?.[k] !== undefined) continue;
    (res.limits ??= {})[k] = v;
    setLimits.push(k);
  }
  for (const [k, v] of Object.entries(defRequests)) {
    if (res.requests?.[k] !== undefined) continue;
    (res.requests ??= {})[k] = v;
    setRequests.push(k);
  }
  if (setRequests.length) notes.push(`${setRequests.sort().join(', ')} request for ${kind} ${c.name ?? ''}`);
  if (setLimits.length) notes.push(`${setLimits.sort().join(', ')} limit for ${kind} ${c.name ?? ''}`);
}

/**
 * Apply one LimitRange's container defaults to a pod and record them in the
 * `kubernetes.io/limit-ranger` annotation (upstream's PodMutateLimitFunc).
 */
export function defaultPodResources(lr: Obj, pod: Obj): void {
  const notes: string[] = [];
  for (const c of arr(pod?.spec?.containers)) mergeContainer(c, lr, 'container', notes);
  for (const c of arr(pod?.spec?.initContainers)) mergeContainer(c, lr, 'init container', notes);
  if (notes.length === 0) return;
  const meta = (pod.metadata ??= {});
  (meta.annotations ??= {})[limitRangerAnnotation] = `LimitRanger plugin set: ${notes.join('; ')}`;
}

// ---- constraints -------------------------------------------------------------------------------

/** Thousandths, rounded up, for comparison at a common precision. */
const milli = (q: Quantity) => q.scaledValue(-3);

function minConstraint(type: string, name: string, enforced: Quantity, req: ResourceList, lim: ResourceList): string | undefined {
  const r = req[name];
  const l = lim[name];
  if (!r) return `minimum ${name} usage per ${type} is ${enforced}.  No request is specified`;
  if (milli(r) < milli(enforced)) return `minimum ${name} usage per ${type} is ${enforced}, but request is ${r}`;
  if (l && milli(l) < milli(enforced)) return `minimum ${name} usage per ${type} is ${enforced}, but limit is ${l}`;
  return undefined;
}

function maxConstraint(type: string, name: string, enforced: Quantity, req: ResourceList, lim: ResourceList): string | undefined {
  const r = req[name];
  const l = lim[name];
  if (!l) return `maximum ${name} usage per ${type} is ${enforced}.  No limit is specified`;
  if (milli(l) > milli(enforced)) return `maximum ${name} usage per ${type} is ${enforced}, but limit is ${l}`;
  if (r && milli(r) > milli(enforced)) return `maximum ${name} usage per ${type} is ${enforced}, but request is ${r}`;
  return undefined;
}

/** Max against the request only, for claims, whose limits are not user input. */
function maxRequestConstraint(type: string, name: string, enforced: Quantity, req: ResourceList): string | undefined {
  const r = req[name];
  if (!r) return `maximum ${name} usage per ${type} is ${enforced}.  No request is specified`;
  if (milli(r) > milli(enforced)) return `maximum ${name} usage per ${type} is ${enforced}, but request is ${r}`;
  return undefined;
}

function ratioConstraint(type: string, name: string, enforced: Quantity, req: ResourceList, lim: ResourceList): string | undefined {
  const r = req[name];
  const l = lim[name];
  if (!r || milli(r) === 0n) return `${name} max limit to request ratio per ${type} is ${enforced}, but no request is specified or request is 0`;
  if (!l || milli(l) === 0n) return `${name} max limit to request ratio per ${type} is ${enforced}, but no limit is specified or limit is 0`;
  const observed = Number(milli(l)) / Number(milli(r));
  if (observed * 1000 > Number(milli(enforced))) {
    return `${name} max limit to request ratio per ${type} is ${enforced}, but provided ratio is ${observed.toFixed(6)}`;
  }
  return undefined;
}

function quantities(raw: unknown): [string, Quantity][] {
  const out: [string, Quantity][] = [];
  if (!raw || typeof raw !== 'object') return out;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const q = tryParseQuantity(v);
    if (q) out.push([k, q]);
  }
  return out;
}

/** Min, max and ratio of one LimitRange item against requests and limits. */
function checkItem(it: Obj, req: ResourceList, lim: ResourceList, errs: string[]): void {
  const type = String(it.type);
  for (const [k, v] of quantities(it.min)) pushIf(errs, minConstraint(type, k, v, req, lim));
  for (const [k, v] of quantities(it.max)) pushIf(errs, maxConstraint(type, k, v, req, lim));
  for (const [k, v] of quantities(it.maxLimitRequestRatio)) pushIf(errs, ratioConstraint(type, k, v, req, lim));
}
function pushIf(errs: string[], e: string | undefined): void {
  if (e) errs.push(e);
}

/** Every constraint a pod breaks under one LimitRange's Container and Pod items (upstream's PodValidateLimitFunc). */
export function podLimitViolations(lr: Obj, pod: Obj): string[] {
  const errs: string[] = [];
  for (const it of items(lr)) {
    if (it?.type === 'Container') {
      for (const c of [...arr(pod?.spec?.containers), ...arr(pod?.spec?.initContainers)]) {
        checkItem(it, parseResourceList(c?.resources?.requests), parseResourceList(c?.resources?.limits), errs);
      }
    } else if (it?.type === 'Pod') {
      checkItem(it, podRequests(pod), podLimits(pod), errs);
    }
  }
  return errs;
}

/** Every constraint a claim's storage request breaks under a LimitRange's PersistentVolumeClaim items. */
export function pvcLimitViolations(lr: Obj, pvc: Obj): string[] {
  const errs: string[] = [];
  const req = parseResourceList(pvc?.spec?.resources?.requests);
  for (const it of items(lr)) {
    if (it?.type !== 'PersistentVolumeClaim') continue;
    for (const [k, v] of quantities(it.min)) pushIf(errs, minConstraint('PersistentVolumeClaim', k, v, req, {}));
    for (const [k, v] of quantities(it.max)) pushIf(errs, maxRequestConstraint('PersistentVolumeClaim', k, v, req));
  }
  return errs;
}

/** Upstream's error aggregate: one message as is, several (deduplicated) in brackets. */
export function aggregateMessages(msgs: string[]): string {
  const uniq = [...new Set(msgs)];
  return uniq.length === 1 ? uniq[0] : `[${uniq.join(', ')}]`;
}

function nameOf(obj: KObject): string {
  return obj?.metadata?.name || obj?.metadata?.generateName || '';
}

/** The LimitRanger admission plugin. */
export const limitRanger: AdmissionPlugin = {
  name: 'LimitRanger',
  // Writes it does not apply to are answered synchronously (no promise for the chain to await).
  mutate(a) {
    if (supports(a) !== 'pods') return;
    return defaultLimits(a);
  },
  validate(a) {
    const kind = supports(a);
    if (!kind) return;
    // Objects being deleted are left alone (as upstream).
    if (a.oldObject?.metadata?.deletionTimestamp) return;
    return checkLimits(a, kind);
  },
};

async function defaultLimits(a: AdmissionAttributes): Promise<void> {
  const lrs = await limitRangesFor(a);
  if (lrs.length === 0) return;
  for (const lr of lrs) defaultPodResources(lr, a.object);
  // The pod's QoS class was computed before admission; defaults may change it.
  if (a.object.status && typeof a.object.status === 'object') a.object.status.qosClass = computePodQOS(a.object);
}

async function checkLimits(a: AdmissionAttributes, kind: 'pods' | 'persistentvolumeclaims'): Promise<void> {
  for (const lr of await limitRangesFor(a)) {
    const errs = kind === 'pods' ? podLimitViolations(lr, a.object) : pvcLimitViolations(lr, a.object);
    if (errs.length) throw errors.forbidden(a.store.gr, nameOf(a.object), aggregateMessages(errs));
  }
}
