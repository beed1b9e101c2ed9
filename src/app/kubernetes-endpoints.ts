/**
 * The `kubernetes` Service's endpoints: where pods reach the API servers. Upstream's "lease"
 * endpoint reconciler, through the API: every server keeps its own identity Lease in kube-system
 * (as upstream's apiserver identity leases: `apiserver-<hash>`, labelled
 * `apiserver.kubernetes.io/identity=kube-apiserver`) recording the address it advertises, renews
 * it every {@link DEFAULT_RENEW_MS} ms with a duration of {@link DEFAULT_LEASE_SECONDS} s, and writes
 * the `default/kubernetes` Endpoints and EndpointSlice as the sorted union of the addresses of the
 * unexpired leases. A server that stops cleanly deletes its lease and takes itself out; a dead
 * server's lease expires and the next reconcile of a survivor (scheduled for that moment) drops it.
 *
 * Where the address lives: annotations `k8ts.io/advertise-address` (the IP) and
 * `k8ts.io/advertise-port` on the lease; a server that advertises nothing keeps a lease without them
 * (its identity, which `k8ts datastore import` checks for) and contributes no endpoint.
 */
import { createHash, randomUUID } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { StatusError } from '../api/errors.js';
import { logger } from '../base/log.js';
import type { KObject, ResourceRef, RestClient } from '../client/rest-client.js';

const log = logger('kubernetes-endpoints');

/** The namespace of the API servers' identity leases. */
export const LEASE_NAMESPACE = 'kube-system';
/** The label of API server identity leases (upstream's), and its value. */
export const IDENTITY_LABEL = 'apiserver.kubernetes.io/identity';
export const IDENTITY_VALUE = 'kube-apiserver';
/** The lease annotations holding the advertised IP and port. */
export const ADDRESS_ANNOTATION = 'k8ts.io/advertise-address';
export const PORT_ANNOTATION = 'k8ts.io/advertise-port';
/**
 * Lease duration. Upstream's identity leases last 3600 s, but its endpoint (master) leases 15 s:
 * these leases do both jobs, so 15 s, and a dead server leaves the endpoints at most 15 s after
 * its last renewal.
 */
export const DEFAULT_LEASE_SECONDS = 15;
/** Renewal (and reconcile) interval: three renewals per lease duration, so one lost write is harmless. */
export const DEFAULT_RENEW_MS = 5_000;
/** The managed-by label value of the `kubernetes` EndpointSlice. */
export const MANAGED_BY = 'kube-apiserver';

