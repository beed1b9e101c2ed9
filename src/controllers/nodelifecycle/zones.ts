/**
 * Zone-aware eviction rate limiting of the node lifecycle controller (upstream's zone states,
 * setLimiterInZone, handleDisruption and RateLimitedTimedQueue): nodes are grouped into zones by
 * their topology labels, each zone gets a state from the share of its nodes that are not Ready,
 * and NoExecute taints (which start taint-based eviction) are added through a token-bucket rate
 * limited queue per zone whose rate follows that state.
 */
import type { KObject } from '../../client/rest-client.js';

/** Node label with its zone (GA, then the deprecated beta label). */
export const LabelTopologyZone = 'topology.kubernetes.io/zone';
export const LabelTopologyRegion = 'topology.kubernetes.io/region';
export const LabelFailureDomainBetaZone = 'failure-domain.beta.kubernetes.io/zone';
export const LabelFailureDomainBetaRegion = 'failure-domain.beta.kubernetes.io/region';
/** Nodes with this label do not count towards their zone's disruption state (upstream's NodeDisruptionExclusion). */
export const LabelNodeExcludeDisruption = 'node.kubernetes.io/exclude-disruption';

/** A zone's health: Initial until its first health pass. */
export type ZoneState = 'Initial' | 'Normal' | 'PartialDisruption' | 'FullDisruption';

/** Upstream's defaults of the kube-controller-manager flags of the same names. */
export interface ZoneEvictionConfig {
  /** --node-eviction-rate: nodes per second tainted for eviction while their zone is healthy. */
  nodeEvictionRate: number;
  /** --secondary-node-eviction-rate: nodes per second while the zone is unhealthy (0 for small zones). */
  secondaryNodeEvictionRate: number;
  /** --unhealthy-zone-threshold: share of not-Ready nodes (at least 3) that makes a zone unhealthy. */
  unhealthyZoneThreshold: number;
  /** --large-cluster-size-threshold: zones with more nodes than this keep the secondary rate when unhealthy. */
  largeClusterSizeThreshold: number;
}

export const DEFAULT_ZONE_EVICTION: Readonly<ZoneEvictionConfig> = Object.freeze({
  nodeEvictionRate: 0.1,
  secondaryNodeEvictionRate: 0.01,
  unhealthyZoneThreshold: 0.55,
  largeClusterSizeThreshold: 50,
});

/**
 * The node's zone key: region and zone joined with a NUL (which labels cannot hold), or '' when
 * it has neither label.
 */
export function zoneKey(node: KObject): string {
  const l: Record<string, string> = node.metadata?.labels ?? {};
  const zone = l[LabelTopologyZone] ?? l[LabelFailureDomainBetaZone] ?? '';
  const region = l[LabelTopologyRegion] ?? l[LabelFailureDomainBetaRegion] ?? '';
  if (!zone && !region) return '';
  return `${region}:\u0000:${zone}`;
}

/** A zone key as people read it (`region/zone`, or `(no zone)`). */
export function zoneDisplay(key: string): string {
  if (!key) return '(no zone)';
  const [region, zone] = key.split(':\u0000:');
  return region ? `${region}/${zone}` : zone!;
}

/** Whether the node is left out of its zone's disruption state. */
export function excludedFromDisruption(node: KObject): boolean {
  return node.metadata?.labels?.[LabelNodeExcludeDisruption] !== undefined;
}

/**
 * A zone's state from its nodes' Ready statuses (undefined when a node has none): FullDisruption
 * when no node is Ready, PartialDisruption when more than 2 nodes and at least `threshold` of them
 * are not Ready, Normal otherwise.
 */
export function computeZoneState(readyStatuses: readonly (string | undefined)[], threshold: number): { notReady: number; state: ZoneState } {
  let ready = 0;
  let notReady = 0;
  for (const s of readyStatuses) {
    if (s === 'True') ready++;
    else notReady++;
  }
  if (ready === 0 && notReady > 0) return { notReady, state: 'FullDisruption' };
  if (notReady > 2 && notReady / (notReady + ready) >= threshold) return { notReady, state: 'PartialDisruption' };
  return { notReady, state: 'Normal' };
}

