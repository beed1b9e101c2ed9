/**
 * kube-proxy for k8ts: watches Services and EndpointSlices through shared informers and programs
 * the node's packet filter (nftables, else iptables) with one atomic update per sync.
 *
 * Latency path of one change: the informer event marks its Service ({@link ProxyStateTracker}),
 * the {@link BoundedRunner} starts a sync at once unless a burst has used up its budget, only the
 * marked Services are rebuilt and re-rendered, and the resulting small nft transaction goes to a
 * long-lived `nft -i` ({@link NftSession}); full replacements go through a one-shot `nft -f -`.
 * A failed transaction leaves the proxy not knowing what the kernel holds, so the retry replaces
 * the table whole.
 */
import { logger } from '../base/log.js';
import { Counter, Gauge, Histogram, Registry } from '../base/metrics.js';
import { metaNamespaceKeyFunc, objectFromTombstone, SharedInformerFactory, type SharedInformer } from '../client/informer.js';
import type { KObject, RestClient } from '../client/rest-client.js';
import { resources } from '../client/resources.js';
import { CommandError, haveCommand, run } from './exec.js';
import { iptablesChains, iptablesJumps, parseIptablesSave, renderIptablesCleanup, renderIptablesRestore, type IptablesJump } from './iptables.js';
import { NftSession, NftSessionError } from './nft-session.js';
import { renderNft, renderNftCleanup, type NftRenderCache, type NftSnapshot } from './nftables.js';
import { BoundedRunner } from './runner.js';
import { categorizeEndpoints, ProxyStateTracker, sliceServiceKey, type ProxyState } from './state.js';

const log = logger('proxy');

/** Set by the EndpointSlice controller: when the change that produced a slice happened. */
const TRIGGER_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';

/** How to run the proxy. */
export interface ProxyOptions {
  /** The API client; Services and EndpointSlices are read through informers on it. */
  client: RestClient;
  /** This node's name: endpoints with this nodeName are local. */
  nodeName: string;
  /** Addresses NodePorts answer on. */
  nodeIPs: string[];
  /** The pod range; traffic from outside it to a ClusterIP is masqueraded. */
  clusterCIDR: string;
  /** Default nftables, falling back to iptables when `nft` is missing. */
  mode?: 'nftables' | 'iptables';
  /** Program the rules in this network namespace (a path like /var/run/netns/X, or a name). */
  netns?: string;
  /**
   * Bounds the sync rate under a stream of changes (default 1000 ms): after a quiet spell a change
   * is synced at once (two back to back at most); under a burst, syncs come one per interval on
   * average and the changes in between coalesce (upstream's minSyncPeriod).
   */
  minSyncIntervalMs?: number;
  /** nftables table (family ip) of this proxy. Default k8ts-proxy; proxies sharing a namespace need their own. */
  nftTable?: string;
  /** Full resync period, repairing rules changed behind the proxy's back (default 30 s; 0 = never). */
  syncPeriodMs?: number;
  /** Share informers with other components; default: the proxy makes and owns its own. */
  informers?: SharedInformerFactory;
  /** Register the proxy's metrics here (default: a private registry, see {@link RunningProxy.metrics}). */
  metrics?: Registry;
  /**
   * NodePorts also answer on 127.0.0.1, and load-balancer IPs on loopback (127/8) work for the
   * node's own traffic. Sets net.ipv4.conf.all.route_localnet=1 in the namespace (left on at stop)
   * and adds upstream's guard against outside traffic to 127/8. Default false.
   */
  localhostNodePorts?: boolean;
  /** Clear UDP conntrack entries for endpoints that went away (default true; needs `conntrack`). */
  clearConntrack?: boolean;
  /** Told the timings of each successful sync (benchmarks, debugging). */
  onSynced?: (t: SyncTimings) => void;
}

/** Where one sync spent its time, in ms. */
export interface SyncTimings {
  /** Turning informer objects into the proxy state (only changed Services are rebuilt). */
  stateMs: number;
  /** Rendering the transaction (nft) or the restore input (iptables). */
  renderMs: number;
  /** Running the transaction: nft or iptables-restore, to its answer. */
  applyMs: number;
  /** Lines in the nft transaction (0 when nothing changed; iptables: 0). */
  lines: number;
}

/** A started proxy. */
export interface RunningProxy {
  /** Which backend programs the rules. */
  readonly mode: 'nftables' | 'iptables';
  readonly metrics: Registry;
  /** Apply the current informer state now (waits for a sync already running). Rejects when applying fails. */
  sync(): Promise<void>;
  /** Stop watching and remove every rule the proxy made. */
  stop(): Promise<void>;
  /** The state of the last successful sync (for tests and debugging). */
  lastState(): ProxyState | undefined;
}

