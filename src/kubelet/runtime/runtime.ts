/**
 * The container runtime as the kubelet sees it: a TypeScript rendering of the CRI runtime.v1
 * RuntimeService and ImageService (see shared/lab/cri-runtime-v1-subset.proto). Field names are the
 * proto's in camelCase, timestamps are nanoseconds since the epoch as in CRI, so a gRPC client for
 * containerd (issue 4) implements this interface by plain renaming, and the in-memory fake behind
 * hollow nodes exercises exactly the kubelet logic a real node runs.
 */

/** CRI PodSandboxMetadata. */
export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

/** CRI DNSConfig. */
export interface DNSConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

/** CRI PortMapping. */
export interface PortMapping {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  containerPort: number;
  hostPort?: number;
  hostIp?: string;
}

/** CRI PodSandboxConfig (the Linux part reduced to what the kubelet sets today). */
export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  logDirectory?: string;
  dnsConfig?: DNSConfig;
  portMappings?: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux?: { cgroupParent?: string; securityContext?: { namespaceOptions?: { network?: 'POD' | 'NODE'; pid?: 'POD' | 'CONTAINER' | 'NODE'; ipc?: 'POD' | 'NODE' }; privileged?: boolean } };
}

/** CRI PodSandboxState. */
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';

/** CRI PodSandboxStatus. */
export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  /** ns since epoch */
  createdAt: number;
  network?: { ip: string; additionalIps: { ip: string }[] };
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** CRI PodSandbox (a list item). */
export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  createdAt: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** CRI PodSandboxFilter. */
export interface PodSandboxFilter {
  id?: string;
  state?: PodSandboxState;
  labelSelector?: Record<string, string>;
}

/** CRI AuthConfig: registry credentials for one pull. */
export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  serverAddress?: string;
  identityToken?: string;
  registryToken?: string;
}

/** CRI ImageSpec. */
export interface ImageSpec {
  image: string;
  annotations?: Record<string, string>;
}

/** CRI Image. */
export interface Image {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
  spec?: ImageSpec;
  pinned?: boolean;
  /** The image's numeric user, when its USER is numeric (for runAsNonRoot checks). */
  uid?: Int64Value;
  /** The image's user name, when its USER is not numeric. */
  username?: string;
}

/** CRI ContainerMetadata. */
export interface ContainerMetadata {
  name: string;
  attempt: number;
}

/** CRI Int64Value (a wrapper telling "unset" apart from 0). */
export interface Int64Value {
  value: number;
}

/** CRI MountPropagation. */
export type MountPropagation = 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';

/** CRI Mount: a host path bound into the container. */
export interface Mount {
  containerPath: string;
  hostPath: string;
  readonly?: boolean;
  selinuxRelabel?: boolean;
  propagation?: MountPropagation;
  recursiveReadOnly?: boolean;
}

/** CRI Device. */
export interface Device {
  containerPath: string;
  hostPath: string;
  permissions: string;
}

/** CRI NamespaceMode. */
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';

/** CRI NamespaceOption. */
export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  targetId?: string;
}

/** CRI HugepageLimit. */
export interface HugepageLimit {
  pageSize: string;
  limit: number;
}

/** CRI LinuxContainerResources. */
export interface LinuxContainerResources {
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuShares?: number;
  memoryLimitInBytes?: number;
  oomScoreAdj?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  hugepageLimits?: HugepageLimit[];
  memorySwapLimitInBytes?: number;
}

/** CRI Capability. */
export interface Capability {
  addCapabilities?: string[];
  dropCapabilities?: string[];
  addAmbientCapabilities?: string[];
}

/** CRI SELinuxOption. */
export interface SELinuxOption {
  user?: string;
  role?: string;
  type?: string;
  level?: string;
}

/** CRI SecurityProfile (seccomp and AppArmor). */
export interface SecurityProfile {
  profileType: 'RuntimeDefault' | 'Unconfined' | 'Localhost';
  localhostRef?: string;
}

/** CRI LinuxContainerSecurityContext. */
export interface LinuxContainerSecurityContext {
  capabilities?: Capability;
  privileged?: boolean;
  namespaceOptions?: NamespaceOption;
  selinuxOptions?: SELinuxOption;
  runAsUser?: Int64Value;
  runAsGroup?: Int64Value;
  runAsUsername?: string;
  readonlyRootfs?: boolean;
  supplementalGroups?: number[];
  noNewPrivs?: boolean;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  seccomp?: SecurityProfile;
  apparmor?: SecurityProfile;
}

/** CRI LinuxContainerConfig. */
export interface LinuxContainerConfig {
  resources?: LinuxContainerResources;
  securityContext?: LinuxContainerSecurityContext;
}