/**
 * Nodes per second a zone in `state` with `zoneSize` nodes may have tainted: the normal rate when
 * Normal or (only some zones being) FullDisruption, the secondary rate when PartialDisruption in a
 * zone larger than the large-cluster threshold, 0 in a smaller one. Initial keeps the normal rate.
 */
export function zoneEvictionRate(state: ZoneState, zoneSize: number, cfg: ZoneEvictionConfig): number {
  if (state === 'PartialDisruption') return zoneSize > cfg.largeClusterSizeThreshold ? cfg.secondaryNodeEvictionRate : 0;
  return cfg.nodeEvictionRate;
}

/** What one health pass decides about the zones (upstream's handleDisruption). */
export interface DisruptionDecision {
  /** The zones' states after the pass (zones without nodes dropped). */
  states: Map<string, ZoneState>;
  /**
   * 'enter': every zone just became fully disrupted — stop all tainting and lift the controller's
   * NoExecute taints (the control plane, not the nodes, is probably cut off). 'exit': some node is
   * Ready again after that. 'none' otherwise.
   */
  transition: 'enter' | 'exit' | 'none';
  /** Zones whose rate must be reset (state changed, or every zone on exit), with the rate. */
  rates: Map<string, number>;
}

/**
 * Upstream's handleDisruption as a pure function: from the previous zone states and each zone's
 * nodes' Ready statuses, the new states, whether the controller enters or leaves the all-zones
 * disruption mode, and the zones whose rate limiter changes.
 */
export function decideDisruption(
  prev: ReadonlyMap<string, ZoneState>,
  zones: ReadonlyMap<string, readonly (string | undefined)[]>,
  cfg: ZoneEvictionConfig,
): DisruptionDecision {
  const observed = new Map<string, ZoneState>();
  let allAre = true;
  for (const [k, statuses] of zones) {
    const s = computeZoneState(statuses, cfg.unhealthyZoneThreshold).state;
    if (s !== 'FullDisruption') allAre = false;
    observed.set(k, s);
  }
  // Zones seen for the first time count as Initial; zones without nodes are forgotten.
  const before = new Map<string, ZoneState>();
  for (const k of zones.keys()) before.set(k, prev.get(k) ?? 'Initial');
  let allWere = true;
  for (const s of before.values()) if (s !== 'FullDisruption') allWere = false;
  const rates = new Map<string, number>();
  if (allAre && allWere) return { states: before, transition: 'none', rates };
  if (allAre) {
    const states = new Map<string, ZoneState>();
    for (const k of before.keys()) {
      states.set(k, 'FullDisruption');
      rates.set(k, 0);
    }
    return { states, transition: 'enter', rates };
  }
  const size = (k: string) => zones.get(k)?.length ?? 0;
  if (allWere) {
    for (const [k, s] of observed) rates.set(k, zoneEvictionRate(s, size(k), cfg));
    return { states: observed, transition: 'exit', rates };
  }
  for (const [k, s] of observed) if (before.get(k) !== s) rates.set(k, zoneEvictionRate(s, size(k), cfg));
  return { states: observed, transition: 'none', rates };
}

/**
 * A token bucket holding at most `burst` tokens refilled at `qps` per second (client-go's
 * tokenBucketRateLimiter, non-blocking). A rate of 0 or less never admits.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    readonly qps: number,
    readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = qps > 0 ? burst : 0;
    this.last = nowMs;
  }

  /** Take a token if one is there. */
  tryAccept(nowMs: number): boolean {
    if (this.qps <= 0) return false;
    if (nowMs > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) / 1000) * this.qps);
      this.last = nowMs;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}

/** Upstream's EvictionRateLimiterBurst. */
export const EVICTION_BURST = 1;

/**
 * A FIFO of node names drained through a token bucket (upstream's RateLimitedTimedQueue): each
 * name once; an item that fails is retried on a later pass.
 */
