/**
 * An in-memory container runtime behind the CRI-shaped interface: what hollow nodes run on.
 * Sandboxes get IPs from the node's pod CIDR (a fake host-local IPAM); containers start at once,
 * then run forever, or exit after a simulated run when their pod is a batch pod (restartPolicy
 * Never/OnFailure). Pod annotations override this per pod, for tests:
 * `k8ts.io/hollow-run-duration` (ms; also makes Always containers exit) and `k8ts.io/hollow-exit-code`.
 * State is a few small objects per pod and nothing per idle node.
 */
import { createHash } from 'node:crypto';
import {
  NotFoundError,
  criLabels,
  nowNanos,
  type Container,
  type ContainerConfig,
  type ContainerEvent,
  type ContainerFilter,
  type ContainerRuntime,
  type ContainerState,
  type ContainerStatus,
  type Image,
  type ImageSpec,
  type PodSandbox,
  type PodSandboxConfig,
  type PodSandboxFilter,
  type PodSandboxStatus,
  type RuntimeStatus,
  type VersionInfo,
} from './runtime.js';

/** Pod annotation: simulated run time of each container, ms. */
export const RUN_DURATION_ANNOTATION = 'k8ts.io/hollow-run-duration';
/** Pod annotation: exit code of each container when its simulated run ends. */
export const EXIT_CODE_ANNOTATION = 'k8ts.io/hollow-exit-code';

export interface FakeRuntimeOptions {
  /** How long containers of batch pods run before exiting 0, ms. Default 1000. */
  runDurationMs?: number;
  /** Runtime version reported by version(). */
  runtimeVersion?: string;
  /** The pod CIDR (also settable by updateRuntimeConfig). */
  podCIDR?: string;
}

interface FakeSandbox {
  id: string;
  config: PodSandboxConfig;
  state: PodSandbox['state'];
  createdAt: number;
  ip: string;
}

interface FakeContainer {
  id: string;
  sandbox: FakeSandbox;
  config: ContainerConfig;
  imageRef: string;
  state: ContainerState;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  reason: string;
  timer?: NodeJS.Timeout;
}

let seq = 0;
/** A 64-hex-digit id like containerd's, unique within the process. */
function newId(): string {
  seq++;
  return (Date.now().toString(16) + seq.toString(16).padStart(8, '0')).padStart(64, '0');
}

