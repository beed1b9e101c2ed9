/**
 * The node agent for one node: registers the Node, keeps its Lease and status fresh, and runs the
 * pods bound to it through a CRI-shaped runtime (pod workers: sandbox, init containers in order,
 * containers, restarts with CrashLoopBackOff, graceful deletion), writing pod status through the
 * pods/status subresource only. Hollow nodes run this same class over the fake runtime.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StatusError } from '../api/errors.js';
import { logger, type Logger } from '../base/log.js';
import type { EventRecorder } from '../client/event-recorder.js';
import type { KObject, RestClient } from '../client/rest-client.js';
import { resources } from '../client/resources.js';
import { podResolvConf, type PodDNSResult } from './dns-config.js';
import { ProbeManager, type ProbeKind, type ProbeResult, type ProbeTarget } from './prober/index.js';
import { runLifecycleHook } from './lifecycle.js';
import { pullCredentials } from './image-credentials.js';
import { makeEnvironment, serviceEnvironment, type PodResources } from './envvars.js';
import { linuxContainerConfig, verifyRunAsNonRoot } from './container-linux.js';
import { MountError, VolumeManager } from './volumes/index.js';
import type { VolumeResources } from './volumes/volume-manager.js';
import { SharedInformer } from '../client/informer.js';
import type { PodSource } from './pod-source.js';
import { criLabels, HOSTPORT_RUNTIME_HANDLER, isNotFound, type ContainerConfig, type ContainerRuntime, type ContainerStatus, type PodSandboxConfig } from './runtime/runtime.js';
import { computePodStatus, latestByName, rfc3339, type PodRuntimeView } from './status.js';
import { StatusManager } from './status-manager.js';
import { Limiter, Ticker } from './timing.js';

/** The kubelet version every k8ts node reports. */
export const KUBELET_VERSION = 'v1.32.4-k8ts';
/** Namespace of node Leases. */
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/** Node resources; quantities as strings. */
export type ResourceList = Record<string, string>;

export interface KubeletOptions {
  client: RestClient;
  nodeName: string;
  runtime: ContainerRuntime;
  /** The pods bound to this node. */
  podSource: PodSource;
  /** InternalIP; also the pods' hostIP. */
  nodeIP: string;
  /** Set on the Node at registration when the cluster has none for it. */
  podCIDR?: string;
  capacity?: ResourceList;
  allocatable?: ResourceList;
  labels?: Record<string, string>;
  /** nodeInfo fields to override (osImage, kernelVersion, architecture...). */
  nodeInfo?: Record<string, string>;
  /** Lease renew interval, ms. Default 10 000 (upstream: a quarter of the 40 s lease). */
  heartbeatMs?: number;
  leaseDurationSeconds?: number;
  /** Delay before the first heartbeat after start, to stagger many nodes. Default 0. */
  heartbeatOffsetMs?: number;
  /** Node status is written at least this often even when unchanged, ms. Default 60 000. */
  nodeStatusReportMs?: number;
  /** CrashLoopBackOff: first delay and cap, ms. Defaults 10 000 and 300 000. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Relist period when the runtime streams no events (generic PLEG), ms. Default 1000. */
  relistMs?: number;
  /** Every pod is synced at least this often even without changes, ms. Default 10 000. */
  resyncMs?: number;
  /** Where containers' CRI logs go: `<dir>/<ns>_<pod>_<uid>/<container>/<attempt>.log`. Default /var/log/pods. */
  podLogsDir?: string;
  /** Cluster DNS servers written into pods' resolv.conf (dnsPolicy ClusterFirst). */
  clusterDNS?: string[];
  /** Default cluster.local. */
  clusterDomain?: string;
  /**
   * Called once the node's pod CIDR is known (from the Node, possibly assigned after registration),
   * before the runtime hears of it: the network plugin writes its CNI config here.
   */
  onPodCIDR?(cidr: string): Promise<void> | void;
  /** Kubelet events (Pulling, Started, Killing, BackOff...). Hollow nodes leave it out. */
  recorder?: EventRecorder;
  /** When an Always pull fails but the image is present, run the local copy (offline nodes). Default true. */
  pullFallbackToLocal?: boolean;
  /** The node's resolv.conf, for dnsPolicy Default and the cluster DNS's search fallbacks. Default /etc/resolv.conf. */
  resolvConf?: string;
  /**
   * The kubelet's own directory (volumes under `pods/<uid>/volumes`). Real nodes set it; without it
   * (hollow nodes) volumes, the environment from ConfigMaps/Secrets/Services and cgroup limits are skipped.
   */
  rootDir?: string;
  /**
   * Back secret, projected and downward API volumes with tmpfs, as upstream (needs root, as a real
   * node has). Default: true when running as root.
   */
  volumesOnTmpfs?: boolean;
  /** The port the kubelet's HTTPS server (exec, logs, port-forward) listens on, for the Node status. Default 10250. */
  kubeletPort?: number;
  /** Multiplies probe periods and delays (tests). Default 1. */
  probePeriodScale?: number;
  /** Shared timers, request limit and status writer (hollow nodes share one of each). */
  ticker?: Ticker;
  limiter?: Limiter;
  statusManager?: StatusManager;
}

interface Backoff {
  delayMs: number;
  until: number;
  /** The BackOff event for this delay was recorded. */
  announced?: boolean;
}

interface PodRecord {
  pod: KObject;
  uid: string;
  sandboxId?: string;
  podIP?: string;
  startTime: string;
  backoff?: Map<string, Backoff>;
  waiting?: Record<string, { reason: string; message?: string }>;
  wake?: () => void;
  working: boolean;
  again: boolean;
  removed: boolean;
  killed: boolean;
  deleteSent: boolean;
  finished: boolean;
  /** When the pod's volumes were last set up or refreshed (ms). */
  volumesAt?: number;
  /** /etc/hosts written for the sandbox's IPs. */
  hostsFile?: string;
  /** The runtime's containers as last seen, for streaming (exec, logs) lookups. */
  lastView?: PodRuntimeView;
  /** When the pod's worker last ran (ms). */
  syncedAt?: number;
  /** {@link syncSignature} of the pod as last handed to the worker. */
  syncSig?: string;
}

/**
 * What an update of a pod must change for its worker to run again. As upstream's pod config
 * source, status-only updates (mostly the kubelet's own status patches coming back) do not start a
 * sync: the relist and the periodic resync catch the runtime's side. Readiness-gate conditions,
 * which others set in the status, do count.
 */
function syncSignature(pod: KObject): string {
  const m = pod.metadata ?? {};
  const gates = pod.spec?.readinessGates?.length ? pod.status?.conditions : undefined;
  return JSON.stringify([m.labels, m.annotations, m.deletionTimestamp, m.deletionGracePeriodSeconds, pod.spec, gates]);
}

const defaultCapacity: ResourceList = {
  cpu: '8',
  memory: '32929100Ki',
  'ephemeral-storage': '102687672Ki',
  pods: '110',
  'hugepages-1Gi': '0',
  'hugepages-2Mi': '0',
};
const defaultAllocatable: ResourceList = {
  cpu: '8',
  memory: '32826700Ki',
  'ephemeral-storage': '94636938640',
  pods: '110',
  'hugepages-1Gi': '0',
  'hugepages-2Mi': '0',
};

