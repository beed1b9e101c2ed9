/**
 * A small OpenAPI v3 `components.schemas` fixture in upstream's shape (refs wrapped in allOf, no patch
 * extensions: those come from the patch-meta table), covering Pod, Deployment, Node, Service and the
 * types they reach. For tests only.
 */

const ref = (name: string): Record<string, unknown> => ({ allOf: [{ $ref: `#/components/schemas/${name}` }] });
const str = { type: 'string' };
const int = { type: 'integer', format: 'int32' };
const bool = { type: 'boolean' };
const strMap = { type: 'object', additionalProperties: { type: 'string' } };
const list = (items: Record<string, unknown>): Record<string, unknown> => ({ type: 'array', items });
const obj = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'object',
  properties,
  ...extra,
});
const gvk = (group: string, version: string, kind: string): Record<string, unknown> => ({
  'x-kubernetes-group-version-kind': [{ group, version, kind }],
});

const core = 'io.k8s.api.core.v1';
const meta = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const apps = 'io.k8s.api.apps.v1';

/** The fixture schemas. */
export const fixtureSchemas: Record<string, unknown> = {
  [`${meta}.Time`]: { type: 'string', format: 'date-time' },
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { format: 'int-or-string', oneOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true },
  'io.k8s.apimachinery.pkg.api.resource.Quantity': { oneOf: [{ type: 'string' }, { type: 'number' }], 'x-kubernetes-int-or-string': true },
  [`${meta}.FieldsV1`]: { type: 'object' },
  [`${meta}.ManagedFieldsEntry`]: obj({
    apiVersion: str,
    fieldsType: str,
    fieldsV1: ref(`${meta}.FieldsV1`),
    manager: str,
    operation: str,
    subresource: str,
    time: ref(`${meta}.Time`),
  }),
  [`${meta}.OwnerReference`]: obj({ apiVersion: str, kind: str, name: str, uid: str, controller: bool, blockOwnerDeletion: bool }),
  [`${meta}.ObjectMeta`]: obj({
    name: str,
    generateName: str,
    namespace: str,
    uid: str,
    resourceVersion: str,
    generation: { type: 'integer', format: 'int64' },
    creationTimestamp: ref(`${meta}.Time`),
    deletionTimestamp: ref(`${meta}.Time`),
    labels: strMap,
    annotations: strMap,
    finalizers: list(str),
    ownerReferences: list(ref(`${meta}.OwnerReference`)),
    managedFields: list(ref(`${meta}.ManagedFieldsEntry`)),
  }),
  [`${meta}.LabelSelectorRequirement`]: obj({ key: str, operator: str, values: list(str) }),
  [`${meta}.LabelSelector`]: obj({
    matchLabels: strMap,
    matchExpressions: list(ref(`${meta}.LabelSelectorRequirement`)),
  }),
  [`${meta}.Condition`]: obj({ type: str, status: str, reason: str, message: str, lastTransitionTime: ref(`${meta}.Time`) }),

  [`${core}.ContainerPort`]: obj({ name: str, containerPort: int, hostPort: int, protocol: { type: 'string', default: 'TCP' } }),
  [`${core}.EnvVarSource`]: obj({ fieldRef: ref(`${core}.ObjectFieldSelector`), secretKeyRef: ref(`${core}.SecretKeySelector`) }),
  [`${core}.ObjectFieldSelector`]: obj({ apiVersion: str, fieldPath: str }),
  [`${core}.SecretKeySelector`]: obj({ name: str, key: str, optional: bool }),
  [`${core}.EnvVar`]: obj({ name: str, value: str, valueFrom: ref(`${core}.EnvVarSource`) }),
  [`${core}.VolumeMount`]: obj({ name: str, mountPath: str, readOnly: bool, subPath: str }),
  [`${core}.ResourceRequirements`]: obj({
    limits: { type: 'object', additionalProperties: ref('io.k8s.apimachinery.pkg.api.resource.Quantity') },
    requests: { type: 'object', additionalProperties: ref('io.k8s.apimachinery.pkg.api.resource.Quantity') },
  }),
  [`${core}.Container`]: obj({
    name: str,
    image: str,
    imagePullPolicy: str,
    command: list(str),
    args: list(str),
    ports: list(ref(`${core}.ContainerPort`)),
    env: list(ref(`${core}.EnvVar`)),
    volumeMounts: list(ref(`${core}.VolumeMount`)),
    resources: ref(`${core}.ResourceRequirements`),
  }),
  [`${core}.EmptyDirVolumeSource`]: obj({ medium: str, sizeLimit: ref('io.k8s.apimachinery.pkg.api.resource.Quantity') }),
  [`${core}.ConfigMapVolumeSource`]: obj({ name: str, defaultMode: int }),
  [`${core}.SecretVolumeSource`]: obj({ secretName: str, defaultMode: int }),
  [`${core}.Volume`]: obj({
    name: str,
    emptyDir: ref(`${core}.EmptyDirVolumeSource`),
    configMap: ref(`${core}.ConfigMapVolumeSource`),
    secret: ref(`${core}.SecretVolumeSource`),
  }),
  [`${core}.LocalObjectReference`]: obj({ name: str }),
  [`${core}.HostAlias`]: obj({ ip: str, hostnames: list(str) }),
  [`${core}.Toleration`]: obj({ key: str, operator: str, value: str, effect: str }),
  [`${core}.TopologySpreadConstraint`]: obj({ maxSkew: int, topologyKey: str, whenUnsatisfiable: str, labelSelector: ref(`${meta}.LabelSelector`) }),
  [`${core}.PodSpec`]: obj({
    volumes: list(ref(`${core}.Volume`)),
    initContainers: list(ref(`${core}.Container`)),
    containers: list(ref(`${core}.Container`)),
    restartPolicy: str,
    nodeName: str,
    nodeSelector: strMap,
    serviceAccountName: str,
    imagePullSecrets: list(ref(`${core}.LocalObjectReference`)),
    hostAliases: list(ref(`${core}.HostAlias`)),
    tolerations: list(ref(`${core}.Toleration`)),
    topologySpreadConstraints: list(ref(`${core}.TopologySpreadConstraint`)),
    terminationGracePeriodSeconds: { type: 'integer', format: 'int64' },
  }),
  [`${core}.PodCondition`]: obj({ type: str, status: str, reason: str, lastTransitionTime: ref(`${meta}.Time`) }),
  [`${core}.PodIP`]: obj({ ip: str }),
  [`${core}.PodStatus`]: obj({
    phase: str,
    conditions: list(ref(`${core}.PodCondition`)),
    podIP: str,
    podIPs: list(ref(`${core}.PodIP`)),
  }),
  [`${core}.Pod`]: obj(
    { apiVersion: str, kind: str, metadata: ref(`${meta}.ObjectMeta`), spec: ref(`${core}.PodSpec`), status: ref(`${core}.PodStatus`) },
    gvk('', 'v1', 'Pod'),
  ),
  [`${core}.PodTemplateSpec`]: obj({ metadata: ref(`${meta}.ObjectMeta`), spec: ref(`${core}.PodSpec`) }),
  [`${core}.Taint`]: obj({ key: str, value: str, effect: str }),
  [`${core}.NodeSpec`]: obj({ podCIDR: str, podCIDRs: list(str), unschedulable: bool, taints: list(ref(`${core}.Taint`)) }),
  [`${core}.Node`]: obj({ apiVersion: str, kind: str, metadata: ref(`${meta}.ObjectMeta`), spec: ref(`${core}.NodeSpec`) }, gvk('', 'v1', 'Node')),
  [`${core}.ServicePort`]: obj({
    name: str,
    protocol: { type: 'string', default: 'TCP' },
    port: int,
    targetPort: ref('io.k8s.apimachinery.pkg.util.intstr.IntOrString'),
    nodePort: int,
  }),
  [`${core}.ServiceSpec`]: obj({ ports: list(ref(`${core}.ServicePort`)), selector: strMap, type: str, clusterIP: str }),
  [`${core}.Service`]: obj(
    { apiVersion: str, kind: str, metadata: ref(`${meta}.ObjectMeta`), spec: ref(`${core}.ServiceSpec`) },
    gvk('', 'v1', 'Service'),
  ),
  [`${core}.ConfigMap`]: obj(
    { apiVersion: str, kind: str, metadata: ref(`${meta}.ObjectMeta`), data: strMap },
    gvk('', 'v1', 'ConfigMap'),
  ),

  [`${apps}.RollingUpdateDeployment`]: obj({
    maxSurge: ref('io.k8s.apimachinery.pkg.util.intstr.IntOrString'),
    maxUnavailable: ref('io.k8s.apimachinery.pkg.util.intstr.IntOrString'),
  }),
  [`${apps}.DeploymentStrategy`]: obj({ type: str, rollingUpdate: ref(`${apps}.RollingUpdateDeployment`) }),
  [`${apps}.DeploymentSpec`]: obj({
    replicas: int,
    selector: ref(`${meta}.LabelSelector`),
    template: ref(`${core}.PodTemplateSpec`),
    strategy: ref(`${apps}.DeploymentStrategy`),
    minReadySeconds: int,
    revisionHistoryLimit: int,
    paused: bool,
  }),
  [`${apps}.DeploymentCondition`]: obj({ type: str, status: str, reason: str, message: str }),
  [`${apps}.DeploymentStatus`]: obj({ replicas: int, readyReplicas: int, conditions: list(ref(`${apps}.DeploymentCondition`)) }),
  [`${apps}.Deployment`]: obj(
    { apiVersion: str, kind: str, metadata: ref(`${meta}.ObjectMeta`), spec: ref(`${apps}.DeploymentSpec`), status: ref(`${apps}.DeploymentStatus`) },
    gvk('apps', 'v1', 'Deployment'),
  ),
};