/** `nginx` → `docker.io/library/nginx:latest`, as registries normalise names. */
export function normalizeImage(image: string): string {
  let name = image;
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (slash < 0) name = `docker.io/library/${name}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') name = `docker.io/${name}`;
  const lastPart = name.slice(name.lastIndexOf('/') + 1);
  if (!lastPart.includes(':') && !lastPart.includes('@')) name += ':latest';
  return name;
}

function digestOf(image: string): string {
  return 'sha256:' + createHash('sha256').update(image).digest('hex');
}

function parseIPv4(s: string): number {
  const p = s.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`bad IPv4 address ${JSON.stringify(s)}`);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}
/** Dotted form of a 32-bit address. */
export function formatIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
/** Network address and prefix length of an IPv4 CIDR. */
export function parseCIDR(cidr: string): { base: number; bits: number } {
  const [ip, len] = cidr.split('/');
  const bits = Number(len);
  if (!ip || !Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`bad CIDR ${JSON.stringify(cidr)}`);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { base: (parseIPv4(ip) & mask) >>> 0, bits };
}

/** host-local IPAM over one CIDR: .1 is the gateway, network and broadcast are skipped. */
class IPAllocator {
  private readonly base: number;
  private readonly size: number;
  private used?: Uint8Array;
  private next = 2;
  constructor(cidr: string) {
    const { base, bits } = parseCIDR(cidr);
    this.base = base;
    this.size = Math.min(2 ** (32 - bits), 1 << 16);
  }
  allocate(): string {
    this.used ??= new Uint8Array(Math.ceil(this.size / 8));
    for (let i = 0; i < this.size; i++) {
      const n = 2 + ((this.next - 2 + i) % Math.max(1, this.size - 3));
      if (n >= this.size - 1) continue;
      if (!(this.used[n >> 3]! & (1 << (n & 7)))) {
        this.used[n >> 3]! |= 1 << (n & 7);
        this.next = n + 1;
        return formatIPv4(this.base + n);
      }
    }
    throw new Error('no IP addresses available in range set');
  }
  release(ip: string): void {
    if (!this.used) return;
    const n = parseIPv4(ip) - this.base;
    if (n >= 0 && n < this.size) this.used[n >> 3]! &= ~(1 << (n & 7));
  }
}

function matchesLabels(labels: Record<string, string>, sel: Record<string, string> | undefined): boolean {
  if (!sel) return true;
  for (const k in sel) if (labels[k] !== sel[k]) return false;
  return true;
}

/** The in-memory runtime. One per (hollow) node. */
export class FakeRuntime implements ContainerRuntime {
  private sandboxes?: Map<string, FakeSandbox>;
  private containers?: Map<string, FakeContainer>;
  private images?: Map<string, Image>;
  private ipam?: IPAllocator;
  private listeners?: Set<(ev: ContainerEvent) => void>;
  runDurationMs: number;
  private readonly runtimeVersion: string;
  /** Calls made, by method name: for tests. */
  readonly calls: Record<string, number> = {};

  constructor(opts: FakeRuntimeOptions = {}) {
    this.runDurationMs = opts.runDurationMs ?? 1000;
    this.runtimeVersion = opts.runtimeVersion ?? '0.1.0';
    if (opts.podCIDR) this.ipam = new IPAllocator(opts.podCIDR);
  }

  private count(m: string): void {
    this.calls[m] = (this.calls[m] ?? 0) + 1;
  }

  async version(): Promise<VersionInfo> {
    return { version: '0.1.0', runtimeName: 'k8ts-fake', runtimeVersion: this.runtimeVersion, runtimeApiVersion: 'v1' };
  }
  async status(): Promise<RuntimeStatus> {
    return {
      conditions: [
        { type: 'RuntimeReady', status: true },
        { type: 'NetworkReady', status: !!this.ipam, reason: this.ipam ? undefined : 'NetworkPluginNotReady', message: this.ipam ? undefined : 'no pod CIDR yet' },
      ],
    };
  }
  async updateRuntimeConfig(cfg: { podCIDR: string }): Promise<void> {
    if (cfg.podCIDR && !this.ipam) this.ipam = new IPAllocator(cfg.podCIDR);
  }

  // ---- sandboxes ----

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    this.count('runPodSandbox');
    const hostNetwork = config.linux?.securityContext?.namespaceOptions?.network === 'NODE';
    if (!hostNetwork && !this.ipam) throw new Error('network plugin is not ready: no pod CIDR');
    const sb: FakeSandbox = { id: newId(), config, state: 'SANDBOX_READY', createdAt: nowNanos(), ip: hostNetwork ? '' : this.ipam!.allocate() };
    (this.sandboxes ??= new Map()).set(sb.id, sb);
    return sb.id;
  }
  async stopPodSandbox(id: string): Promise<void> {
    this.count('stopPodSandbox');
    const sb = this.sandboxes?.get(id);
    if (!sb) return; // CRI: stopping a missing sandbox is not an error
    for (const c of this.containersOf(id)) this.exit(c, 137, 'Error');
    if (sb.state === 'SANDBOX_READY' && sb.ip) this.ipam?.release(sb.ip);
    sb.state = 'SANDBOX_NOTREADY';
  }
  async removePodSandbox(id: string): Promise<void> {
    this.count('removePodSandbox');
    const sb = this.sandboxes?.get(id);
    if (!sb) return;
    if (sb.state === 'SANDBOX_READY') await this.stopPodSandbox(id);
    for (const c of this.containersOf(id)) this.dropContainer(c);
    this.sandboxes!.delete(id);
  }
  async podSandboxStatus(id: string): Promise<PodSandboxStatus> {
    const sb = this.sandboxes?.get(id);
    if (!sb) throw new NotFoundError('sandbox', id);
    return {
      id: sb.id,
      metadata: sb.config.metadata,
      state: sb.state,
      createdAt: sb.createdAt,
      network: sb.ip && sb.state === 'SANDBOX_READY' ? { ip: sb.ip, additionalIps: [] } : undefined,
      labels: sb.config.labels,
      annotations: sb.config.annotations,
    };
  }
  async listPodSandbox(filter: PodSandboxFilter = {}): Promise<PodSandbox[]> {
    const out: PodSandbox[] = [];
    for (const sb of this.sandboxes?.values() ?? []) {
      if (filter.id && sb.id !== filter.id) continue;
      if (filter.state && sb.state !== filter.state) continue;
      if (!matchesLabels(sb.config.labels, filter.labelSelector)) continue;
      out.push({ id: sb.id, metadata: sb.config.metadata, state: sb.state, createdAt: sb.createdAt, labels: sb.config.labels, annotations: sb.config.annotations });
    }
    return out;
  }

  // ---- containers ----

  async createContainer(podSandboxId: string, config: ContainerConfig): Promise<string> {
    this.count('createContainer');
    const sb = this.sandboxes?.get(podSandboxId);
    if (!sb) throw new NotFoundError('sandbox', podSandboxId);
    if (sb.state !== 'SANDBOX_READY') throw new Error(`sandbox ${podSandboxId} is not ready`);
    const ref = normalizeImage(config.image.image);
    const img = this.images?.get(ref);
    if (!img) throw new Error(`image ${JSON.stringify(config.image.image)} is not present`);
    const c: FakeContainer = {
      id: newId(),
      sandbox: sb,
      config,
      imageRef: img.repoDigests[0] ?? img.id,
      state: 'CONTAINER_CREATED',
      createdAt: nowNanos(),
      startedAt: 0,
      finishedAt: 0,
      exitCode: 0,
      reason: '',
    };
    (this.containers ??= new Map()).set(c.id, c);
    this.emit(c, 'CONTAINER_CREATED_EVENT');
    return c.id;
  }
  async startContainer(id: string): Promise<void> {
    this.count('startContainer');
    const c = this.mustGet(id);
    if (c.state !== 'CONTAINER_CREATED') throw new Error(`container ${id} is in state ${c.state}, not created`);
    c.state = 'CONTAINER_RUNNING';
    c.startedAt = nowNanos();
    const ann = c.sandbox.config.annotations;
    const override = ann[RUN_DURATION_ANNOTATION];
    const batch = (ann[criLabels.restartPolicy] ?? 'Always') !== 'Always' || c.config.annotations[criLabels.containerType] === 'init';
    const runFor = override !== undefined && override !== '' ? Number(override) : batch ? this.runDurationMs : -1;
    if (runFor >= 0 && Number.isFinite(runFor)) {
      const code = Number(ann[EXIT_CODE_ANNOTATION] ?? 0) || 0;
      c.timer = setTimeout(() => this.exit(c, code, code === 0 ? 'Completed' : 'Error'), runFor);
      c.timer.unref?.();
    }
    this.emit(c, 'CONTAINER_STARTED_EVENT');
  }
  async stopContainer(id: string, _timeoutSeconds: number): Promise<void> {
    this.count('stopContainer');
    const c = this.containers?.get(id);
    if (!c) throw new NotFoundError('container', id);
    // Fake processes honour SIGTERM at once and exit cleanly.
    this.exit(c, 0, 'Completed');
  }
  async removeContainer(id: string): Promise<void> {
    this.count('removeContainer');
    const c = this.containers?.get(id);
    if (!c) return;
    if (c.state === 'CONTAINER_RUNNING') this.exit(c, 137, 'Error');
    this.dropContainer(c);
    this.emit(c, 'CONTAINER_DELETED_EVENT');
  }
  async containerStatus(id: string): Promise<ContainerStatus> {
    const c = this.mustGet(id);
    return {
      id: c.id,
      metadata: c.config.metadata,
      state: c.state,
      createdAt: c.createdAt,
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
      exitCode: c.exitCode,
      image: c.config.image,
      imageRef: c.imageRef,
      reason: c.reason,
      message: '',
      labels: c.config.labels,
      annotations: c.config.annotations,
      logPath: c.config.logPath,
    };
  }
  async listContainers(filter: ContainerFilter = {}): Promise<Container[]> {
    const out: Container[] = [];
    const pool = filter.podSandboxId ? this.containersOf(filter.podSandboxId) : (this.containers?.values() ?? []);
    for (const c of pool) {
      if (filter.id && c.id !== filter.id) continue;
      if (filter.state && c.state !== filter.state) continue;
      if (!matchesLabels(c.config.labels, filter.labelSelector)) continue;
      out.push({
        id: c.id,
        podSandboxId: c.sandbox.id,
        metadata: c.config.metadata,
        image: c.config.image,
        imageRef: c.imageRef,
        state: c.state,
        createdAt: c.createdAt,
        labels: c.config.labels,
        annotations: c.config.annotations,
      });
    }
    return out;
  }
  watchContainerEvents(onEvent: (ev: ContainerEvent) => void): () => void {
    (this.listeners ??= new Set()).add(onEvent);
    return () => this.listeners?.delete(onEvent);
  }

  // ---- images ----

  async pullImage(image: ImageSpec): Promise<string> {
    this.count('pullImage');
    const ref = normalizeImage(image.image);
    let img = this.images?.get(ref);
    if (!img) {
      const digest = digestOf(ref);
      const repo = ref.replace(/[:@][^/]*$/, '');
      img = { id: digest, repoTags: [ref], repoDigests: [`${repo}@${digest}`], size: 10_000_000 };
      (this.images ??= new Map()).set(ref, img);
    }
    return img.id;
  }
  async imageStatus(image: ImageSpec): Promise<Image | undefined> {
    return this.images?.get(normalizeImage(image.image));
  }
  async listImages(filter: { image?: ImageSpec } = {}): Promise<Image[]> {
    if (filter.image) {
      const i = this.images?.get(normalizeImage(filter.image.image));
      return i ? [i] : [];
    }
    return [...(this.images?.values() ?? [])];
  }
  async removeImage(image: ImageSpec): Promise<void> {
    this.images?.delete(normalizeImage(image.image));
  }

  /** Sandboxes and containers held, for tests and memory checks. */
  counts(): { sandboxes: number; containers: number; images: number } {
    return { sandboxes: this.sandboxes?.size ?? 0, containers: this.containers?.size ?? 0, images: this.images?.size ?? 0 };
  }

  /** Cancel every simulated run (process shutdown). */
  close(): void {
    for (const c of this.containers?.values() ?? []) if (c.timer) clearTimeout(c.timer);
    this.listeners?.clear();
  }

  private mustGet(id: string): FakeContainer {
    const c = this.containers?.get(id);
    if (!c) throw new NotFoundError('container', id);
    return c;
  }
  private *containersOf(sandboxId: string): Iterable<FakeContainer> {
    for (const c of this.containers?.values() ?? []) if (c.sandbox.id === sandboxId) yield c;
  }
  private dropContainer(c: FakeContainer): void {
    if (c.timer) clearTimeout(c.timer);
    this.containers?.delete(c.id);
  }
  private exit(c: FakeContainer, code: number, reason: string): void {
    if (c.timer) {
      clearTimeout(c.timer);
      c.timer = undefined;
    }
    if (c.state === 'CONTAINER_EXITED') return;
    if (c.state === 'CONTAINER_CREATED') {
      code = 128;
      reason = 'ContainerCannotRun';
    }
    c.state = 'CONTAINER_EXITED';
    c.finishedAt = nowNanos();
    c.exitCode = code;
    c.reason = reason;
    this.emit(c, 'CONTAINER_STOPPED_EVENT');
  }
  private emit(c: FakeContainer, type: ContainerEvent['type']): void {
    if (!this.listeners?.size) return;
    const ev: ContainerEvent = { containerId: c.id, podSandboxId: c.sandbox.id, type, createdAt: nowNanos() };
    for (const l of this.listeners) l(ev);
  }
}