/** MicroTime: RFC 3339 with microseconds, as Lease renewTime is written. */
export function microTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

const isCode = (e: unknown, ...codes: number[]) => e instanceof StatusError && codes.includes(e.code);

/** One node's agent. */
export class Kubelet {
  readonly nodeName: string;
  private readonly o: KubeletOptions;
  private readonly log: Logger;
  private readonly ticker: Ticker;
  private readonly ownsTicker: boolean;
  private readonly limiter: Limiter;
  /** The hostPort runtime handler (see runSandbox); cleared when the runtime lacks it. */
  private hostPortHandler: string | undefined = HOSTPORT_RUNTIME_HANDLER;
  private readonly status: StatusManager;
  private readonly pods = new Map<string, PodRecord>();
  private readonly bySandbox = new Map<string, PodRecord>();
  private cancels: (() => void)[] = [];
  private nodeUID = '';
  private leaseRV = '';
  private podCIDR = '';
  private runtimeName = 'unknown';
  private runtimeVersion = '';
  private lastStatusReport = 0;
  private lastReady?: string;
  private readyTransition = '';
  private stopped = false;
  private bootID = randomUUID();
  /** Sandboxes found in the runtime at start, by pod UID: a restarted kubelet adopts them. */
  private readonly adoptable = new Map<string, string>();
  private podCIDRPoll?: () => void;
  private hostResolv?: string;
  private relisting = false;
  private readonly workers = new Set<Promise<void>>();
  /** Sandbox ID → its runtime state at the last relist. */
  private lastRelist = new Map<string, string>();
  private readonly prober?: ProbeManager;
  private readonly volumes?: VolumeManager;
  private readonly resources?: VolumeResources;
  private services?: SharedInformer<KObject>;
  /** Counters, for tests. */
  readonly stats = { leaseRenewals: 0, nodeStatusUpdates: 0, podSyncs: 0, podDeletes: 0, errors: 0 };

