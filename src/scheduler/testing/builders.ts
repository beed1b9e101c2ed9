/** Object builders for scheduler tests and benchmarks: compact Node and Pod JSON. */
import type { Affinity, Container, ContainerPort, Node, Pod, ResourceList, Taint, Toleration, TopologySpreadConstraint } from '../framework/types.js';

/** Node options. */
export interface NodeOptions {
  cpu?: string;
  memory?: string;
  pods?: number;
  ephemeralStorage?: string;
  /** Extra allocatable resources, e.g. `{ 'example.com/gpu': '2' }`. */
  extra?: ResourceList;
  labels?: Record<string, string>;
  taints?: Taint[];
  unschedulable?: boolean;
  images?: Array<{ names: string[]; sizeBytes: number }>;
}

/** A Ready node named `name` (its hostname label is set) with the given allocatable. */
export function makeNode(name: string, o: NodeOptions = {}): Node {
  const allocatable: ResourceList = { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: String(o.pods ?? 110), ...(o.extra ?? {}) };
  if (o.ephemeralStorage) allocatable['ephemeral-storage'] = o.ephemeralStorage;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: `node-${name}`, labels: { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) } },
    spec: { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
    status: { allocatable, capacity: allocatable, ...(o.images ? { images: o.images } : {}) },
  };
}

/** Pod options. */
export interface PodOptions {
  namespace?: string;
  uid?: string;
  cpu?: string;
  memory?: string;
  /** Full requests of the single container (overrides cpu/memory). */
  requests?: ResourceList;
  labels?: Record<string, string>;
  nodeName?: string;
  priority?: number;
  tolerations?: Toleration[];
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  ports?: ContainerPort[];
  topologySpreadConstraints?: TopologySpreadConstraint[];
  containers?: Container[];
  initContainers?: Container[];
  overhead?: ResourceList;
  image?: string;
  startTime?: string;
  schedulerName?: string;
  schedulingGates?: string[];
  preemptionPolicy?: string;
  nominatedNodeName?: string;
  deletionTimestamp?: string;
  phase?: string;
}

/** A pod with one container (unless `containers` is given). */
export function makePod(name: string, o: PodOptions = {}): Pod {
  const requests: ResourceList = o.requests ?? {};
  if (!o.requests) {
    if (o.cpu) requests.cpu = o.cpu;
    if (o.memory) requests.memory = o.memory;
  }
  const containers: Container[] = o.containers ?? [
    { name: 'c', image: o.image ?? 'registry.k8s.io/pause:3.9', resources: Object.keys(requests).length ? { requests } : {}, ...(o.ports ? { ports: o.ports } : {}) },
  ];
  const ns = o.namespace ?? 'default';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ns,
      uid: o.uid ?? `uid-${ns}-${name}`,
      labels: o.labels,
      creationTimestamp: '2024-01-01T00:00:00Z',
      ...(o.deletionTimestamp ? { deletionTimestamp: o.deletionTimestamp } : {}),
    },
    spec: {
      containers,
      ...(o.initContainers ? { initContainers: o.initContainers } : {}),
      ...(o.overhead ? { overhead: o.overhead } : {}),
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.priority !== undefined ? { priority: o.priority } : {}),
      ...(o.tolerations ? { tolerations: o.tolerations } : {}),
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
      ...(o.affinity ? { affinity: o.affinity } : {}),
      ...(o.topologySpreadConstraints ? { topologySpreadConstraints: o.topologySpreadConstraints } : {}),
      ...(o.schedulerName ? { schedulerName: o.schedulerName } : {}),
      ...(o.schedulingGates ? { schedulingGates: o.schedulingGates.map((g) => ({ name: g })) } : {}),
      ...(o.preemptionPolicy ? { preemptionPolicy: o.preemptionPolicy } : {}),
    },
    status: {
      phase: o.phase ?? (o.nodeName ? 'Running' : 'Pending'),
      ...(o.startTime ? { startTime: o.startTime } : {}),
      ...(o.nominatedNodeName ? { nominatedNodeName: o.nominatedNodeName } : {}),
    },
  };
}
