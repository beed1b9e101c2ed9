/**
 * Pod and PodSpec defaults (upstream's SetDefaults_Pod, SetDefaults_PodSpec,
 * SetDefaults_Container and friends in pkg/apis/core/v1/defaults.go), plus the defaults that
 * upstream's admission plugins add to new Pods (ServiceAccount, Priority, DefaultTolerationSeconds).
 */

import { tryParseQuantity, type Quantity } from '../quantity.js';

type Obj = Record<string, any>;

/** Default grace period for pod termination (seconds). */
export const DefaultTerminationGracePeriodSeconds = 30;
/** Default scheduler name. */
export const DefaultSchedulerName = 'default-scheduler';
/** Seconds a pod tolerates not-ready/unreachable nodes by default (DefaultTolerationSeconds). */
export const DefaultTolerationSeconds = 300;

const obj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

/**
 * The tag an image reference resolves to: `latest` when neither tag nor digest is given,
 * `''` for a digest-only reference.
 */
export function imageTag(image: string): string {
  const at = image.indexOf('@');
  const name = at >= 0 ? image.slice(0, at) : image;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) return name.slice(colon + 1);
  return at >= 0 ? '' : 'latest';
}

/** `Always` for `:latest` or untagged images, else `IfNotPresent`. */
export function defaultImagePullPolicy(image: string): 'Always' | 'IfNotPresent' {
  // An empty or unparsable reference has no tag upstream, hence IfNotPresent.
  if (!image || image !== image.trim()) return 'IfNotPresent';
  return imageTag(image) === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultHandler(h: Obj | undefined): void {
  const get = obj(h?.httpGet);
  if (get) {
    if (!get.path) get.path = '/';
    if (!get.scheme) get.scheme = 'HTTP';
  }
}

function defaultProbe(p: unknown): void {
  const probe = obj(p);
  if (!probe) return;
  if (!probe.timeoutSeconds) probe.timeoutSeconds = 1;
  if (!probe.periodSeconds) probe.periodSeconds = 10;
  if (!probe.successThreshold) probe.successThreshold = 1;
  if (!probe.failureThreshold) probe.failureThreshold = 3;
  defaultHandler(probe);
  const grpc = obj(probe.grpc);
  if (grpc && grpc.service === undefined) grpc.service = '';
}

function defaultFieldRef(ref: unknown): void {
  const r = obj(ref);
  if (r && !r.apiVersion) r.apiVersion = 'v1';
}

/** Container defaults: pull policy, termination message, port protocol, probes, env field refs. */
export function defaultContainer(c: Obj): void {
  if (!c.imagePullPolicy) c.imagePullPolicy = defaultImagePullPolicy(typeof c.image === 'string' ? c.image : '');
  if (!c.terminationMessagePath) c.terminationMessagePath = '/dev/termination-log';
  if (!c.terminationMessagePolicy) c.terminationMessagePolicy = 'File';
  if (c.resources === undefined || c.resources === null) c.resources = {};
  for (const p of arr(c.ports)) if (!p.protocol) p.protocol = 'TCP';
  for (const e of arr(c.env)) defaultFieldRef(e?.valueFrom?.fieldRef);
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  const lc = obj(c.lifecycle);
  if (lc) {
    defaultHandler(obj(lc.postStart));
    defaultHandler(obj(lc.preStop));
  }
}

const volumeSourceKeys = [
  'hostPath', 'emptyDir', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'secret', 'nfs', 'iscsi', 'glusterfs',
  'persistentVolumeClaim', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc', 'azureFile', 'configMap',
  'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'projected', 'portworxVolume', 'scaleIO', 'storageos', 'csi',
  'ephemeral', 'image',
];

/** Volume defaults: no source means emptyDir; file modes 0644; token lifetime 1h. */
export function defaultVolume(v: Obj): void {
  if (!volumeSourceKeys.some((k) => v[k] !== undefined && v[k] !== null)) v.emptyDir = {};
  for (const k of ['secret', 'configMap', 'downwardAPI', 'projected']) {
    const src = obj(v[k]);
    if (src && (src.defaultMode === undefined || src.defaultMode === null)) src.defaultMode = 0o644;
  }
  for (const it of arr(v.downwardAPI?.items)) defaultFieldRef(it?.fieldRef);
  for (const s of arr(v.projected?.sources)) {
    const tok = obj(s?.serviceAccountToken);
    if (tok && (tok.expirationSeconds === undefined || tok.expirationSeconds === null)) tok.expirationSeconds = 3600;
    for (const it of arr(s?.downwardAPI?.items)) defaultFieldRef(it?.fieldRef);
  }
  const hp = obj(v.hostPath);
  if (hp && hp.type === undefined) hp.type = '';
  const iscsi = obj(v.iscsi);
  if (iscsi && !iscsi.iscsiInterface) iscsi.iscsiInterface = 'default';
  const ephemeralSpec = obj(v.ephemeral?.volumeClaimTemplate?.spec);
  if (ephemeralSpec && !ephemeralSpec.volumeMode) ephemeralSpec.volumeMode = 'Filesystem';
}

function defaultHostNetworkPorts(containers: Obj[]): void {
  for (const c of containers) for (const p of arr(c.ports)) if (!p.hostPort) p.hostPort = p.containerPort;
}

/** PodSpec defaults shared by Pods and pod templates. Mutates and returns `spec`. */
export function defaultPodSpec(spec: Obj): Obj {
  if (!spec.dnsPolicy) spec.dnsPolicy = 'ClusterFirst';
  if (!spec.restartPolicy) spec.restartPolicy = 'Always';
  if (spec.hostNetwork) {
    defaultHostNetworkPorts(arr(spec.containers));
    defaultHostNetworkPorts(arr(spec.initContainers));
  }
  if (spec.securityContext === undefined || spec.securityContext === null) spec.securityContext = {};
  if (spec.terminationGracePeriodSeconds === undefined || spec.terminationGracePeriodSeconds === null) {
    spec.terminationGracePeriodSeconds = DefaultTerminationGracePeriodSeconds;
  }
  if (!spec.schedulerName) spec.schedulerName = DefaultSchedulerName;
  for (const c of arr(spec.containers)) defaultContainer(c);
  for (const c of arr(spec.initContainers)) defaultContainer(c);
  for (const c of arr(spec.ephemeralContainers)) defaultContainer(c);
  for (const v of arr(spec.volumes)) defaultVolume(v);
  return spec;
}

/** Defaults of a PodTemplateSpec (`spec.template` in workloads). */
export function defaultPodTemplateSpec(template: unknown): void {
  const t = obj(template);
  if (!t) return;
  t.spec = defaultPodSpec(obj(t.spec) ?? {});
}

function copyLimitsToRequests(containers: Obj[]): void {
  for (const c of containers) {
    const limits = obj(c.resources?.limits);
    if (!limits) continue;
    const res = (c.resources ??= {});
    const requests = (res.requests ??= {});
    for (const [k, v] of Object.entries(limits)) if (!(k in requests)) requests[k] = v;
  }
}

/** Pod defaults: the PodSpec defaults plus Pod-only ones (requests from limits, enableServiceLinks). */
export function defaultPod(pod: Obj): Obj {
  const spec = (pod.spec = defaultPodSpec(obj(pod.spec) ?? {}));
  copyLimitsToRequests(arr(spec.containers));
  copyLimitsToRequests(arr(spec.initContainers));
  if (spec.enableServiceLinks === undefined || spec.enableServiceLinks === null) spec.enableServiceLinks = true;
  return pod;
}

/** Priority values of the built-in classes. */
export const systemPriorities: Record<string, number> = {
  'system-node-critical': 2000001000,
  'system-cluster-critical': 2000000000,
};

/** Options for {@link admitNewPod}. */
export interface PodAdmissionOptions {
  /** Resolve a PriorityClass by name (value and preemptionPolicy), when classes are known. */
  priorityClass?: (name: string) => { value: number; preemptionPolicy?: string } | undefined;
  /** The value of the globalDefault PriorityClass, when one exists. */
  globalDefaultPriority?: { value: number; preemptionPolicy?: string };
  /** DefaultTolerationSeconds: tolerationSeconds for node.kubernetes.io/not-ready (default 300). */
  notReadyTolerationSeconds?: number;
  /** DefaultTolerationSeconds: tolerationSeconds for node.kubernetes.io/unreachable (default 300). */
  unreachableTolerationSeconds?: number;
}

/**
 * What upstream's admission adds to a new Pod: serviceAccountName `default` (and the
 * deprecated serviceAccount), priority and preemptionPolicy, and 300 s tolerations for
 * not-ready and unreachable nodes.
 */
export function admitNewPod(pod: Obj, opts: PodAdmissionOptions = {}): Obj {
  defaultServiceAccountName(pod);
  const name = pod.spec.priorityClassName;
  setPodPriority(pod, name ? (systemPriorities[name] !== undefined ? { value: systemPriorities[name] } : opts.priorityClass?.(name)) : opts.globalDefaultPriority);
  addDefaultTolerations(pod, opts.notReadyTolerationSeconds ?? DefaultTolerationSeconds, opts.unreachableTolerationSeconds ?? DefaultTolerationSeconds);
  return pod;
}

/** serviceAccountName `default` when unset, mirrored into the deprecated serviceAccount field. */
export function defaultServiceAccountName(pod: Obj): void {
  const spec = (pod.spec ??= {});
  if (!spec.serviceAccountName) spec.serviceAccountName = spec.serviceAccount || 'default';
  spec.serviceAccount = spec.serviceAccountName;
}

/** Priority admission's result: spec.priority and preemptionPolicy from the resolved class (none: 0). */
export function setPodPriority(pod: Obj, cls: { value: number; preemptionPolicy?: string } | undefined): void {
  const spec = (pod.spec ??= {});
  if (spec.priority === undefined || spec.priority === null) {
    spec.priority = cls?.value ?? 0;
    if (spec.preemptionPolicy === undefined || spec.preemptionPolicy === null) spec.preemptionPolicy = cls?.preemptionPolicy ?? 'PreemptLowerPriority';
  } else if (spec.preemptionPolicy === undefined || spec.preemptionPolicy === null) {
    spec.preemptionPolicy = 'PreemptLowerPriority';
  }
}

/** DefaultTolerationSeconds: tolerate not-ready and unreachable nodes for a while, unless the pod says otherwise. */
export function addDefaultTolerations(pod: Obj, notReadySeconds: number, unreachableSeconds: number): void {
  const spec = (pod.spec ??= {});
  const tolerations: Obj[] = Array.isArray(spec.tolerations) ? spec.tolerations : [];
  const tolerates = (k: string) =>
    tolerations.some((t) => (t?.operator === 'Exists' && !t?.key) || (t?.key === k && (!t?.effect || t?.effect === 'NoExecute')));
  const seconds: [string, number][] = [
    ['node.kubernetes.io/not-ready', notReadySeconds],
    ['node.kubernetes.io/unreachable', unreachableSeconds],
  ];
  for (const [k, secs] of seconds) {
    if (!tolerates(k)) tolerations.push({ key: k, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: secs });
  }
  spec.tolerations = tolerations;
}

/** A Pod's QoS class from its containers' cpu/memory requests and limits (upstream's ComputePodQOS). */
export function computePodQOS(pod: Obj): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const requests = new Map<string, Quantity>();
  const limits = new Map<string, Quantity>();
  let guaranteed = true;
  const add = (m: Map<string, Quantity>, k: string, q: Quantity) => m.set(k, m.has(k) ? m.get(k)!.add(q) : q);
  for (const c of [...arr(pod.spec?.containers), ...arr(pod.spec?.initContainers)]) {
    for (const [name, raw] of Object.entries(obj(c.resources?.requests) ?? {})) {
      if (name !== 'cpu' && name !== 'memory') continue;
      const q = tryParseQuantity(raw);
      if (q && q.sign() > 0) add(requests, name, q);
    }
    const found = new Set<string>();
    for (const [name, raw] of Object.entries(obj(c.resources?.limits) ?? {})) {
      if (name !== 'cpu' && name !== 'memory') continue;
      const q = tryParseQuantity(raw);
      if (q && q.sign() > 0) {
        found.add(name);
        add(limits, name, q);
      }
    }
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, req] of requests) {
      const lim = limits.get(name);
      if (!lim || lim.cmp(req) !== 0) {
        guaranteed = false;
        break;
      }
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}
