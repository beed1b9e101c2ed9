/**
 * Resource arithmetic as the scheduler does it (upstream's framework.Resource): cpu in
 * millicores, memory and ephemeral storage in bytes, the allowed pod count, and scalar
 * (extended, hugepages, prefixed native) resources as integers. Quantities are parsed with
 * src/api/quantity.ts and memoised, since the same few strings recur across thousands of pods.
 */
import { tryParseQuantity } from '../../api/quantity.js';
import type { Pod, ResourceList } from './types.js';

/** The cpu request assumed for a container without one when scoring (upstream's DefaultMilliCPURequest). */
export const DefaultMilliCPURequest = 100;
/** The memory request assumed for a container without one when scoring: 200 MiB (upstream's DefaultMemoryRequest). */
export const DefaultMemoryRequest = 200 * 1024 * 1024;

export const ResourceCPU = 'cpu';
export const ResourceMemory = 'memory';
export const ResourceEphemeralStorage = 'ephemeral-storage';
export const ResourcePods = 'pods';

/** An amount of each schedulable resource. */
export interface Resource {
  milliCPU: number;
  memory: number;
  ephemeralStorage: number;
  allowedPodNumber: number;
  /** Extended and other scalar resources, or null when there are none. */
  scalar: Map<string, number> | null;
}

/** A zero resource. */
export function newResource(): Resource {
  return { milliCPU: 0, memory: 0, ephemeralStorage: 0, allowedPodNumber: 0, scalar: null };
}

/** A deep copy. */
export function cloneResource(r: Resource): Resource {
  return {
    milliCPU: r.milliCPU,
    memory: r.memory,
    ephemeralStorage: r.ephemeralStorage,
    allowedPodNumber: r.allowedPodNumber,
    scalar: r.scalar ? new Map(r.scalar) : null,
  };
}

const milliCache = new Map<string, number>();
const valueCache = new Map<string, number>();
const CACHE_LIMIT = 4096;

function cached(cache: Map<string, number>, q: string | number, milli: boolean): number {
  const key = typeof q === 'number' ? String(q) : q;
  let v = cache.get(key);
  if (v === undefined) {
    const parsed = tryParseQuantity(q);
    v = parsed ? (milli ? parsed.milliValue() : parsed.value()) : 0;
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, v);
  }
  return v;
}

/** Thousandths of a quantity, rounded up (upstream's MilliValue); 0 for an unparsable one. */
export function quantityMilliValue(q: string | number | undefined): number {
  return q === undefined ? 0 : cached(milliCache, q, true);
}

/** Whole units of a quantity, rounded up (upstream's Value); 0 for an unparsable one. */
export function quantityValue(q: string | number | undefined): number {
  return q === undefined ? 0 : cached(valueCache, q, false);
}

/**
 * Is this a scalar resource the scheduler accounts for? Extended resources (`example.com/gpu`),
 * prefixed native ones (`kubernetes.io/…`), `hugepages-*` and `attachable-volumes-*`.
 */
export function isScalarResourceName(name: string): boolean {
  if (name.startsWith('hugepages-') || name.startsWith('attachable-volumes-')) return true;
  return name.includes('/') && !name.startsWith('requests.');
}

/** Is this an extended resource (a domain-prefixed name outside kubernetes.io)? */
export function isExtendedResourceName(name: string): boolean {
  return name.includes('/') && !name.includes('kubernetes.io/') && !name.startsWith('requests.');
}

function addScalar(r: Resource, name: string, v: number): void {
  if (r.scalar === null) r.scalar = new Map();
  r.scalar.set(name, (r.scalar.get(name) ?? 0) + v);
}

