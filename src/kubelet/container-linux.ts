/**
 * The Linux part of a CRI ContainerConfig (upstream kuberuntime_container_linux.go and
 * security_context.go): cgroup resources from the container's requests and limits, the OOM score
 * from the pod's QoS class, and the effective security context (pod-level defaults merged with the
 * container's).
 */
import { totalmem } from 'node:os';
import { computePodQOS } from '../api/defaulting/pod.js';
import { tryParseQuantity } from '../api/quantity.js';
import type { KObject } from '../client/rest-client.js';
import type { LinuxContainerConfig, LinuxContainerResources, LinuxContainerSecurityContext, NamespaceOption } from './runtime/runtime.js';

/** The pod's QoS class (upstream GetPodQOS); the API's computation, re-exported for the kubelet. */
export const qosClass = computePodQOS;

const MIN_SHARES = 2;
const MAX_SHARES = 262144;
const SHARES_PER_CPU = 1024;
/** CFS period, µs (upstream quotaPeriod). */
export const CPU_PERIOD = 100000;
const MIN_QUOTA = 1000;

/** cpu.shares for a milliCPU request (upstream MilliCPUToShares). */
export function milliCPUToShares(milliCPU: number): number {
  if (milliCPU === 0) return MIN_SHARES;
  const shares = Math.floor((milliCPU * SHARES_PER_CPU) / 1000);
  return Math.min(MAX_SHARES, Math.max(MIN_SHARES, shares));
}

/** CFS quota for a milliCPU limit over `period` µs; 0 means unlimited (upstream milliCPUToQuota). */
export function milliCPUToQuota(milliCPU: number, period: number = CPU_PERIOD): number {
  if (milliCPU === 0) return 0;
  return Math.max(MIN_QUOTA, Math.floor((milliCPU * period) / 1000));
}

function milli(raw: unknown): number {
  return tryParseQuantity(raw)?.milliValue() ?? 0;
}
function whole(raw: unknown): number {
  return tryParseQuantity(raw)?.value() ?? 0;
}

const GUARANTEED_OOM_SCORE_ADJ = -997;
const BESTEFFORT_OOM_SCORE_ADJ = 1000;

/** oom_score_adj of a container (upstream qos.GetContainerOOMScoreAdjust). */
export function containerOOMScoreAdjust(pod: KObject, container: KObject, memoryCapacity: number): number {
  const critical = (pod.spec?.priority ?? 0) >= 2000000000 || isStaticPod(pod);
  if (critical && pod.spec?.priorityClassName === 'system-node-critical') return GUARANTEED_OOM_SCORE_ADJ;
  const qos = qosClass(pod);
  if (qos === 'Guaranteed') return GUARANTEED_OOM_SCORE_ADJ;
  if (qos === 'BestEffort') return BESTEFFORT_OOM_SCORE_ADJ;
  const request = whole(container.resources?.requests?.memory);
  let adj = 1000 - Math.floor((1000 * request) / Math.max(1, memoryCapacity));
  if (adj < 1000 + GUARANTEED_OOM_SCORE_ADJ) adj = 1000 + GUARANTEED_OOM_SCORE_ADJ;
  if (adj === BESTEFFORT_OOM_SCORE_ADJ) adj -= 1;
  return adj;
}

function isStaticPod(pod: KObject): boolean {
  const src = pod.metadata?.annotations?.['kubernetes.io/config.source'];
  return (src !== undefined && src !== 'api') || pod.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined;
}

/** Options of {@link linuxContainerConfig}. */
export interface LinuxConfigOptions {
  /** Node memory capacity in bytes, for burstable OOM scores. Default: os.totalmem(). */
  memoryCapacity?: number;
  /** Disable CFS quota (kubelet --cpu-cfs-quota=false). */
  noCFSQuota?: boolean;
  /** Container id whose PID namespace an ephemeral container targets. */
  pidTarget?: string;
}

