/**
 * REST locations of the built-in resources the control-plane components use, so every component
 * spells them the same way.
 */
import type { ResourceRef } from './rest-client.js';

const core = (resource: string, namespaced = true): ResourceRef => ({ group: '', version: 'v1', resource, namespaced });
const grp = (group: string, version: string, resource: string, namespaced = true): ResourceRef => ({ group, version, resource, namespaced });

/** Well-known resources by their plural name. */
export const resources = {
  pods: core('pods'),
  nodes: core('nodes', false),
  namespaces: core('namespaces', false),
  services: core('services'),
  endpoints: core('endpoints'),
  events: core('events'),
  configmaps: core('configmaps'),
  secrets: core('secrets'),
  serviceaccounts: core('serviceaccounts'),
  persistentvolumes: core('persistentvolumes', false),
  persistentvolumeclaims: core('persistentvolumeclaims'),
  replicationcontrollers: core('replicationcontrollers'),
  resourcequotas: core('resourcequotas'),
  limitranges: core('limitranges'),
  deployments: grp('apps', 'v1', 'deployments'),
  replicasets: grp('apps', 'v1', 'replicasets'),
  statefulsets: grp('apps', 'v1', 'statefulsets'),
  daemonsets: grp('apps', 'v1', 'daemonsets'),
  controllerrevisions: grp('apps', 'v1', 'controllerrevisions'),
  jobs: grp('batch', 'v1', 'jobs'),
  cronjobs: grp('batch', 'v1', 'cronjobs'),
  leases: grp('coordination.k8s.io', 'v1', 'leases'),
  endpointslices: grp('discovery.k8s.io', 'v1', 'endpointslices'),
  eventsV1: grp('events.k8s.io', 'v1', 'events'),
  poddisruptionbudgets: grp('policy', 'v1', 'poddisruptionbudgets'),
  horizontalpodautoscalers: grp('autoscaling', 'v2', 'horizontalpodautoscalers'),
  priorityclasses: grp('scheduling.k8s.io', 'v1', 'priorityclasses', false),
  storageclasses: grp('storage.k8s.io', 'v1', 'storageclasses', false),
  csinodes: grp('storage.k8s.io', 'v1', 'csinodes', false),
  certificatesigningrequests: grp('certificates.k8s.io', 'v1', 'certificatesigningrequests', false),
  roles: grp('rbac.authorization.k8s.io', 'v1', 'roles'),
  rolebindings: grp('rbac.authorization.k8s.io', 'v1', 'rolebindings'),
  clusterroles: grp('rbac.authorization.k8s.io', 'v1', 'clusterroles', false),
  clusterrolebindings: grp('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', false),
} as const satisfies Record<string, ResourceRef>;

/** `group/version/resource` (core: `v1/resource`), e.g. for map keys and log lines. */
export function resourceKey(r: ResourceRef): string {
  return `${r.group ? r.group + '/' : ''}${r.version}/${r.resource}`;
}