/** CRI ContainerConfig (the fields k8ts sets). */
export interface ContainerConfig {
  metadata: ContainerMetadata;
  image: ImageSpec;
  command?: string[];
  args?: string[];
  workingDir?: string;
  envs?: { key: string; value: string }[];
  mounts?: Mount[];
  devices?: Device[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  logPath?: string;
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
  linux?: LinuxContainerConfig;
}

/** CRI ContainerState. */
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

/** CRI Container (a list item). */
export interface Container {
  id: string;
  podSandboxId: string;
  metadata: ContainerMetadata;
  image: ImageSpec;
  imageRef: string;
  state: ContainerState;
  createdAt: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** CRI ContainerFilter. */
export interface ContainerFilter {
  id?: string;
  state?: ContainerState;
  podSandboxId?: string;
  labelSelector?: Record<string, string>;
}

/** CRI ContainerStatus. Times are ns since the epoch; 0 means not yet. */
export interface ContainerStatus {
  id: string;
  metadata: ContainerMetadata;
  state: ContainerState;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  image: ImageSpec;
  imageRef: string;
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  logPath?: string;
}

/** CRI VersionResponse. */
export interface VersionInfo {
  version: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

/** CRI RuntimeCondition / StatusResponse. */
export interface RuntimeStatus {
  conditions: { type: 'RuntimeReady' | 'NetworkReady' | string; status: boolean; reason?: string; message?: string }[];
}

/**
 * CRI ContainerEventResponse (GetContainerEvents), the input of the evented PLEG. Runtimes that
 * cannot stream events leave {@link RuntimeService.watchContainerEvents} out and the kubelet relists.
 */
export interface ContainerEvent {
  containerId: string;
  podSandboxId: string;
  type: 'CONTAINER_CREATED_EVENT' | 'CONTAINER_STARTED_EVENT' | 'CONTAINER_STOPPED_EVENT' | 'CONTAINER_DELETED_EVENT';
  /** ns since epoch */
  createdAt: number;
}

/**
 * The runtime handler k8ts' containerd config defines for sandboxes with hostPorts: the default
 * runc shim, with a CNI chain that ends in portmap. Other sandboxes use the default handler, whose
 * chain leaves portmap out (it costs an exec on every ADD and DEL, and iptables calls on DEL).
 */
export const HOSTPORT_RUNTIME_HANDLER = 'k8ts-hostport';

/** CRI runtime.v1.RuntimeService. Every call may reject; a gRPC NOT_FOUND maps to {@link NotFoundError}. */
export interface RuntimeService {
  version(): Promise<VersionInfo>;
  status(): Promise<RuntimeStatus>;
  /** CRI UpdateRuntimeConfig: the node's pod CIDR, for the network plugin's IPAM. */
  updateRuntimeConfig(cfg: { podCIDR: string }): Promise<void>;

  runPodSandbox(config: PodSandboxConfig, runtimeHandler?: string): Promise<string>;
  stopPodSandbox(podSandboxId: string): Promise<void>;
  removePodSandbox(podSandboxId: string): Promise<void>;
  podSandboxStatus(podSandboxId: string): Promise<PodSandboxStatus>;
  listPodSandbox(filter?: PodSandboxFilter): Promise<PodSandbox[]>;

  createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string>;
  startContainer(containerId: string): Promise<void>;
  /** `timeoutSeconds` is the grace period before SIGKILL. */
  stopContainer(containerId: string, timeoutSeconds: number): Promise<void>;
  removeContainer(containerId: string): Promise<void>;
  containerStatus(containerId: string): Promise<ContainerStatus>;
  listContainers(filter?: ContainerFilter): Promise<Container[]>;

  /** CRI ExecSync, optional (probes and exec hooks need it). */
  execSync?(containerId: string, cmd: string[], timeoutSeconds?: number): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }>;
  /** CRI GetContainerEvents, optional. Returns an unsubscribe function. */
  watchContainerEvents?(onEvent: (ev: ContainerEvent) => void): () => void;
}

/** CRI runtime.v1.ImageService. */
export interface ImageService {
  /** Resolves with the image reference (an image id or digest). */
  pullImage(image: ImageSpec, sandboxConfig?: PodSandboxConfig, auth?: AuthConfig): Promise<string>;
  /** The image, or undefined when it is not present. */
  imageStatus(image: ImageSpec): Promise<Image | undefined>;
  listImages(filter?: { image?: ImageSpec }): Promise<Image[]>;
  removeImage(image: ImageSpec): Promise<void>;
}

/** Both CRI services, as one object (containerd serves both on one socket). */
export interface ContainerRuntime extends RuntimeService, ImageService {}

/** A runtime call about an id the runtime does not know (gRPC NOT_FOUND). */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  constructor(what: string, id: string) {
    super(`${what} ${JSON.stringify(id)} not found`);
  }
}

/** True for {@link NotFoundError} or an error carrying gRPC code 5 (NOT_FOUND). */
export function isNotFound(err: unknown): boolean {
  return err instanceof NotFoundError || (err as { code?: unknown })?.code === 5;
}

/** CRI labels and annotations the kubelet sets, as upstream names them. */
export const criLabels = {
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  podUID: 'io.kubernetes.pod.uid',
  containerName: 'io.kubernetes.container.name',
  containerRestartCount: 'io.kubernetes.container.restartCount',
  podTerminationGracePeriod: 'io.kubernetes.pod.terminationGracePeriod',
  /** k8ts: the pod's restartPolicy on the sandbox, so a fake runtime can simulate batch pods. */
  restartPolicy: 'k8ts.io/restart-policy',
  /** k8ts: `init` on init containers' annotations (they run to completion whatever the policy). */
  containerType: 'k8ts.io/container-type',
} as const;

/** Nanoseconds since the epoch, now. */
export function nowNanos(): number {
  return Date.now() * 1e6;
}