/** Container cgroup resources (upstream generateLinuxContainerResources). */
export function linuxContainerResources(pod: KObject, container: KObject, o: LinuxConfigOptions = {}): LinuxContainerResources {
  const requests = container.resources?.requests ?? {};
  const limits = container.resources?.limits ?? {};
  const cpuLimit = milli(limits.cpu);
  // A request defaults to the limit when only the limit is set.
  const cpuShares = requests.cpu === undefined && cpuLimit !== 0 ? milliCPUToShares(cpuLimit) : milliCPUToShares(milli(requests.cpu));
  const r: LinuxContainerResources = { cpuShares };
  const mem = whole(limits.memory);
  if (mem !== 0) r.memoryLimitInBytes = mem;
  if (!o.noCFSQuota) {
    r.cpuQuota = milliCPUToQuota(cpuLimit, CPU_PERIOD);
    r.cpuPeriod = CPU_PERIOD;
  }
  r.oomScoreAdj = containerOOMScoreAdjust(pod, container, o.memoryCapacity ?? totalmem());
  const huge = Object.entries(limits)
    .filter(([k]) => k.startsWith('hugepages-'))
    .map(([k, v]) => ({ pageSize: hugePageSize(k.slice('hugepages-'.length)), limit: whole(v) }));
  if (huge.length) r.hugepageLimits = huge;
  return r;
}

/** `2Mi` → `2MB`, `1Gi` → `1GB` (the cgroup file's size notation, upstream HugePageUnitSizeFromByteSize). */
function hugePageSize(q: string): string {
  let bytes = whole(q);
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) {
    bytes /= 1024;
    i++;
  }
  return `${bytes}${units[i]}`;
}

/** The pod's namespace modes, as the sandbox has them (upstream NamespacesForPod). */
export function namespacesForPod(pod: KObject): NamespaceOption {
  const spec = pod.spec ?? {};
  return {
    network: spec.hostNetwork ? 'NODE' : 'POD',
    pid: spec.hostPID ? 'NODE' : spec.shareProcessNamespace ? 'POD' : 'CONTAINER',
    ipc: spec.hostIPC ? 'NODE' : 'POD',
  };
}

const POD_LEVEL_FIELDS = ['runAsUser', 'runAsGroup', 'runAsNonRoot', 'seLinuxOptions', 'seccompProfile', 'appArmorProfile', 'windowsOptions'] as const;

/** The container's securityContext with pod-level fields filled in (upstream DetermineEffectiveSecurityContext). */
export function effectiveSecurityContext(pod: KObject, container: KObject): KObject {
  const podSc = pod.spec?.securityContext ?? {};
  const sc: KObject = { ...(container.securityContext ?? {}) };
  for (const f of POD_LEVEL_FIELDS) if (sc[f] === undefined && podSc[f] !== undefined) sc[f] = podSc[f];
  return sc;
}

/** Paths the runtime masks in /proc unless procMount is Unmasked (upstream defaultMaskedPaths). */
export const DEFAULT_MASKED_PATHS = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'];
/** Paths the runtime mounts read-only unless procMount is Unmasked (upstream defaultReadonlyPaths). */
export const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

function profile(p: KObject | undefined, kind: 'seccomp' | 'apparmor'): LinuxContainerSecurityContext['seccomp'] | undefined {
  switch (p?.type) {
    case 'RuntimeDefault':
      return { profileType: 'RuntimeDefault' };
    case 'Localhost':
      return { profileType: 'Localhost', localhostRef: kind === 'seccomp' ? `/var/lib/kubelet/seccomp/${p.localhostProfile}` : p.localhostProfile };
    case 'Unconfined':
      return { profileType: 'Unconfined' };
  }
  // No profile: seccomp is unconfined (kubelet --seccomp-default=false); AppArmor is left unset, since
  // containerd rejects any AppArmor profile but Unconfined on hosts without AppArmor.
  return kind === 'seccomp' ? { profileType: 'Unconfined' } : undefined;
}