const LEASES: ResourceRef = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespaced: true };
const ENDPOINTS: ResourceRef = { group: '', version: 'v1', resource: 'endpoints', namespaced: true };
const SLICES: ResourceRef = { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices', namespaced: true };

/** One API server's advertised endpoint. */
export interface ServerEndpoint {
  ip: string;
  port: number;
}

/** What an API server identity lease says, read from the object. */
export interface ServerLease {
  name: string;
  holderIdentity?: string;
  endpoint?: ServerEndpoint;
  /** renewTime (else acquireTime) in ms since the epoch; undefined when the lease has neither. */
  renewedAt?: number;
  durationSeconds: number;
}

/** The lease name of a server: `apiserver-` and a hash of what identifies it (host name and data dir). */
export function identityLeaseName(identity: string): string {
  const h = createHash('sha256').update(identity).digest().subarray(0, 16);
  // Base32 (RFC 4648, lower case, no padding): DNS-label safe, as upstream's lease names.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of h) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return `apiserver-${out}`;
}

/** Read an identity lease object; undefined when it is not one. */
export function parseServerLease(obj: KObject): ServerLease | undefined {
  if (obj?.metadata?.labels?.[IDENTITY_LABEL] !== IDENTITY_VALUE || typeof obj.metadata.name !== 'string') return undefined;
  const ann = obj.metadata.annotations ?? {};
  const ip = ann[ADDRESS_ANNOTATION];
  const port = Number(ann[PORT_ANNOTATION]);
  const time = obj.spec?.renewTime ?? obj.spec?.acquireTime;
  const renewedAt = typeof time === 'string' ? Date.parse(time) : NaN;
  const duration = Number(obj.spec?.leaseDurationSeconds);
  return {
    name: obj.metadata.name,
    holderIdentity: obj.spec?.holderIdentity,
    endpoint: typeof ip === 'string' && ip && Number.isInteger(port) && port > 0 && port < 65536 ? { ip, port } : undefined,
    renewedAt: Number.isFinite(renewedAt) ? renewedAt : undefined,
    durationSeconds: Number.isFinite(duration) && duration > 0 ? duration : DEFAULT_LEASE_SECONDS,
  };
}

/** When a lease expires (ms since the epoch); a lease never renewed counts as expired. */
export function leaseExpiry(l: ServerLease): number {
  return l.renewedAt === undefined ? -Infinity : l.renewedAt + l.durationSeconds * 1000;
}

/** Whether a lease has expired at `now`. */
export function leaseExpired(l: ServerLease, now: number): boolean {
  return leaseExpiry(l) <= now;
}

/** IPs in numeric order (IPv4 before IPv6), then ports: the order endpoints are written in. */
export function compareEndpoints(a: ServerEndpoint, b: ServerEndpoint): number {
  const key = (ip: string) => {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return '4' + ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('');
    // IPv6: every group written out to four digits, so text order is numeric order.
    const [head, tail] = ip.toLowerCase().split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
    return '6' + groups.map((g) => g.padStart(4, '0')).join('');
  };
  const ka = key(a.ip);
  const kb = key(b.ip);
  return ka < kb ? -1 : ka > kb ? 1 : a.port - b.port;
}

/** The sorted, de-duplicated endpoints of the leases unexpired at `now`. */
export function liveEndpoints(leases: ServerLease[], now: number): ServerEndpoint[] {
  const seen = new Map<string, ServerEndpoint>();
  for (const l of leases) {
    if (!l.endpoint || leaseExpired(l, now)) continue;
    seen.set(`${l.endpoint.ip}|${l.endpoint.port}`, l.endpoint);
  }
  return [...seen.values()].sort(compareEndpoints);
}

const isIPv6 = (ip: string) => ip.includes(':');

/**
 * Why an address cannot be an endpoint (Endpoints validation refuses it, as upstream's), or
 * undefined when it can: pods cannot reach a loopback, unspecified or link-local address.
 */
export function unadvertisableReason(ip: string): string | undefined {
  const v = ip.toLowerCase();
  if (/^127\./.test(v) || v === '::1') return 'may not be in the loopback range (127.0.0.0/8, ::1/128)';
  if (v === '0.0.0.0' || v === '::') return 'may not be unspecified (0.0.0.0, ::)';
  if (/^169\.254\./.test(v) || /^fe[89ab]/.test(v)) return 'may not be in the link-local range (169.254.0.0/16, fe80::/10)';
  if (/^224\./.test(v) || /^ff02:/.test(v)) return 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)';
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(v) && !v.includes(':')) return 'must be an IP address';
  return undefined;
}

/**
 * The `default/kubernetes` Endpoints for these endpoints: one subset per port (servers normally
 * share one port; upstream assumes so), addresses sorted.
 */
export function desiredEndpoints(eps: ServerEndpoint[]): KObject {
  const byPort = new Map<number, string[]>();
  for (const e of eps) byPort.set(e.port, [...(byPort.get(e.port) ?? []), e.ip]);
  const subsets = [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, ips]) => ({ addresses: ips.map((ip) => ({ ip })), ports: [{ name: 'https', port, protocol: 'TCP' }] }));
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets,
  };
}

/**
 * The `default/kubernetes` EndpointSlice: as upstream, one slice named `kubernetes` mirroring the
 * Endpoints' first subset (the lowest port, the common case being a single one). An address of a
 * server on another port is only in the Endpoints.
 */
export function desiredEndpointSlice(eps: ServerEndpoint[]): KObject {
  const first = eps.length ? Math.min(...eps.map((e) => e.port)) : undefined;
  const ips = first === undefined ? [] : eps.filter((e) => e.port === first).map((e) => e.ip);
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'kubernetes',
      namespace: 'default',
      labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': MANAGED_BY },
    },
    addressType: ips.length && ips.every(isIPv6) ? 'IPv6' : 'IPv4',
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    ports: first === undefined ? [] : [{ name: 'https', port: first, protocol: 'TCP' }],
  };
}

/** Whether the fields the reconciler owns already hold what it would write. */
function same(cur: KObject, want: KObject, fields: string[]): boolean {
  for (const f of [...fields]) if (JSON.stringify(cur[f] ?? []) !== JSON.stringify(want[f] ?? [])) return false;
  for (const [k, v] of Object.entries(want.metadata.labels ?? {})) if (cur.metadata?.labels?.[k] !== v) return false;
  return true;
}

/** Options of {@link ServerLeaseReconciler}. */
export interface ServerLeaseReconcilerOptions {
  /** A client with rights to leases in kube-system and endpoints and endpointslices in default. */
  client: RestClient;
  /** What identifies this server across restarts (host name and data dir); hashed into the lease name. */
  identity: string;
  /** The address this server advertises to pods; none: a lease without an address. */
  advertise?: ServerEndpoint;
  leaseDurationSeconds?: number;
  renewIntervalMs?: number;
  /** The clock (tests). */
  now?: () => number;
  /** Per-request timeout. Default 5 s. */
  requestTimeoutMs?: number;
}