/** Scripts larger than this (full syncs) go through a one-shot `nft -f -` rather than the session. */
const SESSION_MAX_SCRIPT = 256 << 10;

/** Upstream's buckets for the sync duration: 1 ms doubling to about 16 s. */
const syncBuckets = Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i);

/** Start a proxy. Resolves once the informers have synced and the first rules are in place (or the first attempt failed). */
export async function startProxy(o: ProxyOptions): Promise<RunningProxy> {
  const mode = await pickMode(o.mode, o.netns);
  const minInterval = o.minSyncIntervalMs ?? 1000;
  const period = o.syncPeriodMs ?? 30_000;
  const metrics = o.metrics ?? new Registry();
  const duration = metrics.register(new Histogram('kubeproxy_sync_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds', [], syncBuckets));
  const lastTimestamp = metrics.register(new Gauge('kubeproxy_sync_proxy_rules_last_timestamp_seconds', 'The last time proxy rules were successfully synced'));
  const programming = metrics.register(
    new Histogram('kubeproxy_network_programming_duration_seconds', 'In Cluster Network Programming Latency in seconds', [], [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]),
  );
  const failures = metrics.register(new Counter('kubeproxy_sync_proxy_rules_failures_total', 'Syncs that failed to apply rules'));

  if (o.localhostNodePorts) await run('sysctl', ['-q', '-w', 'net.ipv4.conf.all.route_localnet=1'], { netns: o.netns });
  const ownFactory = !o.informers;
  const factory = o.informers ?? new SharedInformerFactory(o.client);
  const svcInf: SharedInformer<KObject> = factory.forResource(resources.services);
  const sliceInf: SharedInformer<KObject> = factory.forResource(resources.endpointslices);

  let stopped = false;
  let periodic: NodeJS.Timeout | undefined;
  // What the backend held after the last good sync; undefined forces a full replace.
  let nftPrev: NftSnapshot | undefined;
  const nftCache: NftRenderCache = new Map();
  // Small transactions go to a long-lived `nft -i`; after its process failed a few times, one-shot nft only.
  let session: NftSession | undefined = mode === 'nftables' ? new NftSession({ netns: o.netns }) : undefined;
  let sessionFailures = 0;
  // The periodic sync rewrites everything in place, repairing rules changed behind our back.
  let rewriteAll = false;
  let iptPrev: Set<string> | undefined;
  let applied: ProxyState | undefined;
  // Rebuilds only the Services whose objects changed since the last sync.
  const tracker = new ProxyStateTracker();

  // Trigger times (ms) of EndpointSlice changes not yet programmed, from the controller's annotation.
  let triggers: number[] = [];
  const noteTrigger = (oldObj: KObject | undefined, obj: KObject) => {
    const v = obj?.metadata?.annotations?.[TRIGGER_ANNOTATION];
    if (!v || v === oldObj?.metadata?.annotations?.[TRIGGER_ANNOTATION]) return;
    const t = Date.parse(v);
    if (!Number.isNaN(t)) triggers.push(t);
  };

  const synced = () => svcInf.hasSynced() && sliceInf.hasSynced();

  const applyNft = async (script: string): Promise<void> => {
    if (session && script.length <= SESSION_MAX_SCRIPT) {
      try {
        return await session.apply(script);
      } catch (e) {
        if (!(e instanceof NftSessionError)) throw e;
        // Unknown outcome: the caller's failure path forces a full sync. A new process next time.
        const giveUp = ++sessionFailures >= 3;
        log.warn(giveUp ? 'nft session failed again; using one-shot nft from now on' : 'nft session failed; starting another', { err: e.message });
        const s = session;
        session = giveUp ? undefined : new NftSession({ netns: o.netns });
        void s.close().catch(() => {});
        throw e;
      }
    }
    await run('nft', ['-f', '-'], { netns: o.netns, input: script });
  };

  const doSync = async (): Promise<void> => {
    const start = performance.now();
    // The changes this sync programs; later ones wait for the next.
    const pending = triggers;
    triggers = [];
    let tBuilt = 0;
    let tRendered = 0;
    let lines = 0;
    const state = tracker.build({
      getService: (key) => svcInf.indexer.getByKey(key),
      services: () => svcInf.indexer.list(),
      endpointSlices: () => sliceInf.indexer.list(),
      nodeName: o.nodeName,
      nodeIPs: o.nodeIPs,
      clusterCIDR: o.clusterCIDR,
      localhostNodePorts: o.localhostNodePorts,
    });
    tBuilt = performance.now();
    try {
      if (mode === 'nftables') {
        const { script, snapshot } = renderNft(state, { previous: nftPrev, rewriteAll, cache: nftCache, table: o.nftTable });
        rewriteAll = false;
        tRendered = performance.now();
        if (script) {
          lines = script.split('\n').length - 1;
          await applyNft(script);
        }
        nftPrev = snapshot;
      } else {
        let addJumps: IptablesJump[] = [];
        if (!iptPrev) {
          // First sync (or after a failure): learn what is there, in one read.
          const seen = parseIptablesSave(await run('iptables-save', [], { netns: o.netns }));
          iptPrev = seen.chains;
          addJumps = iptablesJumps().filter((j) => !seen.jumps.some((x) => x.table === j.table && x.chain === j.chain && x.args.join(' ') === j.args.join(' ')));
        }
        const input = renderIptablesRestore(state, { existing: iptPrev, addJumps });
        tRendered = performance.now();
        await run('iptables-restore', ['--noflush', '-w', '5'], { netns: o.netns, input });
        iptPrev = iptablesChains(state);
      }
    } catch (e) {
      // Whatever the kernel holds now, the next sync replaces it whole.
      nftPrev = undefined;
      iptPrev = undefined;
      triggers = pending.concat(triggers);
      failures.inc();
      throw e;
    }
    const done = Date.now();
    for (const t of pending) if (t <= done) programming.observe({}, (done - t) / 1000);
    const prevState = applied;
    applied = state;
    const secs = (performance.now() - start) / 1000;
    duration.observe({}, secs);
    lastTimestamp.set(Date.now() / 1000);
    const tApplied = performance.now();
    o.onSynced?.({ stateMs: tBuilt - start, renderMs: tRendered - tBuilt, applyMs: tApplied - tRendered, lines });
    log.debug('synced proxy rules', {
      mode,
      services: state.services.length,
      seconds: secs.toFixed(4),
      stateMs: (tBuilt - start).toFixed(1),
      renderMs: (tRendered - tBuilt).toFixed(1),
      applyMs: (tApplied - tRendered).toFixed(1),
      ...(mode === 'nftables' ? { lines } : {}),
    });
    if (o.clearConntrack !== false && prevState) await clearStaleUDP(prevState, state, o.netns);
  };

  // At once after a quiet spell, coalescing under bursts; never two syncs at a time.
  const runner = new BoundedRunner(() => (stopped ? Promise.resolve() : doSync()), {
    minIntervalMs: minInterval,
    onError: (e) => log.error('syncing proxy rules failed; retrying with a full sync', { mode, err: (e as Error).message }),
  });
  const schedule = () => {
    if (!stopped && synced()) runner.request();
  };
  const markService = (obj: unknown) => {
    const svc = objectFromTombstone(obj as KObject);
    tracker.mark(svc ? metaNamespaceKeyFunc(svc) : undefined);
  };
  const markSlice = (obj: unknown) => tracker.mark(sliceServiceKey(objectFromTombstone(obj as KObject)));

  const regs = [
    svcInf.addEventHandler({
      onAdd: (obj) => {
        markService(obj);
        schedule();
      },
      onUpdate: (oldObj, obj) => {
        markService(oldObj);
        markService(obj);
        schedule();
      },
      onDelete: (obj) => {
        markService(obj);
        schedule();
      },
    }),
    sliceInf.addEventHandler({
      onAdd: (obj, initial) => {
        if (!initial) noteTrigger(undefined, obj);
        markSlice(obj);
        schedule();
      },
      onUpdate: (oldObj, obj) => {
        noteTrigger(oldObj, obj);
        // The service-name label may have moved the slice to another Service.
        markSlice(oldObj);
        markSlice(obj);
        schedule();
      },
      onDelete: (obj) => {
        markSlice(obj);
        schedule();
      },
    }),
  ];
  factory.start();
  await factory.waitForCacheSync({ timeoutMs: 30_000 });
  if (synced()) {
    try {
      await runner.runNow();
    } catch (e) {
      log.error('first proxy sync failed; will retry', { mode, err: (e as Error).message });
    }
  } else {
    log.warn('informers not synced yet; rules follow once they are');
    // Handlers fire on the first list; schedule() then runs.
    const wait = setInterval(() => {
      if (stopped || synced()) {
        clearInterval(wait);
        schedule();
      }
    }, 200);
  }
  if (period > 0)
    periodic = setInterval(() => {
      rewriteAll = true;
      tracker.markAll();
      schedule();
    }, period);
  log.info('proxy started', { mode, node: o.nodeName, netns: o.netns ?? '' });

  return {
    mode,
    metrics,
    lastState: () => applied,
    async sync() {
      if (!synced()) await factory.waitForCacheSync({ timeoutMs: 30_000 });
      await runner.runNow();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (periodic) clearInterval(periodic);
      for (const r of regs) r.remove();
      await runner.stop();
      if (ownFactory) await factory.shutdown();
      try {
        if (mode === 'nftables') await run('nft', ['-f', '-'], { netns: o.netns, input: renderNftCleanup(o.nftTable) });
        else await cleanupIptables(o.netns);
      } catch (e) {
        log.error('removing proxy rules failed', { mode, err: (e as Error).message });
        throw e;
      } finally {
        await session?.close().catch(() => {});
      }
      log.info('proxy stopped; rules removed', { mode });
    },
  };
}