  constructor(opts: KubeletOptions) {
    this.o = opts;
    this.nodeName = opts.nodeName;
    this.log = logger('kubelet', { node: opts.nodeName });
    this.ownsTicker = !opts.ticker;
    this.ticker = opts.ticker ?? new Ticker();
    this.limiter = opts.limiter ?? new Limiter(16);
    this.status = opts.statusManager ?? new StatusManager(opts.client, this.limiter, this.ticker);
    if (opts.rootDir) {
      const c = opts.client;
      const getOrUndefined = (ref: typeof resources.configmaps) => async (ns: string, name: string) => {
        try {
          return await this.limiter.run(() => c.get(ref, ns, name));
        } catch (e) {
          if (isCode(e, 404)) return undefined;
          throw e;
        }
      };
      this.resources = {
        getConfigMap: getOrUndefined(resources.configmaps),
        getSecret: getOrUndefined(resources.secrets),
        getPersistentVolumeClaim: getOrUndefined(resources.persistentvolumeclaims),
        getPersistentVolume: (name) => getOrUndefined(resources.persistentvolumes)('', name),
        // Projected service account tokens, bound to the pod (TokenRequest).
        requestToken: async (ns, sa, req) => {
          const spec: KObject = { expirationSeconds: req.expirationSeconds, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: req.boundPod.name, uid: req.boundPod.uid } };
          if (req.audiences?.length) spec.audiences = req.audiences;
          const tr = await this.limiter.run(() => c.createSubresource(resources.serviceaccounts, ns, sa, 'token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec }));
          return { token: tr.status?.token, expirationTimestamp: tr.status?.expirationTimestamp };
        },
      };
      this.volumes = new VolumeManager({ rootDir: opts.rootDir, resources: this.resources, nodeName: opts.nodeName, clusterDomain: opts.clusterDomain, allocatable: opts.allocatable ?? opts.capacity, tmpfsForSecrets: opts.volumesOnTmpfs ?? process.getuid?.() === 0, bindSubPaths: process.getuid?.() === 0 });
      this.services = new SharedInformer<KObject>({ client: c, ref: resources.services }, { name: `services@${opts.nodeName}` });
    }
    const rt = opts.runtime;
    if (rt.execSync) {
      this.prober = new ProbeManager({
        execSync: (id, cmd, timeout) => rt.execSync!(id, cmd, timeout),
        onResult: (t, kind, result) => this.probeResult(t, kind, result),
        onEvent: (t, _kind, e) => {
          const rec = this.pods.get(t.podUID);
          if (rec) this.event(rec, t.container.name, e.type, e.reason, e.message);
        },
        ticker: this.ticker,
        periodScale: opts.probePeriodScale,
      });
    }
  }

  /** Readiness changes the pod's status; a failed liveness or startup probe restarts the container. */
  private probeResult(t: ProbeTarget, kind: ProbeKind, result: ProbeResult): void {
    const rec = this.pods.get(t.podUID);
    if (!rec || this.stopped) return;
    if ((kind === 'liveness' || kind === 'startup') && result === 'failure') {
      const name: string = t.container.name;
      const probe = t.container[kind === 'liveness' ? 'livenessProbe' : 'startupProbe'] ?? {};
      const grace = probe.terminationGracePeriodSeconds ?? rec.pod.spec?.terminationGracePeriodSeconds ?? 30;
      this.event(rec, name, 'Normal', 'Killing', `Container ${name} failed ${kind} probe, will be restarted`);
      this.prober?.removeContainer(t.containerId);
      void this.o.runtime
        .stopContainer(t.containerId, grace)
        .catch((e) => (isNotFound(e) ? undefined : this.fail(`stopping container ${name}`, e)))
        .then(() => this.kick(rec));
      return;
    }
    this.kick(rec);
  }

  /** Probes follow the running containers of the view: new ones are added, exited ones dropped. */
  private syncProbes(rec: PodRecord, view: PodRuntimeView): void {
    const p = this.prober;
    if (!p) return;
    const specs = new Map<string, KObject>((rec.pod.spec?.containers ?? []).map((c: KObject) => [c.name, c]));
    for (const c of view.containers) {
      const name = c.labels[criLabels.containerName] ?? c.metadata.name;
      const spec = specs.get(name);
      if (c.state === 'CONTAINER_RUNNING' && spec && (spec.livenessProbe || spec.readinessProbe || spec.startupProbe)) {
        p.addContainer({ podUID: rec.uid, podName: rec.pod.metadata.name, namespace: rec.pod.metadata.namespace, podIP: rec.podIP ?? '', container: spec, containerId: c.id, startedAtMs: c.startedAt / 1e6 });
      } else if (c.state !== 'CONTAINER_RUNNING') {
        p.removeContainer(c.id);
      }
    }
  }

  /** The pod CIDR in use (from the Node, or the option). */
  get nodePodCIDR(): string {
    return this.podCIDR;
  }

  /** Register the node, take the lease, and start handling pods. Resolves once registered. */
  async start(): Promise<void> {
    const v = await this.o.runtime.version();
    this.runtimeName = v.runtimeName;
    this.runtimeVersion = v.runtimeVersion;
    this.services?.start();
    this.volumes?.prepare();
    await this.findAdoptableSandboxes();
    await this.register();
    await this.limiter.run(() => this.renewLease()).catch((e) => this.fail('lease', e));
    const hb = this.o.heartbeatMs ?? 10_000;
    this.cancels.push(this.ticker.every(hb, () => void this.heartbeat(), (this.o.heartbeatOffsetMs ?? 0) % hb || hb));
    if (this.o.runtime.watchContainerEvents) {
      this.cancels.push(
        this.o.runtime.watchContainerEvents((ev) => {
          const rec = this.bySandbox.get(ev.podSandboxId);
          if (rec) this.kick(rec);
        }),
      );
    } else {
      this.cancels.push(this.ticker.every(this.o.relistMs ?? 1000, () => void this.relist()));
    }
    this.cancels.push(this.o.podSource.subscribe(this.nodeName, { podChanged: (p) => this.podChanged(p), podRemoved: (p) => this.podRemoved(p) }));
  }

  /** The newest ready sandbox of each pod UID in the runtime. */
  private async findAdoptableSandboxes(): Promise<void> {
    const found = new Map<string, { id: string; createdAt: number }>();
    for (const sb of await this.o.runtime.listPodSandbox({ state: 'SANDBOX_READY' })) {
      const uid = sb.labels[criLabels.podUID] ?? sb.metadata.uid;
      const prev = found.get(uid);
      if (!prev || prev.createdAt < sb.createdAt) found.set(uid, { id: sb.id, createdAt: sb.createdAt });
    }
    for (const [uid, sb] of found) this.adoptable.set(uid, sb.id);
    if (found.size) this.log.info('adopting running pod sandboxes', { count: found.size });
  }

  /**
   * Stop timers and watches, and wait (bounded) for pod workers mid-call, so that whoever cleans up
   * the runtime after us sees every sandbox. Containers keep running, as when a real kubelet exits.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    const settled = Promise.allSettled([...this.workers]);
    await Promise.race([settled, new Promise((r) => setTimeout(r, 30_000).unref())]);
    this.podCIDRPoll?.();
    this.prober?.stop();
    await this.services?.stop();
    for (const c of this.cancels.splice(0)) c();
    for (const rec of this.pods.values()) rec.wake?.();
    if (this.ownsTicker) this.ticker.stop();
    await this.volumes?.close();
  }

  /** Pods this kubelet is handling. */
  get podCount(): number {
    return this.pods.size;
  }

  // ---- node ----

  private nodeConditions(runtimeReady: boolean, reason: string, now: string): KObject[] {
    const ready = runtimeReady ? 'True' : 'False';
    if (ready !== this.lastReady) {
      this.lastReady = ready;
      this.readyTransition = now;
    }
    const cond = (type: string, status: string, r: string, message: string, transition: string) => ({ type, status, lastHeartbeatTime: now, lastTransitionTime: transition, reason: r, message });
    const since = this.readyTransition;
    return [
      cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available', since),
      cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure', since),
      cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available', since),
      runtimeReady ? cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status', since) : cond('Ready', 'False', 'KubeletNotReady', reason, since),
    ];
  }

  private async runtimeReadiness(): Promise<{ ok: boolean; reason: string }> {
    try {
      const st = await this.o.runtime.status();
      const bad = st.conditions.filter((c) => (c.type === 'RuntimeReady' || c.type === 'NetworkReady') && !c.status);
      if (!bad.length) return { ok: true, reason: '' };
      return { ok: false, reason: bad.map((c) => `container runtime ${c.type === 'NetworkReady' ? 'network ' : ''}not ready: ${c.type}=false reason:${c.reason ?? ''} message:${c.message ?? ''}`).join(', ') };
    } catch (e) {
      return { ok: false, reason: `container runtime status check may not have completed yet: ${(e as Error).message}` };
    }
  }

  private async nodeStatus(): Promise<KObject> {
    const now = rfc3339();
    const r = await this.runtimeReadiness();
    return {
      capacity: this.o.capacity ?? defaultCapacity,
      allocatable: this.o.allocatable ?? this.o.capacity ?? defaultAllocatable,
      conditions: this.nodeConditions(r.ok, r.reason, now),
      addresses: [
        { type: 'InternalIP', address: this.o.nodeIP },
        { type: 'Hostname', address: this.nodeName },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: this.o.kubeletPort ?? 10250 } },
      nodeInfo: {
        machineID: this.bootID.replace(/-/g, ''),
        systemUUID: this.bootID,
        bootID: this.bootID,
        kernelVersion: '6.1.0-k8ts',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        containerRuntimeVersion: `${this.runtimeName}://${this.runtimeVersion}`,
        kubeletVersion: KUBELET_VERSION,
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
        ...this.o.nodeInfo,
      },
    };
  }