const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/**
 * Keeps this server's identity lease and reconciles the `kubernetes` endpoints to the live leases.
 * {@link start} renews and reconciles once (errors are logged, not thrown) and then on a timer;
 * {@link stop} deletes the lease and reconciles without this server.
 */
export class ServerLeaseReconciler {
  readonly leaseName: string;
  readonly holderIdentity: string;
  private readonly duration: number;
  private readonly renewMs: number;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private failing = false;

  constructor(private opts: ServerLeaseReconcilerOptions) {
    this.leaseName = identityLeaseName(opts.identity);
    // As upstream: the lease name and a per-start id, so a restart is visible.
    this.holderIdentity = `${this.leaseName}_${randomUUID()}`;
    this.duration = opts.leaseDurationSeconds ?? DEFAULT_LEASE_SECONDS;
    this.renewMs = opts.renewIntervalMs ?? DEFAULT_RENEW_MS;
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.requestTimeoutMs ?? 5000;
    const why = opts.advertise && unadvertisableReason(opts.advertise.ip);
    if (why) {
      // Endpoints validation would refuse every write: keep the identity lease, advertise nothing.
      log.warn('not advertising this server in the kubernetes endpoints', { address: opts.advertise!.ip, reason: why });
      this.opts = { ...opts, advertise: undefined };
    }
  }

  private send<T = KObject>(method: string, path: string, body?: unknown): Promise<T> {
    return this.opts.client.send<T>(method, path, body, { timeoutMs: this.timeoutMs });
  }

  /** Renew the lease and reconcile now, then keep doing so. */
  async start(): Promise<void> {
    await this.run();
  }

  /** One renewal and reconcile; the next is scheduled when it ends. */
  private run(): Promise<void> {
    if (this.running) return this.running;
    clearTimeout(this.timer);
    this.running = (async () => {
      let next = this.renewMs;
      try {
        next = await this.tick();
        this.failing = false;
      } catch (e) {
        // Once per outage at warn level: the store may be down for a while.
        (this.failing ? log.debug : log.warn)('renewing the API server lease or the kubernetes endpoints failed', { err: String(e) });
        this.failing = true;
        // Retry soon, well inside the lease duration.
        next = Math.min(this.renewMs, 1000);
      } finally {
        this.running = undefined;
      }
      if (!this.stopped) {
        this.timer = setTimeout(() => void this.run(), next);
        this.timer.unref();
      }
    })();
    return this.running;
  }

  /** Renew, garbage-collect expired leases, reconcile; resolves to the delay until the next run. */
  async tick(): Promise<number> {
    await this.renew();
    const leases = await this.listLeases();
    const now = this.now();
    const others = leases.filter((l) => l.name !== this.leaseName);
    // Upstream's apiserver lease GC: an expired identity lease belongs to a server that is gone.
    const expired = others.filter((l) => leaseExpired(l, now));
    for (const l of expired) await this.deleteLease(l.name, l.resourceVersion);
    const mine: ServerLease = { name: this.leaseName, endpoint: this.opts.advertise, renewedAt: now, durationSeconds: this.duration };
    await this.reconcile(liveEndpoints([...others, mine], now), expired.some((l) => l.endpoint));
    // Wake when the next other lease expires, so a dead server leaves as soon as its lease does.
    const expiries = others.map(leaseExpiry).filter((t) => t > now);
    const wake = expiries.length ? Math.min(...expiries) - now + 50 : Infinity;
    return Math.max(100, Math.min(this.renewMs, wake));
  }

  private leasePath(name?: string): string {
    return this.opts.client.path(LEASES, LEASE_NAMESPACE, name);
  }

