/**
 * The real container runtime: a CRI runtime.v1 client over gRPC on a unix socket (containerd's CRI
 * plugin). It implements {@link ContainerRuntime} by renaming fields between the interface's
 * camelCase and the proto's snake_case; map fields (labels, annotations, ...) keep their keys as is.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  NotFoundError,
  type AuthConfig,
  type Container,
  type ContainerConfig,
  type ContainerFilter,
  type ContainerRuntime,
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

/** The CRI API version this client speaks (VersionRequest.version). */
export const CRI_API_VERSION = 'v1';

/** Options of {@link CriRuntime}. */
export interface CriRuntimeOptions {
  /** Path of the CRI unix socket (containerd's grpc address). */
  socket: string;
  /** Deadline of ordinary calls, ms. Default 120000 (upstream kubelet's runtime-request-timeout: 2m). */
  timeoutMs?: number;
  /** Deadline of PullImage, ms. Default: none, as upstream (pulls are bounded by progress, not time). */
  pullTimeoutMs?: number;
}

/** Result of {@link CriRuntime.execSync}. */
export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

/** Options of the streaming Exec and Attach RPCs (see RUNTIME-NOTES on containerd's rules). */
export interface StreamOptions {
  tty?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}

// Map fields: their keys are data, never renamed.
const MAP_FIELDS = new Set(['labels', 'annotations', 'sysctls', 'label_selector', 'labelSelector', 'info']);

function toSnake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
function toCamel(k: string): string {
  return k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Renames keys deeply, dropping undefined/null; map fields are copied as they are. */
function rename(v: unknown, f: (k: string) => string): unknown {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) return v.map((x) => rename(x, f));
  if (Buffer.isBuffer(v) || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === null || x === undefined) continue;
    out[f(k)] = MAP_FIELDS.has(k) ? { ...(x as object) } : rename(x, f);
  }
  return out;
}
const snake = (v: unknown): any => rename(v, toSnake);
const camel = (v: unknown): any => rename(v, toCamel);

/** Where cri-api.proto is: beside this module (src/, or dist/ when the build copies it), else in src/. */
export function criProtoPath(): string {
  const candidates = [
    fileURLToPath(new URL('./cri-api.proto', import.meta.url)),
    fileURLToPath(new URL('../../../src/kubelet/runtime/cri-api.proto', import.meta.url)),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`cri-api.proto not found (looked at ${candidates.join(', ')})`);
  return found;
}

let cachedPackage: grpc.GrpcObject | undefined;
function criPackage(): grpc.GrpcObject {
  if (!cachedPackage) {
    const def = protoLoader.loadSync(criProtoPath(), { keepCase: true, longs: Number, enums: String, defaults: true });
    cachedPackage = grpc.loadPackageDefinition(def);
  }
  return cachedPackage;
}

type Unary = (req: unknown, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: any) => void) => void;

/**
 * {@link ContainerRuntime} over CRI runtime.v1 (RuntimeService and ImageService on one socket).
 * gRPC NOT_FOUND becomes {@link NotFoundError}; other errors keep their gRPC `code` and `details`.
 */
export class CriRuntime implements ContainerRuntime {
  readonly socket: string;
  private readonly timeoutMs: number;
  private readonly pullTimeoutMs: number | undefined;
  private readonly rt: grpc.Client;
  private readonly img: grpc.Client;

  constructor(opts: CriRuntimeOptions) {
    this.socket = opts.socket;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.pullTimeoutMs = opts.pullTimeoutMs;
    const pkg = criPackage() as any;
    const v1 = pkg.runtime.v1;
    const target = `unix://${opts.socket}`;
    // ExecSync output may be up to 16 MiB per stream (CRI caps it there).
    const channelOpts = { 'grpc.max_receive_message_length': 40 * 1024 * 1024, 'grpc.max_send_message_length': 16 * 1024 * 1024 };
    this.rt = new v1.RuntimeService(target, grpc.credentials.createInsecure(), channelOpts);
    this.img = new v1.ImageService(target, grpc.credentials.createInsecure(), channelOpts);
  }

  /** Closes both gRPC channels. */
  close(): void {
    this.rt.close();
    this.img.close();
  }

  private call(client: grpc.Client, method: string, req: unknown, ctx?: { what: string; id: string }, timeoutMs: number | undefined = this.timeoutMs): Promise<any> {
    const fn = (client as unknown as Record<string, Unary>)[method];
    const opts: grpc.CallOptions = timeoutMs ? { deadline: Date.now() + timeoutMs } : {};
    return new Promise((resolve, reject) => {
      fn.call(client, req, new grpc.Metadata(), opts, (err, res) => {
        if (!err) return resolve(res);
        if (err.code === grpc.status.NOT_FOUND && ctx) {
          const nf = new NotFoundError(ctx.what, ctx.id);
          (nf as { cause?: unknown }).cause = err;
          return reject(nf);
        }
        reject(err);
      });
    });
  }

  async version(): Promise<VersionInfo> {
    return camel(await this.call(this.rt, 'Version', { version: CRI_API_VERSION }));
  }

  async status(): Promise<RuntimeStatus> {
    const res = await this.call(this.rt, 'Status', { verbose: false });
    return { conditions: camel(res.status)?.conditions ?? [] };
  }