async function pickMode(mode: ProxyOptions['mode'], netns?: string): Promise<'nftables' | 'iptables'> {
  if (mode === 'iptables') return mode;
  if (await haveCommand('nft', ['--version'], netns)) return 'nftables';
  if (mode === 'nftables') throw new Error('proxy mode nftables: the nft command is missing');
  log.warn('nft is missing; using iptables');
  return 'iptables';
}

async function cleanupIptables(netns?: string): Promise<void> {
  const seen = parseIptablesSave(await run('iptables-save', [], { netns }));
  await run('iptables-restore', ['--noflush', '-w', '5'], { netns, input: renderIptablesCleanup(seen.chains, seen.jumps) });
}

/**
 * UDP has no connection end, so conntrack keeps sending a client to an endpoint that is gone (or
 * to the reject it met before the service had endpoints). Clear those entries, as upstream does.
 */
async function clearStaleUDP(before: ProxyState, after: ProxyState, netns?: string): Promise<void> {
  const key = (s: { namespace: string; name: string; portName: string; protocol: string }) => `${s.namespace}/${s.name}/${s.portName}/${s.protocol}`;
  const old = new Map(before.services.filter((s) => s.protocol === 'udp').map((s) => [key(s), s]));
  const jobs: string[][] = [];
  for (const s of after.services) {
    if (s.protocol !== 'udp') continue;
    const prev = old.get(key(s));
    if (!prev) continue;
    const cat = categorizeEndpoints(s);
    const nowEps = new Set([...cat.cluster, ...cat.local].map((e) => e.ip));
    const prevCat = categorizeEndpoints(prev);
    // Every way in: the ClusterIP, external and load-balancer IPs, and the NodePort.
    const dests = [...[s.clusterIP, ...s.externalIPs, ...s.loadBalancerIPs].map((ip) => ['--orig-dst', ip]), ...(s.nodePort ? [['--orig-port-dst', String(s.nodePort)]] : [])];
    if (!prevCat.hasAny && cat.hasAny) for (const d of dests) jobs.push(['-D', '-p', 'udp', ...d]);
    for (const e of new Set([...prevCat.cluster, ...prevCat.local].map((x) => x.ip))) {
      if (!nowEps.has(e)) for (const d of dests) jobs.push(['-D', '-p', 'udp', ...d, '--dst-nat', e]);
    }
  }
  const still = new Set(after.services.map(key));
  for (const [k, s] of old) if (!still.has(k) && categorizeEndpoints(s).hasAny) jobs.push(['-D', '-p', 'udp', '--orig-dst', s.clusterIP]);
  for (const args of jobs) {
    try {
      await run('conntrack', args, { netns, timeoutMs: 10_000 });
    } catch (e) {
      // Exit 1 means "nothing matched"; a missing tool is only worth a debug line.
      if (e instanceof CommandError && (e.notFound || e.code === 1)) continue;
      log.debug('conntrack cleanup failed', { err: (e as Error).message });
    }
  }
}

/**
 * Route the Service range to `lo` so the node's own traffic to ClusterIPs passes the route lookup
 * (it comes before OUTPUT DNAT; there is no dummy interface here). Idempotent. Brings `lo` up.
 */
export async function ensureServiceRoute(serviceCIDR: string, netns?: string): Promise<void> {
  await run('ip', ['link', 'set', 'lo', 'up'], { netns });
  await run('ip', ['route', 'replace', serviceCIDR, 'dev', 'lo'], { netns });
}

/** Remove the route {@link ensureServiceRoute} added; no error when it is gone. */
export async function removeServiceRoute(serviceCIDR: string, netns?: string): Promise<void> {
  try {
    await run('ip', ['route', 'del', serviceCIDR, 'dev', 'lo'], { netns });
  } catch (e) {
    if (e instanceof CommandError && /No such process|not exist/i.test(e.stderr)) return;
    throw e;
  }
}
