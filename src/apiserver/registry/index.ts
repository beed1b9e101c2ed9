/**
 * The built-in kinds k8ts serves, each as a Strategy for the generic store, and the generic
 * metadata validation the store runs for every kind.
 */
import type { KObject, Strategy } from './generic/strategy.js';
import { configMapStrategy } from './core/configmaps/strategy.js';
import { endpointsStrategy } from './core/endpoints/strategy.js';
import { eventStrategy } from './core/events/strategy.js';
import { limitRangeStrategy } from './core/limitranges/strategy.js';
import { persistentVolumeStrategy } from './core/persistentvolumes/strategy.js';
import { persistentVolumeClaimStrategy } from './core/persistentvolumeclaims/strategy.js';
import { storageClassStrategy } from './storage/storageclasses/strategy.js';
import { namespaceStrategy } from './core/namespaces/strategy.js';
import { nodeStrategy } from './core/nodes/strategy.js';
import { podStrategy } from './core/pods/strategy.js';
import { resourceQuotaStrategy } from './core/resourcequotas/strategy.js';
import { secretStrategy } from './core/secrets/strategy.js';
import { serviceAccountStrategy } from './core/serviceaccounts/strategy.js';
import { serviceStrategy } from './core/services/strategy.js';
import { controllerRevisionStrategy } from './apps/controllerrevisions/strategy.js';
import { daemonSetStrategy } from './apps/daemonsets/strategy.js';
import { deploymentStrategy } from './apps/deployments/strategy.js';
import { replicaSetStrategy } from './apps/replicasets/strategy.js';
import { statefulSetStrategy } from './apps/statefulsets/strategy.js';
import { cronJobStrategy } from './batch/cronjobs/strategy.js';
import { jobStrategy } from './batch/jobs/strategy.js';
import { leaseStrategy } from './coordination/leases/strategy.js';
import { endpointSliceStrategy } from './discovery/endpointslices/strategy.js';
import { eventsV1Strategy } from './events/events/strategy.js';
import { podDisruptionBudgetStrategy } from './policy/poddisruptionbudgets/strategy.js';
import { priorityClassStrategy } from './scheduling/priorityclasses/strategy.js';
import { csrStrategy } from './certificates/certificatesigningrequests/strategy.js';
import { rbacStrategies } from './rbac/index.js';

/** Options for {@link builtinStrategies}. */
export interface BuiltinStrategyOptions {
  /** Where Service cluster IPs come from, e.g. `10.43.0.0/16`. */
  serviceCIDR: string;
  /** NodePort range, inclusive, e.g. `[30000, 32767]`. */
  nodePortRange: [number, number];
}

/** Every built-in kind, in discovery order. */
export function builtinStrategies(opts: BuiltinStrategyOptions): Strategy[] {
  const services = serviceStrategy({ serviceCIDR: opts.serviceCIDR, nodePortRange: opts.nodePortRange });
  const events = eventStrategy();
  return [
    // core/v1
    podStrategy(),
    services,
    namespaceStrategy(),
    nodeStrategy(),
    events,
    configMapStrategy(),
    secretStrategy(),
    serviceAccountStrategy(),
    endpointsStrategy(),
    limitRangeStrategy(),
    resourceQuotaStrategy(),
    persistentVolumeStrategy(),
    persistentVolumeClaimStrategy(),
    // apps/v1
    deploymentStrategy(),
    replicaSetStrategy(),
    statefulSetStrategy(),
    daemonSetStrategy(),
    controllerRevisionStrategy(),
    // batch/v1
    jobStrategy(),
    cronJobStrategy(),
    // others
    endpointSliceStrategy(),
    leaseStrategy(),
    eventsV1Strategy(),
    priorityClassStrategy(),
    storageClassStrategy(),
    podDisruptionBudgetStrategy(),
    csrStrategy(),
    ...rbacStrategies(),
  ];
}