  async updateRuntimeConfig(cfg: { podCIDR: string }): Promise<void> {
    await this.call(this.rt, 'UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: cfg.podCIDR } } });
  }

  async runPodSandbox(config: PodSandboxConfig, runtimeHandler?: string): Promise<string> {
    const res = await this.call(this.rt, 'RunPodSandbox', { config: snake(config), runtime_handler: runtimeHandler ?? '' });
    return res.pod_sandbox_id;
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    await this.call(this.rt, 'StopPodSandbox', { pod_sandbox_id: podSandboxId }, { what: 'pod sandbox', id: podSandboxId });
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    await this.call(this.rt, 'RemovePodSandbox', { pod_sandbox_id: podSandboxId }, { what: 'pod sandbox', id: podSandboxId });
  }

  async podSandboxStatus(podSandboxId: string): Promise<PodSandboxStatus> {
    const res = await this.call(this.rt, 'PodSandboxStatus', { pod_sandbox_id: podSandboxId, verbose: false }, { what: 'pod sandbox', id: podSandboxId });
    if (!res.status) throw new NotFoundError('pod sandbox', podSandboxId);
    return camel(res.status);
  }

  async listPodSandbox(filter?: PodSandboxFilter): Promise<PodSandbox[]> {
    const f = filter && { id: filter.id ?? '', state: filter.state ? { state: filter.state } : undefined, label_selector: filter.labelSelector ?? {} };
    const res = await this.call(this.rt, 'ListPodSandbox', { filter: f });
    return (res.items ?? []).map(camel);
  }

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const res = await this.call(this.rt, 'CreateContainer', { pod_sandbox_id: podSandboxId, config: snake(config), sandbox_config: snake(sandboxConfig) }, { what: 'pod sandbox', id: podSandboxId });
    return res.container_id;
  }

  async startContainer(containerId: string): Promise<void> {
    await this.call(this.rt, 'StartContainer', { container_id: containerId }, { what: 'container', id: containerId });
  }

  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    // The runtime waits up to the grace period itself; leave the deadline room beyond it.
    const deadline = Math.max(this.timeoutMs, (timeoutSeconds + 30) * 1000);
    await this.call(this.rt, 'StopContainer', { container_id: containerId, timeout: timeoutSeconds }, { what: 'container', id: containerId }, deadline);
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.call(this.rt, 'RemoveContainer', { container_id: containerId }, { what: 'container', id: containerId });
  }

  async containerStatus(containerId: string): Promise<ContainerStatus> {
    const res = await this.call(this.rt, 'ContainerStatus', { container_id: containerId, verbose: false }, { what: 'container', id: containerId });
    if (!res.status) throw new NotFoundError('container', containerId);
    return camel(res.status);
  }

  async listContainers(filter?: ContainerFilter): Promise<Container[]> {
    const f = filter && {
      id: filter.id ?? '',
      state: filter.state ? { state: filter.state } : undefined,
      pod_sandbox_id: filter.podSandboxId ?? '',
      label_selector: filter.labelSelector ?? {},
    };
    const res = await this.call(this.rt, 'ListContainers', { filter: f });
    return (res.containers ?? []).map(camel);
  }

  /** CRI ExecSync: runs `cmd` in the container and collects its output. 0 = no timeout. */
  async execSync(containerId: string, cmd: string[], timeoutSeconds = 0): Promise<ExecSyncResult> {
    const deadline = timeoutSeconds > 0 ? (timeoutSeconds + 30) * 1000 : undefined;
    const res = await this.call(this.rt, 'ExecSync', { container_id: containerId, cmd, timeout: timeoutSeconds }, { what: 'container', id: containerId }, deadline);
    return { stdout: Buffer.from(res.stdout ?? []), stderr: Buffer.from(res.stderr ?? []), exitCode: res.exit_code };
  }

  /** CRI Exec: the URL of a single-use streaming endpoint on the runtime's stream server. */
  async exec(containerId: string, cmd: string[], o: StreamOptions): Promise<string> {
    const res = await this.call(this.rt, 'Exec', { container_id: containerId, cmd, tty: !!o.tty, stdin: !!o.stdin, stdout: !!o.stdout, stderr: !!o.stderr }, { what: 'container', id: containerId });
    return res.url;
  }

  /** CRI Attach: the URL of a single-use streaming endpoint. */
  async attach(containerId: string, o: StreamOptions): Promise<string> {
    const res = await this.call(this.rt, 'Attach', { container_id: containerId, tty: !!o.tty, stdin: !!o.stdin, stdout: !!o.stdout, stderr: !!o.stderr }, { what: 'container', id: containerId });
    return res.url;
  }

  /** CRI PortForward: the URL of a single-use streaming endpoint for these ports. */
  async portForward(podSandboxId: string, ports: number[]): Promise<string> {
    const res = await this.call(this.rt, 'PortForward', { pod_sandbox_id: podSandboxId, port: ports }, { what: 'pod sandbox', id: podSandboxId });
    return res.url;
  }

  async pullImage(image: ImageSpec, sandboxConfig?: PodSandboxConfig, auth?: AuthConfig): Promise<string> {
    const res = await this.call(this.img, 'PullImage', { image: snake(image), auth: auth ? snake(auth) : undefined, sandbox_config: sandboxConfig ? snake(sandboxConfig) : undefined }, undefined, this.pullTimeoutMs ?? 0);
    return res.image_ref;
  }

  async imageStatus(image: ImageSpec): Promise<Image | undefined> {
    const res = await this.call(this.img, 'ImageStatus', { image: snake(image), verbose: false });
    return res.image ? camel(res.image) : undefined;
  }

  async listImages(filter?: { image?: ImageSpec }): Promise<Image[]> {
    const res = await this.call(this.img, 'ListImages', { filter: filter?.image ? { image: snake(filter.image) } : undefined });
    return (res.images ?? []).map(camel);
  }

  async removeImage(image: ImageSpec): Promise<void> {
    await this.call(this.img, 'RemoveImage', { image: snake(image) });
  }
}