  private leaseObject(now: number, base?: KObject): KObject {
    const annotations = { ...(base?.metadata?.annotations ?? {}) };
    delete annotations[ADDRESS_ANNOTATION];
    delete annotations[PORT_ANNOTATION];
    if (this.opts.advertise) {
      annotations[ADDRESS_ANNOTATION] = this.opts.advertise.ip;
      annotations[PORT_ANNOTATION] = String(this.opts.advertise.port);
    }
    const host = osHostname().toLowerCase();
    const sameHolder = base?.spec?.holderIdentity === this.holderIdentity;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...(base?.metadata ?? {}),
        name: this.leaseName,
        namespace: LEASE_NAMESPACE,
        labels: { ...(base?.metadata?.labels ?? {}), [IDENTITY_LABEL]: IDENTITY_VALUE, 'kubernetes.io/hostname': host },
        annotations,
      },
      spec: {
        holderIdentity: this.holderIdentity,
        leaseDurationSeconds: this.duration,
        acquireTime: sameHolder && base?.spec?.acquireTime ? base.spec.acquireTime : microTime(now),
        renewTime: microTime(now),
      },
    };
  }

  private async renew(): Promise<void> {
    const now = this.now();
    let cur: KObject | undefined;
    try {
      cur = await this.send('GET', this.leasePath(this.leaseName));
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 404)) throw e;
    }
    if (cur) await this.send('PUT', this.leasePath(this.leaseName), this.leaseObject(now, cur));
    else await this.send('POST', this.leasePath(), this.leaseObject(now));
  }

  private async listLeases(): Promise<(ServerLease & { resourceVersion?: string })[]> {
    const list = await this.send<KObject>('GET', `${this.leasePath()}?labelSelector=${encodeURIComponent(`${IDENTITY_LABEL}=${IDENTITY_VALUE}`)}`);
    const out: (ServerLease & { resourceVersion?: string })[] = [];
    for (const item of list.items ?? []) {
      const l = parseServerLease(item);
      if (l) out.push({ ...l, resourceVersion: item.metadata?.resourceVersion });
    }
    return out;
  }

  private async deleteLease(name: string, resourceVersion?: string): Promise<void> {
    const body = resourceVersion ? { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion } } : undefined;
    await this.send('DELETE', this.leasePath(name), body).catch((e) => {
      // Gone already, or renewed meanwhile (its server is back): either is fine.
      if (!(e instanceof StatusError && (e.code === 404 || e.code === 409))) throw e;
    });
  }

  /**
   * Write the Endpoints and EndpointSlice for `eps` (no write when they already match). No live
   * server advertising anything empties them only when an address is known to have just left
   * (this server stopping, an expired lease): a server that advertises nothing leaves alone
   * endpoints it knows nothing about.
   */
  private async reconcile(eps: ServerEndpoint[], oneLeft: boolean): Promise<void> {
    if (eps.length === 0 && !oneLeft) return;
    await this.upsert(ENDPOINTS, desiredEndpoints(eps), ['subsets'], eps.length > 0);
    await this.upsert(SLICES, desiredEndpointSlice(eps), ['addressType', 'endpoints', 'ports'], eps.length > 0);
  }

  private async upsert(r: ResourceRef, want: KObject, fields: string[], create: boolean): Promise<void> {
    const path = this.opts.client.path(r, 'default', 'kubernetes');
    for (let attempt = 0; ; attempt++) {
      let cur: KObject | undefined;
      try {
        cur = await this.send('GET', path);
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 404)) throw e;
      }
      try {
        if (!cur) {
          // Nothing to advertise and nothing written yet: leave it so.
          if (create) await this.send('POST', this.opts.client.path(r, 'default'), want);
        } else if (r === SLICES && cur.addressType !== want.addressType) {
          // addressType is immutable: replace the slice.
          await this.send('DELETE', path, { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion: cur.metadata?.resourceVersion } });
          if (create) await this.send('POST', this.opts.client.path(r, 'default'), want);
        } else if (!same(cur, want, fields)) {
          const next: KObject = { ...cur, metadata: { ...cur.metadata, labels: { ...(cur.metadata?.labels ?? {}), ...want.metadata.labels } } };
          for (const f of fields) next[f] = want[f];
          await this.send('PUT', path, next);
        }
        return;
      } catch (e) {
        // Another server wrote it meanwhile: read again.
        if (attempt < 3 && e instanceof StatusError && (e.code === 409 || (e.code === 404 && cur))) continue;
        throw e;
      }
    }
  }

  /**
   * Stop renewing, delete this server's lease and take its address out of the endpoints. Bounded
   * by `timeoutMs` (default 5 s): with the store down, the lease simply expires.
   */
  async stop(timeoutMs = 5000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    const work = (async () => {
      await this.running?.catch(() => undefined);
      await this.deleteLease(this.leaseName);
      const now = this.now();
      const others = (await this.listLeases()).filter((l) => l.name !== this.leaseName);
      await this.reconcile(liveEndpoints(others, now), !!this.opts.advertise);
    })();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not done within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([work, deadline]);
    } catch (e) {
      work.catch(() => undefined);
      log.warn('removing this API server from the kubernetes endpoints failed (its lease will expire)', { err: String(e) });
    } finally {
      clearTimeout(timer);
    }
  }
}