export class RateLimitedNodeQueue {
  private readonly items = new Map<string, number>();
  private limiter: TokenBucket;

  constructor(qps: number, nowMs: number) {
    this.limiter = new TokenBucket(qps, EVICTION_BURST, nowMs);
  }

  get qps(): number {
    return this.limiter.qps;
  }
  get size(): number {
    return this.items.size;
  }
  has(name: string): boolean {
    return this.items.has(name);
  }
  names(): string[] {
    return [...this.items.keys()];
  }

  /** Queue the node; false if it already is. */
  add(name: string, nowMs: number): boolean {
    if (this.items.has(name)) return false;
    this.items.set(name, nowMs);
    return true;
  }

  remove(name: string): boolean {
    return this.items.delete(name);
  }

  /**
   * Change the rate (upstream's SwapLimiter). The new bucket starts empty if the old one had no
   * token left, so a rate change does not grant a burst.
   */
  setRate(qps: number, nowMs: number): void {
    if (qps === this.limiter.qps) return;
    const next = new TokenBucket(qps, EVICTION_BURST, nowMs);
    if (qps > 0 && !this.limiter.tryAccept(nowMs)) next.tryAccept(nowMs);
    this.limiter = next;
  }

  /**
   * Process queued names in order while tokens last (one token per attempt). `fn` returns true
   * when the item is done; false keeps it for a later pass.
   */
  async drain(nowMs: number, fn: (name: string) => Promise<boolean>): Promise<number> {
    let tried = 0;
    for (const [name, since] of [...this.items]) {
      if (this.items.get(name) !== since) continue;
      if (!this.limiter.tryAccept(nowMs)) break;
      tried++;
      let done: boolean;
      try {
        done = await fn(name);
      } catch {
        done = false;
      }
      if (done) {
        if (this.items.get(name) === since) this.items.delete(name);
      } else if (this.items.get(name) === since) {
        // Upstream re-inserts a failed item behind the others.
        this.items.delete(name);
        this.items.set(name, since);
      }
    }
    return tried;
  }
}

/**
 * The four flags as `k8ts server` and `k8ts controller-manager` take them, checked as upstream's
 * option validation does. Unset flags are left out.
 */
export function zoneEvictionFromFlags(flags: {
  'node-eviction-rate'?: string;
  'secondary-node-eviction-rate'?: string;
  'unhealthy-zone-threshold'?: string;
  'large-cluster-size-threshold'?: string;
}): Partial<ZoneEvictionConfig> {
  const out: Partial<ZoneEvictionConfig> = {};
  const num = (flag: string, v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`--${flag}: invalid number "${v}"`);
    return n;
  };
  const rate = flags['node-eviction-rate'];
  if (rate !== undefined) {
    out.nodeEvictionRate = num('node-eviction-rate', rate);
    if (out.nodeEvictionRate < 0) throw new Error('--node-eviction-rate must not be negative');
  }
  const sec = flags['secondary-node-eviction-rate'];
  if (sec !== undefined) {
    out.secondaryNodeEvictionRate = num('secondary-node-eviction-rate', sec);
    if (out.secondaryNodeEvictionRate < 0) throw new Error('--secondary-node-eviction-rate must not be negative');
  }
  const thr = flags['unhealthy-zone-threshold'];
  if (thr !== undefined) {
    out.unhealthyZoneThreshold = num('unhealthy-zone-threshold', thr);
    if (out.unhealthyZoneThreshold <= 0 || out.unhealthyZoneThreshold > 1) throw new Error('--unhealthy-zone-threshold must be greater than 0 and at most 1');
  }
  const large = flags['large-cluster-size-threshold'];
  if (large !== undefined) {
    out.largeClusterSizeThreshold = num('large-cluster-size-threshold', large);
    if (!Number.isInteger(out.largeClusterSizeThreshold) || out.largeClusterSizeThreshold < 0) throw new Error('--large-cluster-size-threshold must be a non-negative integer');
  }
  return out;
}