/** Add a resource list into `r` (upstream's Resource.Add). */
export function addResourceList(r: Resource, list: ResourceList | undefined): void {
  if (!list) return;
  for (const name in list) {
    const q = list[name];
    switch (name) {
      case ResourceCPU:
        r.milliCPU += quantityMilliValue(q);
        break;
      case ResourceMemory:
        r.memory += quantityValue(q);
        break;
      case ResourcePods:
        r.allowedPodNumber += quantityValue(q);
        break;
      case ResourceEphemeralStorage:
        r.ephemeralStorage += quantityValue(q);
        break;
      default:
        if (isScalarResourceName(name)) addScalar(r, name, quantityValue(q));
    }
  }
}

/** Add `b` into `a`. */
export function addResource(a: Resource, b: Resource): void {
  a.milliCPU += b.milliCPU;
  a.memory += b.memory;
  a.ephemeralStorage += b.ephemeralStorage;
  a.allowedPodNumber += b.allowedPodNumber;
  if (b.scalar) for (const [k, v] of b.scalar) addScalar(a, k, v);
}

/** Subtract `b` from `a`. */
export function subtractResource(a: Resource, b: Resource): void {
  a.milliCPU -= b.milliCPU;
  a.memory -= b.memory;
  a.ephemeralStorage -= b.ephemeralStorage;
  a.allowedPodNumber -= b.allowedPodNumber;
  if (b.scalar) for (const [k, v] of b.scalar) addScalar(a, k, -v);
}

function maxInto(a: Resource, b: Resource): void {
  a.milliCPU = Math.max(a.milliCPU, b.milliCPU);
  a.memory = Math.max(a.memory, b.memory);
  a.ephemeralStorage = Math.max(a.ephemeralStorage, b.ephemeralStorage);
  if (b.scalar) {
    for (const [k, v] of b.scalar) {
      if (a.scalar === null) a.scalar = new Map();
      a.scalar.set(k, Math.max(a.scalar.get(k) ?? 0, v));
    }
  }
}

/** A resource list as a Resource. */
export function resourceFromList(list: ResourceList | undefined): Resource {
  const r = newResource();
  addResourceList(r, list);
  return r;
}

function containerRequests(requests: ResourceList | undefined, nonMissing: boolean): Resource {
  const r = resourceFromList(requests);
  if (nonMissing) {
    if (!requests || requests[ResourceCPU] === undefined) r.milliCPU += DefaultMilliCPURequest;
    if (!requests || requests[ResourceMemory] === undefined) r.memory += DefaultMemoryRequest;
  }
  return r;
}

/**
 * A pod's effective requests, as upstream's resourcehelper.PodRequests computes them: the sum of
 * the app containers, raised to the largest init-container step (restartable "sidecar" init
 * containers keep running, so they add to both), plus the pod overhead.
 *
 * With `nonMissing`, containers that omit cpu or memory count as 100m / 200Mi — the "non-zero"
 * requests scoring uses so that request-less pods still spread out.
 */
export function computePodRequests(pod: Pod, nonMissing = false): Resource {
  const spec = pod.spec ?? {};
  const reqs = newResource();
  for (const c of spec.containers ?? []) addResource(reqs, containerRequests(c.resources?.requests, nonMissing));
  const inits = spec.initContainers;
  if (inits && inits.length > 0) {
    const restartable = newResource();
    const initMax = newResource();
    for (const c of inits) {
      let step = containerRequests(c.resources?.requests, nonMissing);
      if (c.restartPolicy === 'Always') {
        addResource(reqs, step);
        addResource(restartable, step);
        step = cloneResource(restartable);
      } else {
        addResource(step, restartable);
      }
      maxInto(initMax, step);
    }
    maxInto(reqs, initMax);
  }
  addResourceList(reqs, spec.overhead);
  return reqs;
}

/** The amount of one named resource in `r`. */
export function resourceAmount(r: Resource, name: string): number {
  switch (name) {
    case ResourceCPU:
      return r.milliCPU;
    case ResourceMemory:
      return r.memory;
    case ResourceEphemeralStorage:
      return r.ephemeralStorage;
    case ResourcePods:
      return r.allowedPodNumber;
    default:
      return r.scalar?.get(name) ?? 0;
  }
}
