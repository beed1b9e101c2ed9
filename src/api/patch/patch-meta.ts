/**
 * Patch metadata of the built-in API types: the `patchStrategy` / `patchMergeKey` struct tags and the
 * `+listType` / `+listMapKey` / `+mapType` / `+structType` / `+default` markers of k8s.io/api and
 * k8s.io/apimachinery, keyed by OpenAPI definition name and JSON field name.
 *
 * Facts only. A field absent here has no patch strategy: its lists replace and its maps merge.
 * Where a list's SSA shape differs from what its patch strategy implies (several map keys, or an
 * atomic list that still merges under strategic merge patch), `listType` / `listMapKeys` say so.
 */

/** Patch facts of one field. */
export interface FieldPatchFacts {
  /** The patchStrategy tag: 'merge', 'retainKeys', 'merge,retainKeys' or 'replace'. */
  strategy?: string;
  /** The patchMergeKey tag. */
  mergeKey?: string;
  /** The +listType marker, when it is not what the patch strategy implies. */
  listType?: 'atomic' | 'map' | 'set';
  /** The +listMapKey markers, when they are not just the merge key. */
  listMapKeys?: readonly string[];
  /** +default values of list-map key fields, which server-side apply uses for elements that omit them. */
  keyDefaults?: Readonly<Record<string, unknown>>;
  /** A +mapType / +structType marker on the field itself. */
  mapType?: 'atomic' | 'granular';
}

const core = 'io.k8s.api.core.v1';
const meta = 'io.k8s.apimachinery.pkg.apis.meta.v1';

const merge = (mergeKey: string, more: FieldPatchFacts = {}): FieldPatchFacts => ({ strategy: 'merge', mergeKey, ...more });
const conditions = { conditions: merge('type') };
const containerLists: Record<string, FieldPatchFacts> = {
  ports: merge('containerPort', { listMapKeys: ['containerPort', 'protocol'], keyDefaults: { protocol: 'TCP' } }),
  env: merge('name'),
  volumeMounts: merge('mountPath'),
  volumeDevices: merge('devicePath'),
};

/** Definition name → field → patch facts. */
export const patchMeta: Readonly<Record<string, Readonly<Record<string, FieldPatchFacts>>>> = {
  // meta/v1
  [`${meta}.ObjectMeta`]: {
    finalizers: { strategy: 'merge' },
    ownerReferences: merge('uid'),
  },

  // core/v1
  [`${core}.PodSpec`]: {
    volumes: { strategy: 'merge,retainKeys', mergeKey: 'name' },
    initContainers: merge('name'),
    containers: merge('name'),
    ephemeralContainers: merge('name'),
    imagePullSecrets: merge('name'),
    hostAliases: merge('ip'),
    topologySpreadConstraints: merge('topologyKey', { listMapKeys: ['topologyKey', 'whenUnsatisfiable'] }),
    schedulingGates: merge('name'),
    resourceClaims: { strategy: 'merge,retainKeys', mergeKey: 'name' },
    nodeSelector: { mapType: 'atomic' },
  },
  [`${core}.Container`]: containerLists,
  [`${core}.EphemeralContainer`]: containerLists,
  [`${core}.ContainerStatus`]: {
    volumeMounts: merge('mountPath'),
    allocatedResourcesStatus: merge('name'),
  },
  [`${core}.ResourceRequirements`]: {
    claims: { listType: 'map', listMapKeys: ['name'] },
  },
  [`${core}.PodStatus`]: {
    conditions: merge('type'),
    podIPs: merge('ip'),
    hostIPs: merge('ip', { listType: 'atomic' }),
    resourceClaimStatuses: { strategy: 'merge,retainKeys', mergeKey: 'name' },
  },
  [`${core}.ReplicationControllerSpec`]: { selector: { mapType: 'atomic' } },
  [`${core}.ReplicationControllerStatus`]: conditions,
  [`${core}.ServiceSpec`]: {
    ports: merge('port', { listMapKeys: ['port', 'protocol'], keyDefaults: { protocol: 'TCP' } }),
    selector: { mapType: 'atomic' },
  },
  [`${core}.ServiceStatus`]: conditions,
  [`${core}.ServiceAccount`]: { secrets: merge('name') },
  [`${core}.NodeSpec`]: { podCIDRs: { strategy: 'merge' } },
  [`${core}.NodeStatus`]: { conditions: merge('type'), addresses: merge('type') },
  [`${core}.NamespaceStatus`]: conditions,
  [`${core}.PersistentVolumeClaimStatus`]: conditions,
  [`${core}.PersistentVolumeSpec`]: { claimRef: { mapType: 'granular' } },
  [`${core}.ComponentStatus`]: conditions,

  // apps/v1
  'io.k8s.api.apps.v1.DeploymentSpec': { strategy: { strategy: 'retainKeys' } },
  'io.k8s.api.apps.v1.DeploymentStatus': conditions,
  'io.k8s.api.apps.v1.ReplicaSetStatus': conditions,
  'io.k8s.api.apps.v1.DaemonSetStatus': conditions,
  'io.k8s.api.apps.v1.StatefulSetStatus': conditions,

  // batch/v1: conditions merge under SMP but are atomic for server-side apply.
  'io.k8s.api.batch.v1.JobStatus': { conditions: merge('type', { listType: 'atomic' }) },

  // policy/v1
  'io.k8s.api.policy.v1.PodDisruptionBudgetStatus': conditions,

  // autoscaling/v2
  'io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus': conditions,

  // discovery/v1 declares no patch strategies (EndpointSlice endpoints and ports are atomic).

  // storage/v1
  'io.k8s.api.storage.v1.CSINodeSpec': { drivers: merge('name') },

  // admissionregistration/v1
  'io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration': { webhooks: merge('name') },
  'io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration': { webhooks: merge('name') },

  // flowcontrol/v1
  'io.k8s.api.flowcontrol.v1.FlowSchemaStatus': conditions,
  'io.k8s.api.flowcontrol.v1.PriorityLevelConfigurationStatus': conditions,

  // apiregistration/v1
  'io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIServiceStatus': conditions,
};

/** Struct types marked `+structType=atomic`: server-side apply owns and replaces them whole. */
export const atomicTypes: ReadonlySet<string> = new Set([
  `${meta}.LabelSelector`,
  `${meta}.OwnerReference`,
  `${core}.ConfigMapKeySelector`,
  `${core}.EndpointAddress`,
  `${core}.EndpointPort`,
  `${core}.FileKeySelector`,
  `${core}.LocalObjectReference`,
  `${core}.NodeSelector`,
  `${core}.NodeSelectorTerm`,
  `${core}.ObjectFieldSelector`,
  `${core}.ObjectReference`,
  `${core}.ResourceFieldSelector`,
  `${core}.ScopeSelector`,
  `${core}.SecretKeySelector`,
  `${core}.SecretReference`,
  `${core}.TopologySelectorTerm`,
  `${core}.TypedLocalObjectReference`,
]);