/** The CRI security context (upstream determineEffectiveSecurityContext). */
export function linuxSecurityContext(pod: KObject, container: KObject, o: LinuxConfigOptions = {}): LinuxContainerSecurityContext {
  const eff = effectiveSecurityContext(pod, container);
  const out: LinuxContainerSecurityContext = {};
  if (eff.capabilities) out.capabilities = { addCapabilities: [...(eff.capabilities.add ?? [])], dropCapabilities: [...(eff.capabilities.drop ?? [])] };
  if (eff.privileged !== undefined) out.privileged = !!eff.privileged;
  if (eff.readOnlyRootFilesystem !== undefined) out.readonlyRootfs = !!eff.readOnlyRootFilesystem;
  if (eff.runAsUser !== undefined) out.runAsUser = { value: Number(eff.runAsUser) };
  if (eff.runAsGroup !== undefined) out.runAsGroup = { value: Number(eff.runAsGroup) };
  if (eff.seLinuxOptions) {
    const { user, role, type, level } = eff.seLinuxOptions;
    out.selinuxOptions = Object.fromEntries(Object.entries({ user, role, type, level }).filter(([, v]) => v !== undefined));
  }
  out.seccomp = profile(eff.seccompProfile, 'seccomp');
  const apparmor = profile(eff.appArmorProfile, 'apparmor');
  if (apparmor) out.apparmor = apparmor;
  out.namespaceOptions = namespacesForPod(pod);
  if (o.pidTarget && out.namespaceOptions.pid === 'CONTAINER') out.namespaceOptions = { ...out.namespaceOptions, pid: 'TARGET', targetId: o.pidTarget };
  const podSc = pod.spec?.securityContext ?? {};
  const groups: number[] = [];
  if (podSc.fsGroup !== undefined) groups.push(Number(podSc.fsGroup));
  for (const g of podSc.supplementalGroups ?? []) groups.push(Number(g));
  if (groups.length) out.supplementalGroups = groups;
  // no_new_privs only when allowPrivilegeEscalation is set to false.
  out.noNewPrivs = eff.allowPrivilegeEscalation === undefined ? false : !eff.allowPrivilegeEscalation;
  const unmasked = eff.procMount === 'Unmasked';
  out.maskedPaths = unmasked ? [] : [...DEFAULT_MASKED_PATHS];
  out.readonlyPaths = unmasked ? [] : [...DEFAULT_READONLY_PATHS];
  return out;
}

/** CRI LinuxContainerConfig for a container of a pod. */
export function linuxContainerConfig(pod: KObject, container: KObject, o: LinuxConfigOptions = {}): LinuxContainerConfig {
  return { resources: linuxContainerResources(pod, container, o), securityContext: linuxSecurityContext(pod, container, o) };
}

/** `name_namespace(uid)`, upstream format.Pod. */
function formatPod(pod: KObject): string {
  return `${pod.metadata?.name}_${pod.metadata?.namespace}(${pod.metadata?.uid})`;
}

/**
 * Throws when runAsNonRoot is set and the container would run as root (upstream verifyRunAsNonRoot);
 * `imageUid`/`imageUser` are the image's USER as CRI ImageStatus reports it.
 */
export function verifyRunAsNonRoot(pod: KObject, container: KObject, imageUid?: number, imageUser?: string): void {
  const eff = effectiveSecurityContext(pod, container);
  if (!eff.runAsNonRoot) return;
  if (eff.runAsUser !== undefined) {
    if (Number(eff.runAsUser) === 0) throw new Error(`container's runAsUser breaks non-root policy (pod: ${JSON.stringify(formatPod(pod))}, container: ${container.name})`);
    return;
  }
  if (imageUid === 0) throw new Error(`container has runAsNonRoot and image will run as root (pod: ${JSON.stringify(formatPod(pod))}, container: ${container.name})`);
  if (imageUid === undefined && imageUser) throw new Error(`container has runAsNonRoot and image has non-numeric user (${imageUser}), cannot verify user is non-root (pod: ${JSON.stringify(formatPod(pod))}, container: ${container.name})`);
}