  private async register(): Promise<void> {
    const labels = {
      'kubernetes.io/hostname': this.nodeName,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': this.o.nodeInfo?.architecture ?? 'amd64',
      'beta.kubernetes.io/os': 'linux',
      'beta.kubernetes.io/arch': this.o.nodeInfo?.architecture ?? 'amd64',
      ...this.o.labels,
    };
    const spec: KObject = this.o.podCIDR ? { podCIDR: this.o.podCIDR, podCIDRs: [this.o.podCIDR] } : {};
    if (this.o.podCIDR) {
      // A range of its own choosing: the network is set up before the first status is written.
      await this.o.onPodCIDR?.(this.o.podCIDR);
      await this.o.runtime.updateRuntimeConfig({ podCIDR: this.o.podCIDR });
      this.podCIDR = this.o.podCIDR;
    }
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: this.nodeName, labels, annotations: { 'node.alpha.kubernetes.io/ttl': '0' } }, spec, status: await this.nodeStatus() };
    let got: KObject;
    try {
      got = await this.limiter.run(() => this.o.client.create(resources.nodes, undefined, node));
    } catch (e) {
      if (!isCode(e, 409)) throw e;
      // Registered before (a restart): reuse it and refresh its status.
      got = await this.limiter.run(() => this.o.client.get(resources.nodes, '', this.nodeName));
      // Upstream's default labels are reconciled on an existing Node (it may have been pre-created).
      const missing = Object.entries(labels).filter(([k, v]) => got.metadata.labels?.[k] !== v);
      const wantSpec = !got.spec?.podCIDR && this.o.podCIDR;
      if (missing.length || wantSpec) {
        const patch: KObject = {};
        if (missing.length) patch.metadata = { labels: Object.fromEntries(missing) };
        if (wantSpec) patch.spec = spec;
        got = await this.limiter.run(() => this.o.client.patch(resources.nodes, undefined, this.nodeName, patch, 'strategic'));
      }
      await this.limiter.run(() => this.o.client.patch(resources.nodes, undefined, this.nodeName, { status: node.status }, 'strategic', { subresource: 'status' }));
    }
    this.nodeUID = got.metadata.uid;
    this.lastStatusReport = Date.now();
    const cidr = got.spec?.podCIDR ?? this.o.podCIDR ?? '';
    if (cidr && cidr !== this.podCIDR) await this.usePodCIDR(cidr);
    else if (cidr) this.watchReadiness();
    else this.waitForPodCIDR();
    this.log.debug('node registered', { podCIDR: this.podCIDR });
  }

  /** The network becomes ready with the node's range: the CNI config first, then the runtime. */
  private async usePodCIDR(cidr: string): Promise<void> {
    await this.o.onPodCIDR?.(cidr);
    await this.o.runtime.updateRuntimeConfig({ podCIDR: cidr });
    this.podCIDR = cidr;
    await this.reportNodeStatus();
    this.watchReadiness();
  }

  /** The runtime's network turns ready shortly after the CNI config lands: report it then, not at the next heartbeat. */
  private watchReadiness(tries = 40): void {
    if (this.stopped || tries <= 0 || this.lastReady === 'True') return;
    this.ticker.after(250, () => {
      void this.runtimeReadiness().then(async (r) => {
        if (r.ok) await this.reportNodeStatus().catch((e) => this.fail('node status', e));
        else this.watchReadiness(tries - 1);
      });
    });
  }

  /** The node IPAM controller assigns the range after registration: poll the Node until it has one. */
  private waitForPodCIDR(): void {
    const poll = async () => {
      if (this.stopped || this.podCIDR) return;
      try {
        const node = await this.o.client.get(resources.nodes, '', this.nodeName);
        if (node.spec?.podCIDR) {
          this.log.info('pod CIDR assigned', { podCIDR: node.spec.podCIDR });
          await this.usePodCIDR(node.spec.podCIDR);
          for (const rec of this.pods.values()) this.kick(rec);
          return;
        }
      } catch (e) {
        this.fail('reading the node for its pod CIDR', e);
      }
      this.podCIDRPoll = this.ticker.after(500, () => void poll());
    };
    this.podCIDRPoll = this.ticker.after(200, () => void poll());
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.limiter.run(() => this.renewLease());
    } catch (e) {
      this.fail('lease renewal', e);
    }
    // Status: on change at once, otherwise every nodeStatusReportMs.
    try {
      const r = await this.runtimeReadiness();
      const changed = (r.ok ? 'True' : 'False') !== this.lastReady;
      if (changed || Date.now() - this.lastStatusReport >= (this.o.nodeStatusReportMs ?? 60_000)) await this.reportNodeStatus();
    } catch (e) {
      this.fail('node status', e);
    }
  }

  /** Write the node status now. */
  async reportNodeStatus(): Promise<void> {
    const status = await this.nodeStatus();
    await this.limiter.run(() => this.o.client.patch(resources.nodes, undefined, this.nodeName, { status }, 'strategic', { subresource: 'status' }));
    this.lastStatusReport = Date.now();
    this.stats.nodeStatusUpdates++;
  }

  private leaseObject(): KObject {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.nodeName,
        namespace: NODE_LEASE_NAMESPACE,
        ...(this.leaseRV ? { resourceVersion: this.leaseRV } : {}),
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.nodeName, uid: this.nodeUID }],
      },
      spec: { holderIdentity: this.nodeName, leaseDurationSeconds: this.o.leaseDurationSeconds ?? 40, renewTime: microTime() },
    };
  }

  /** Create or renew the node Lease (PUT from the last resourceVersion; re-read on conflict). */
  async renewLease(): Promise<void> {
    const c = this.o.client;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const out = this.leaseRV ? await c.update(resources.leases, this.leaseObject()) : await c.create(resources.leases, NODE_LEASE_NAMESPACE, this.leaseObject());
        this.leaseRV = out.metadata.resourceVersion;
        this.stats.leaseRenewals++;
        return;
      } catch (e) {
        if (isCode(e, 409) && !this.leaseRV) {
          this.leaseRV = (await c.get(resources.leases, NODE_LEASE_NAMESPACE, this.nodeName)).metadata.resourceVersion;
        } else if (isCode(e, 409)) {
          this.leaseRV = (await c.get(resources.leases, NODE_LEASE_NAMESPACE, this.nodeName).catch(() => ({ metadata: { resourceVersion: '' } }))).metadata.resourceVersion;
        } else if (isCode(e, 404)) {
          this.leaseRV = '';
        } else throw e;
      }
    }
  }

  private fail(what: string, e: unknown): void {
    this.stats.errors++;
    if (!this.stopped) this.log.warn(`${what} failed`, { err: e });
  }

  // ---- pods ----

  private podChanged(pod: KObject): void {
    const uid: string = pod.metadata.uid;
    let rec = this.pods.get(uid);
    if (!rec) {
      rec = { pod, uid, startTime: pod.status?.startTime ?? rfc3339(), working: false, again: false, removed: false, killed: false, deleteSent: false, finished: false };
      this.pods.set(uid, rec);
      const adopted = this.adoptable.get(uid);
      if (adopted) {
        this.adoptable.delete(uid);
        rec.sandboxId = adopted;
        this.bySandbox.set(adopted, rec);
      }
    }
    rec.pod = pod;
    const sig = syncSignature(pod);
    if (sig === rec.syncSig) return;
    rec.syncSig = sig;
    this.kick(rec);
  }

  private podRemoved(pod: KObject): void {
    const rec = this.pods.get(pod.metadata.uid);
    if (!rec) return;
    rec.pod = pod;
    rec.removed = true;
    this.kick(rec);
  }

  /**
   * Generic PLEG: one listing of the node's sandboxes and containers per period; only pods whose
   * runtime state changed are woken, plus a periodic resync (volumes refresh, missed changes).
   */
  private async relist(): Promise<void> {
    if (this.relisting || this.stopped) return;
    this.relisting = true;
    try {
      const rt = this.o.runtime;
      const [sandboxes, containers] = await Promise.all([rt.listPodSandbox(), rt.listContainers()]);
      const state = new Map<string, string[]>();
      for (const sb of sandboxes) state.set(sb.id, [sb.state]);
      for (const c of containers) (state.get(c.podSandboxId) ?? state.set(c.podSandboxId, []).get(c.podSandboxId)!).push(`${c.id}:${c.state}`);
      const now = Date.now();
      const resyncMs = this.o.resyncMs ?? 10_000;
      const seen = new Map<string, string>();
      for (const rec of this.pods.values()) {
        if (!rec.sandboxId || rec.finished) continue;
        const sig = (state.get(rec.sandboxId) ?? ['gone']).sort().join('|');
        seen.set(rec.sandboxId, sig);
        if (this.lastRelist.get(rec.sandboxId) !== sig || now - (rec.syncedAt ?? 0) > resyncMs) this.kick(rec);
      }
      this.lastRelist = seen;
    } catch (e) {
      this.fail('relisting the runtime', e);
    } finally {
      this.relisting = false;
    }
  }

  /** Run the pod's worker, or make the running one go round once more. */
  private kick(rec: PodRecord): void {
    if (this.stopped) return;
    if (rec.working) {
      rec.again = true;
      return;
    }
    rec.working = true;
    const worker = (async () => {
      do {
        rec.again = false;
        try {
          await this.syncPod(rec);
        } catch (e) {
          this.fail(`sync of pod ${rec.pod.metadata.namespace}/${rec.pod.metadata.name}`, e);
          if (!rec.removed && !this.stopped) this.schedule(rec, 1000);
        }
      } while (rec.again && !this.stopped);
      rec.working = false;
    })();
    this.workers.add(worker);
    void worker.finally(() => this.workers.delete(worker));
  }

  private schedule(rec: PodRecord, ms: number): void {
    rec.wake?.();
    rec.wake = this.ticker.after(ms, () => {
      rec.wake = undefined;
      this.kick(rec);
    });
  }

  /** resolv.conf for the pod, by dnsPolicy (ClusterFirst unless told otherwise), with upstream's limits. */
  private podDNS(pod: KObject): PodDNSResult {
    if (this.hostResolv === undefined) {
      try {
        this.hostResolv = readFileSync(this.o.resolvConf ?? '/etc/resolv.conf', 'utf8');
      } catch {
        this.hostResolv = '';
      }
    }
    const spec = pod.spec ?? {};
    return podResolvConf(this.o.clusterDNS ?? [], pod.metadata.namespace, this.o.clusterDomain ?? 'cluster.local', spec.dnsPolicy, spec.dnsConfig, this.hostResolv, !!spec.hostNetwork, [this.o.nodeIP]);
  }

  /**
   * RunPodSandbox. A pod with hostPorts asks for the runtime handler whose CNI chain has portmap;
   * a runtime without that handler (not k8ts' own containerd) gets the default one from then on.
   */
  private async runSandbox(pod: KObject): Promise<string> {
    const config = this.sandboxConfig(pod);
    const handler = config.portMappings?.length ? this.hostPortHandler : undefined;
    if (!handler) return this.o.runtime.runPodSandbox(config);
    try {
      return await this.o.runtime.runPodSandbox(config, handler);
    } catch (e) {
      // containerd: `no runtime for "<handler>" is configured`.
      if (!/no runtime for/i.test(String((e as { details?: string }).details ?? (e as Error).message))) throw e;
      this.log.info('the runtime has no hostPort handler: using its default network for hostPorts', { handler });
      this.hostPortHandler = undefined;
      return this.o.runtime.runPodSandbox(config);
    }
  }

  private sandboxConfig(pod: KObject): PodSandboxConfig {
    const m = pod.metadata;
    const spec = pod.spec ?? {};
    const ports = (spec.containers ?? []).flatMap((c: KObject) => (c.ports ?? []).filter((p: KObject) => p.hostPort).map((p: KObject) => ({ protocol: p.protocol ?? 'TCP', containerPort: p.containerPort, hostPort: p.hostPort, hostIp: p.hostIP })));
    return {
      metadata: { name: m.name, namespace: m.namespace, uid: m.uid, attempt: 0 },
      // A host-network pod shares the node's UTS namespace: the runtime may not set its hostname.
      ...(spec.hostNetwork ? {} : { hostname: spec.hostname ?? m.name }),
      logDirectory: join(this.o.podLogsDir ?? '/var/log/pods', `${m.namespace}_${m.name}_${m.uid}`),
      dnsConfig: (({ servers, searches, options }) => ({ servers, searches, options }))(this.podDNS(pod)),
      portMappings: ports,
      labels: { [criLabels.podName]: m.name, [criLabels.podNamespace]: m.namespace, [criLabels.podUID]: m.uid },
      annotations: { ...m.annotations, [criLabels.restartPolicy]: spec.restartPolicy ?? 'Always' },
      linux: { securityContext: { namespaceOptions: { network: spec.hostNetwork ? 'NODE' : 'POD', pid: spec.hostPID ? 'NODE' : spec.shareProcessNamespace ? 'POD' : 'CONTAINER', ipc: spec.hostIPC ? 'NODE' : 'POD' } } },
    };
  }

  private containerConfig(pod: KObject, c: KObject, attempt: number, init: boolean): ContainerConfig {
    const m = pod.metadata;
    return {
      metadata: { name: c.name, attempt },
      image: { image: c.image },
      command: c.command,
      args: c.args,
      workingDir: c.workingDir,
      envs: (c.env ?? []).filter((e: KObject) => e.value !== undefined).map((e: KObject) => ({ key: e.name, value: String(e.value) })),
      labels: { [criLabels.podName]: m.name, [criLabels.podNamespace]: m.namespace, [criLabels.podUID]: m.uid, [criLabels.containerName]: c.name },
      annotations: {
        [criLabels.containerRestartCount]: String(attempt),
        [criLabels.podTerminationGracePeriod]: String(pod.spec?.terminationGracePeriodSeconds ?? 30),
        ...(init ? { [criLabels.containerType]: 'init' } : {}),
      },
      logPath: this.containerLogPath(c.name, attempt),
      stdin: !!c.stdin,
      stdinOnce: !!c.stdinOnce,
      tty: !!c.tty,
    };
  }

  private async view(rec: PodRecord): Promise<PodRuntimeView> {
    const rt = this.o.runtime;
    if (!rec.sandboxId) return { containers: [] };
    let sandbox;
    try {
      sandbox = await rt.podSandboxStatus(rec.sandboxId);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      return { containers: [] };
    }
    const list = await rt.listContainers({ podSandboxId: rec.sandboxId });
    const containers: ContainerStatus[] = [];
    for (const c of list) {
      try {
        containers.push(await rt.containerStatus(c.id));
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    return { sandbox, containers };
  }

  /**
   * Where a pod's containers are, for the streaming server: the latest and previous attempt of
   * each container, with their CRI log files.
   */
  streamTarget(namespace: string, name: string): { uid: string; sandboxId: string; containers: { name: string; id: string; previousId?: string; logPath: string; previousLogPath?: string }[] } | undefined {
    let rec: PodRecord | undefined;
    for (const r of this.pods.values()) if (r.pod.metadata.namespace === namespace && r.pod.metadata.name === name && !r.removed) rec = r;
    if (!rec?.sandboxId) return undefined;
    const m = rec.pod.metadata;
    const dir = join(this.o.podLogsDir ?? '/var/log/pods', `${m.namespace}_${m.name}_${m.uid}`);
    const logOf = (c: ContainerStatus) => join(dir, this.containerLogPath(c.labels[criLabels.containerName] ?? c.metadata.name, c.metadata.attempt));
    const containers = [...latestByName(rec.lastView?.containers ?? [])].map(([cname, e]) => ({
      name: cname,
      id: e.latest.id,
      logPath: logOf(e.latest),
      ...(e.previous ? { previousId: e.previous.id, previousLogPath: logOf(e.previous) } : {}),
    }));
    return { uid: rec.uid, sandboxId: rec.sandboxId, containers };
  }

  private containerLogPath(container: string, attempt: number): string {
    return `${container}/${attempt}.log`;
  }

  private writeStatus(rec: PodRecord, view: PodRuntimeView, terminating: boolean): KObject {
    rec.lastView = view;
    if (view.sandbox?.network?.ip) rec.podIP = view.sandbox.network.ip;
    const status = computePodStatus(rec.pod, view, {
      hostIP: this.o.nodeIP,
      runtimeName: this.runtimeName,
      now: rfc3339(),
      startTime: rec.startTime,
      podIP: rec.podIP,
      waiting: rec.waiting,
      terminating,
      probes: this.prober,
    });
    this.status.set(rec.pod, status);
    return status;
  }

  private async syncPod(rec: PodRecord): Promise<void> {
    this.stats.podSyncs++;
    rec.syncedAt = Date.now();
    const rt = this.o.runtime;
    const pod = rec.pod;
    if (rec.removed) {
      await this.teardown(rec);
      return;
    }
    if (pod.metadata.deletionTimestamp) {
      await this.terminate(rec);
      return;
    }
    const apiPhase = pod.status?.phase;
    if (rec.finished || (!rec.sandboxId && (apiPhase === 'Succeeded' || apiPhase === 'Failed'))) return;

    if (this.volumes && !(await this.mountVolumes(rec))) return;
    if (!rec.sandboxId) {
      for (const w of this.podDNS(pod).warnings) this.event(rec, undefined, 'Warning', w.reason, w.message);
      const id = await this.runSandbox(pod);
      rec.sandboxId = id;
      this.bySandbox.set(id, rec);
    }
    let view = await this.view(rec);
    if (view.sandbox?.state !== 'SANDBOX_READY') {
      // The sandbox died under us: the pod cannot continue (upstream would recreate; fake never does this).
      rec.finished = true;
      this.writeStatus(rec, view, true);
      return;
    }
    rec.waiting = undefined;
    // The pod IP feeds the environment, /etc/hosts and probes of the containers about to start.
    if (view.sandbox?.network?.ip) rec.podIP = view.sandbox.network.ip;
    const acted = await this.computeActions(rec, view);
    if (acted) view = await this.view(rec);
    // A container started for attach is reported once it has ended, or after ATTACH_SETTLE_MS.
    for (let wait = acted ? attachSettleMs(pod, view) : 0; wait > 0; wait = attachSettleMs(pod, view)) {
      await new Promise((r) => setTimeout(r, Math.min(wait, 50)));
      view = await this.view(rec);
    }
    if (view.sandbox?.network?.ip) rec.podIP = view.sandbox.network.ip;
    this.syncProbes(rec, view);
    const status = this.writeStatus(rec, view, false);
    if (status.phase === 'Succeeded' || status.phase === 'Failed') {
      rec.finished = true;
      await rt.stopPodSandbox(rec.sandboxId!);
    }
  }

  /**
   * Volumes are set up before the sandbox and refreshed now and then (ConfigMap and Secret changes
   * reach running containers). False when they cannot be: FailedMount, and a retry.
   */
  private async mountVolumes(rec: PodRecord): Promise<boolean> {
    const vm = this.volumes!;
    const now = Date.now();
    if (rec.volumesAt && now - rec.volumesAt < 10_000) return true;
    try {
      if (rec.volumesAt) await vm.refresh(rec.pod);
      else await vm.setUpPod(rec.pod);
      rec.volumesAt = now;
      return true;
    } catch (e) {
      if (!(e instanceof MountError)) throw e;
      if (rec.volumesAt) {
        // Already running: keep the old content, say why, and try again later.
        this.event(rec, undefined, 'Warning', 'FailedMount', e.message);
        rec.volumesAt = now;
        return true;
      }
      this.event(rec, undefined, 'Warning', 'FailedMount', e.message);
      this.writeStatus(rec, { containers: [] }, false);
      this.schedule(rec, 2000);
      return false;
    }
  }

  /** Start what should run next; true when something was started. */
  private async computeActions(rec: PodRecord, view: PodRuntimeView): Promise<boolean> {
    const pod = rec.pod;
    const policy: string = pod.spec?.restartPolicy ?? 'Always';
    const byName = latestByName(view.containers);
    let acted = false;
    for (const c of pod.spec?.initContainers ?? []) {
      const e = byName.get(c.name);
      if (!e) {
        await this.startContainer(rec, c, 0, view);
        return true;
      }
      const st = e.latest;
      if (st.state === 'CONTAINER_RUNNING' || st.state === 'CONTAINER_CREATED') return false;
      if (st.state === 'CONTAINER_EXITED' && st.exitCode === 0) continue;
      // A failed init container: the pod fails (Never) or it is retried with back-off.
      if (policy === 'Never') return false;
      return this.restart(rec, c, st, view);
    }
    for (const c of pod.spec?.containers ?? []) {
      const e = byName.get(c.name);
      if (!e) {
        await this.startContainer(rec, c, 0, view);
        acted = true;
        continue;
      }
      const st = e.latest;
      if (st.state !== 'CONTAINER_EXITED') continue;
      const again = policy === 'Always' || (policy === 'OnFailure' && st.exitCode !== 0);
      if (again && (await this.restart(rec, c, st, view))) acted = true;
    }
    // Ephemeral (debug) containers start once, whatever the pod's state, and are never restarted.
    for (const c of pod.spec?.ephemeralContainers ?? []) {
      if (byName.has(c.name)) continue;
      await this.startContainer(rec, c, 0, view);
      acted = true;
    }
    return acted;
  }

  /** Restart an exited container unless it is in back-off; then remember why it waits. */
  private async restart(rec: PodRecord, spec: KObject, last: ContainerStatus, view: PodRuntimeView): Promise<boolean> {
    const now = Date.now();
    const initial = this.o.backoffInitialMs ?? 10_000;
    const max = this.o.backoffMaxMs ?? 300_000;
    const b = rec.backoff?.get(spec.name);
    if (b && now < b.until) {
      const m = rec.pod.metadata;
      (rec.waiting ??= {})[spec.name] = {
        reason: 'CrashLoopBackOff',
        message: `back-off ${formatDelay(b.delayMs)} restarting failed container=${spec.name} pod=${m.name}_${m.namespace}(${m.uid})`,
      };
      if (!b.announced) {
        b.announced = true;
        this.event(rec, spec.name, 'Warning', 'BackOff', `Back-off restarting failed container ${spec.name} in pod ${m.name}_${m.namespace}(${m.uid})`);
      }
      this.schedule(rec, b.until - now);
      return false;
    }
    // Back-off doubles from the initial delay up to the cap, and resets after 2× the cap without trouble.
    const delayMs = !b || now - b.until > 2 * max ? initial : Math.min(b.delayMs * 2, max);
    (rec.backoff ??= new Map()).set(spec.name, { delayMs, until: now + delayMs });
    await this.startContainer(rec, spec, last.metadata.attempt + 1, view);
    return true;
  }

  private event(rec: PodRecord, container: string | undefined, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const r = this.o.recorder;
    if (!r) return;
    const pod = rec.pod;
    const ref = { apiVersion: 'v1', kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid, resourceVersion: pod.metadata.resourceVersion };
    if (container === undefined) r.event(ref, type, reason, message);
    else r.eventWithFieldPath(ref, `spec.${containerKind(pod, container)}{${container}}`, type, reason, message);
  }

  /** What only a real node adds: the environment (downward API, ConfigMaps, Secrets, Services), volume mounts, cgroup limits and security context. */
  private async realContainerConfig(rec: PodRecord, spec: KObject, config: ContainerConfig, view: PodRuntimeView): Promise<void> {
    const pod = rec.pod;
    const podIP = rec.podIP ?? '';
    let services: KObject[] = [];
    if (pod.spec?.enableServiceLinks !== false && this.services) {
      await Promise.race([this.services.waitForSync(), new Promise((r) => setTimeout(r, 5000))]);
      services = this.services.lister.list(pod.metadata.namespace).concat(pod.metadata.namespace === 'default' ? [] : this.services.lister.list('default').filter((s: KObject) => s.metadata.name === 'kubernetes'));
    }
    const envs = await makeEnvironment(pod, spec, {
      nodeName: this.nodeName,
      nodeIP: this.o.nodeIP,
      podIP,
      podIPs: podIP ? [podIP] : [],
      resources: this.resources!,
      serviceEnv: serviceEnvironment(services, pod.metadata.namespace, pod.spec?.enableServiceLinks ?? true),
      allocatable: this.o.allocatable ?? this.o.capacity,
    });
    config.envs = envs;
    if (!rec.hostsFile) rec.hostsFile = this.volumes!.writeEtcHosts(pod, podIP ? [podIP] : []);
    config.mounts = await this.volumes!.mountsFor(pod, spec, config.envs);
    config.linux = linuxContainerConfig(pod, spec, { pidTarget: this.targetContainerId(rec, spec, view) });
    const sc = { ...pod.spec?.securityContext, ...spec.securityContext };
    if (sc.runAsNonRoot) {
      const img = await this.o.runtime.imageStatus({ image: spec.image });
      verifyRunAsNonRoot(pod, spec, img?.uid?.value, img?.username);
    }
  }

  /** The runtime ID of the container an ephemeral container targets (its PID namespace is shared). */
  private targetContainerId(rec: PodRecord, spec: KObject, view: PodRuntimeView): string | undefined {
    const target = spec.targetContainerName;
    if (!target || containerKind(rec.pod, spec.name) !== 'ephemeralContainers') return undefined;
    const latest = latestByName(view.containers).get(target)?.latest;
    return latest?.state === 'CONTAINER_RUNNING' ? latest.id : undefined;
  }

  /** Makes the image present per pull policy; false (with a waiting reason set) when it cannot be. */
  private async ensureImage(rec: PodRecord, spec: KObject): Promise<boolean> {
    const rt = this.o.runtime;
    const ref = String(spec.image);
    const policy = spec.imagePullPolicy ?? (ref.endsWith(':latest') || !/:[^/]+$/.test(ref) ? 'Always' : 'IfNotPresent');
    const image = { image: ref };
    const present = policy === 'Always' && this.o.pullFallbackToLocal === false ? undefined : await rt.imageStatus(image);
    if (policy === 'Never') {
      if (present) return true;
      const msg = `Container image "${ref}" is not present with pull policy of Never`;
      (rec.waiting ??= {})[spec.name] = { reason: 'ErrImageNeverPull', message: msg };
      this.event(rec, spec.name, 'Warning', 'ErrImageNeverPull', msg);
      return false;
    }
    if (policy === 'IfNotPresent' && present) {
      this.event(rec, spec.name, 'Normal', 'Pulled', `Container image "${ref}" already present on machine`);
      return true;
    }
    const key = `pull:${spec.name}`;
    const b = rec.backoff?.get(key);
    if (b && Date.now() < b.until) {
      (rec.waiting ??= {})[spec.name] = { reason: 'ImagePullBackOff', message: `Back-off pulling image "${ref}"` };
      this.event(rec, spec.name, 'Normal', 'BackOff', `Back-off pulling image "${ref}"`);
      this.event(rec, spec.name, 'Warning', 'Failed', 'Error: ImagePullBackOff');
      this.schedule(rec, b.until - Date.now());
      return false;
    }
    this.event(rec, spec.name, 'Normal', 'Pulling', `Pulling image "${ref}"`);
    const t0 = Date.now();
    try {
      await this.pullWithSecrets(rec, image);
      const s = ((Date.now() - t0) / 1000).toFixed(3);
      this.event(rec, spec.name, 'Normal', 'Pulled', `Successfully pulled image "${ref}" in ${s}s (${s}s including waiting)`);
      rec.backoff?.delete(key);
      return true;
    } catch (e) {
      const why = (e as { details?: string }).details || (e as Error).message;
      if (present) {
        // Offline nodes: the registry is unreachable but the image was imported; run what is here.
        this.event(rec, spec.name, 'Normal', 'Pulled', `Container image "${ref}" already present on machine (pull failed: ${why})`);
        return true;
      }
      this.event(rec, spec.name, 'Warning', 'Failed', `Failed to pull image "${ref}": ${why}`);
      this.event(rec, spec.name, 'Warning', 'Failed', 'Error: ErrImagePull');
      const initial = this.o.backoffInitialMs ?? 10_000;
      const delayMs = b ? Math.min(b.delayMs * 2, this.o.backoffMaxMs ?? 300_000) : initial;
      (rec.backoff ??= new Map()).set(key, { delayMs, until: Date.now() + delayMs });
      // The runtime's own error text, as upstream's evalCRIPullErr falls back to.
      (rec.waiting ??= {})[spec.name] = { reason: 'ErrImagePull', message: why };
      this.schedule(rec, delayMs);
      return false;
    }
  }

  /** Pulls with each matching imagePullSecret in turn (best match first), then anonymously. */
  private async pullWithSecrets(rec: PodRecord, image: { image: string }): Promise<void> {
    const rt = this.o.runtime;
    const names: string[] = (rec.pod.spec?.imagePullSecrets ?? []).map((s: KObject) => s.name).filter(Boolean);
    const secrets: KObject[] = [];
    if (this.resources) {
      for (const n of names) {
        const s = await this.resources.getSecret(rec.pod.metadata.namespace, n).catch(() => undefined);
        if (s) secrets.push(s);
      }
    }
    let last: unknown;
    for (const auth of pullCredentials(image.image, secrets)) {
      try {
        await rt.pullImage(image, this.sandboxConfig(rec.pod), auth);
        return;
      } catch (e) {
        last = e;
      }
    }
    try {
      await rt.pullImage(image, this.sandboxConfig(rec.pod));
    } catch (e) {
      throw last ?? e;
    }
  }

  private async startContainer(rec: PodRecord, spec: KObject, attempt: number, view: PodRuntimeView): Promise<void> {
    const rt = this.o.runtime;
    if (!(await this.ensureImage(rec, spec))) return;
    const sbConfig = this.sandboxConfig(rec.pod);
    const config = this.containerConfig(rec.pod, spec, attempt, containerKind(rec.pod, spec.name) === 'initContainers');
    if (this.volumes) {
      try {
        await this.realContainerConfig(rec, spec, config, view);
      } catch (e) {
        const msg = (e as Error).message;
        (rec.waiting ??= {})[spec.name] = { reason: 'CreateContainerConfigError', message: msg };
        this.event(rec, spec.name, 'Warning', 'Failed', `Error: ${msg}`);
        this.schedule(rec, 2000);
        return;
      }
    }
    let id: string;
    try {
      id = await rt.createContainer(rec.sandboxId!, config, sbConfig);
    } catch (e) {
      const why = (e as { details?: string }).details || (e as Error).message;
      this.event(rec, spec.name, 'Warning', 'Failed', `Error: ${why}`);
      throw e;
    }
    this.event(rec, spec.name, 'Normal', 'Created', `Created container ${spec.name}`);
    await rt.startContainer(id);
    this.event(rec, spec.name, 'Normal', 'Started', `Started container ${spec.name}`);
    if (spec.lifecycle?.postStart) {
      // A failed postStart hook kills the container; the restart policy decides what follows.
      const failed = await runLifecycleHook(spec.lifecycle.postStart, { pod: rec.pod, container: spec, containerId: id, podIP: rec.podIP ?? '', execSync: rt.execSync?.bind(rt), timeoutSeconds: rec.pod.spec?.terminationGracePeriodSeconds ?? 30 });
      if (failed) {
        this.event(rec, spec.name, 'Warning', 'FailedPostStartHook', failed);
        this.event(rec, spec.name, 'Normal', 'Killing', `FailedPostStartHook`);
        await rt.stopContainer(id, rec.pod.spec?.terminationGracePeriodSeconds ?? 30).catch(() => undefined);
      }
    }
    // Keep the latest exited attempt for lastState; older ones go.
    for (const c of view.containers) {
      if ((c.labels[criLabels.containerName] ?? c.metadata.name) === spec.name && c.metadata.attempt < attempt - 1) await rt.removeContainer(c.id);
    }
  }

  /** deletionTimestamp set: stop containers, write the final status, confirm the delete. */
  private async terminate(rec: PodRecord): Promise<void> {
    const rt = this.o.runtime;
    const pod = rec.pod;
    if (!rec.killed) {
      this.prober?.stopLivenessAndStartup(rec.uid);
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      const view = await this.view(rec);
      for (const c of view.containers) {
        if (c.state === 'CONTAINER_RUNNING') this.event(rec, c.labels[criLabels.containerName] ?? c.metadata.name, 'Normal', 'Killing', `Stopping container ${c.labels[criLabels.containerName] ?? c.metadata.name}`);
      }
      // preStop hooks run first, within the grace period; what remains of it (at least 2 s, as
      // upstream) is the time between SIGTERM and SIGKILL.
      const started = Date.now();
      const specs = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
      await Promise.all(
        view.containers
          .filter((c) => c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED')
          .map(async (c) => {
            const name = c.labels[criLabels.containerName] ?? c.metadata.name;
            const spec = specs.find((x: KObject) => x.name === name);
            if (c.state === 'CONTAINER_RUNNING' && spec?.lifecycle?.preStop) {
              const failed = await runLifecycleHook(spec.lifecycle.preStop, { pod, container: spec, containerId: c.id, podIP: rec.podIP ?? '', execSync: rt.execSync?.bind(rt), timeoutSeconds: grace });
              if (failed) this.event(rec, name, 'Warning', 'FailedPreStopHook', failed);
            }
            const left = Math.max(2, grace - Math.floor((Date.now() - started) / 1000));
            await rt.stopContainer(c.id, grace === 0 ? 0 : left).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
          }),
      );
      if (rec.sandboxId) await rt.stopPodSandbox(rec.sandboxId);
      rec.killed = true;
      rec.wake?.();
    }
    this.writeStatus(rec, await this.view(rec), true);
    await this.status.flush(rec.uid);
    if (rec.deleteSent || rec.removed) return;
    rec.deleteSent = true;
    try {
      await this.limiter.run(() => this.o.client.delete(resources.pods, pod.metadata.namespace, pod.metadata.name, { gracePeriodSeconds: 0, preconditions: { uid: rec.uid } }));
      this.stats.podDeletes++;
    } catch (e) {
      if (!isCode(e, 404, 409)) {
        rec.deleteSent = false;
        throw e;
      }
    }
  }

  /** The pod object is gone: free everything it held in the runtime. */
  private async teardown(rec: PodRecord): Promise<void> {
    const rt = this.o.runtime;
    rec.wake?.();
    if (rec.sandboxId) {
      const view = await this.view(rec);
      for (const c of view.containers) {
        if (c.state === 'CONTAINER_RUNNING') await rt.stopContainer(c.id, 0).catch(() => undefined);
        await rt.removeContainer(c.id).catch(() => undefined);
      }
      await rt.stopPodSandbox(rec.sandboxId).catch(() => undefined);
      await rt.removePodSandbox(rec.sandboxId);
      this.bySandbox.delete(rec.sandboxId);
    }
    await this.volumes?.tearDownPod(rec.uid);
    this.pods.delete(rec.uid);
    this.prober?.removePod(rec.uid);
    this.status.forget(rec.uid);
  }
}

/**
 * How long a container started for `kubectl run -i` (stdin and stdinOnce) may run before it is
 * reported running; one that ends sooner is reported finished. Upstream's kubelet learns of a
 * start from its next relist (every second), so a quick command is first reported finished and
 * kubectl shows its logs; reported running at once, kubectl would attach after the output was
 * gone. Other containers are reported at once.
 */
const ATTACH_SETTLE_MS = 1000;
function attachSettleMs(pod: KObject, view: PodRuntimeView): number {
  const now = Date.now();
  let wait = 0;
  const attachable = new Set([...(pod.spec?.containers ?? []), ...(pod.spec?.ephemeralContainers ?? [])].filter((c: KObject) => c.stdin && c.stdinOnce).map((c: KObject) => c.name));
  if (!attachable.size) return 0;
  for (const [name, e] of latestByName(view.containers)) {
    if (!attachable.has(name) || e.latest.state !== 'CONTAINER_RUNNING' || !e.latest.startedAt) continue;
    wait = Math.max(wait, ATTACH_SETTLE_MS - (now - e.latest.startedAt / 1e6));
  }
  return Math.min(wait, ATTACH_SETTLE_MS);
}

/** Which list of the pod spec holds a container: containers, initContainers or ephemeralContainers. */
function containerKind(pod: KObject, name: string): 'containers' | 'initContainers' | 'ephemeralContainers' {
  if ((pod.spec?.initContainers ?? []).some((c: KObject) => c.name === name)) return 'initContainers';
  if ((pod.spec?.ephemeralContainers ?? []).some((c: KObject) => c.name === name)) return 'ephemeralContainers';
  return 'containers';
}

function formatDelay(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : '0s'}`;
}
