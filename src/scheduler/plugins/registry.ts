/**
 * The in-tree plugins and the default profile (upstream's in-tree registry and
 * getDefaultPlugins): Filter order and Score weights as kube-scheduler's defaults.
 */
import type { Profile, Registry } from '../framework/framework.js';
import { DefaultSchedulerName } from '../framework/types.js';
import * as defaultPreemption from './default-preemption/default-preemption.js';
import * as imageLocality from './image-locality/image-locality.js';
import * as interPodAffinity from './inter-pod-affinity/inter-pod-affinity.js';
import * as nodeAffinity from './node-affinity/node-affinity.js';
import * as nodeName from './node-name/node-name.js';
import * as nodePorts from './node-ports/node-ports.js';
import * as balancedAllocation from './node-resources-balanced-allocation/node-resources-balanced-allocation.js';
import * as nodeResourcesFit from './node-resources-fit/node-resources-fit.js';
import * as nodeUnschedulable from './node-unschedulable/node-unschedulable.js';
import * as podTopologySpread from './pod-topology-spread/pod-topology-spread.js';
import * as schedulingGates from './scheduling-gates/scheduling-gates.js';
import * as taintToleration from './taint-toleration/taint-toleration.js';
import * as volumeBinding from './volume-binding/volume-binding.js';

/** Every in-tree plugin by name. */
export function inTreeRegistry(): Registry {
  return {
    [schedulingGates.Name]: schedulingGates.New,
    [nodeUnschedulable.Name]: nodeUnschedulable.New,
    [nodeName.Name]: nodeName.New,
    [taintToleration.Name]: taintToleration.New,
    [nodeAffinity.Name]: nodeAffinity.New,
    [nodePorts.Name]: nodePorts.New,
    [nodeResourcesFit.Name]: nodeResourcesFit.New,
    [volumeBinding.Name]: volumeBinding.New,
    [podTopologySpread.Name]: podTopologySpread.New,
    [interPodAffinity.Name]: interPodAffinity.New,
    [defaultPreemption.Name]: defaultPreemption.New,
    [balancedAllocation.Name]: balancedAllocation.New,
    [imageLocality.Name]: imageLocality.New,
  };
}

/** The default profile's plugins, in upstream's order, with its score weights. */
export function defaultPlugins(): Profile['plugins'] {
  return [
    { name: schedulingGates.Name },
    { name: nodeUnschedulable.Name },
    { name: nodeName.Name },
    { name: taintToleration.Name, weight: 3 },
    { name: nodeAffinity.Name, weight: 2 },
    { name: nodePorts.Name },
    { name: nodeResourcesFit.Name, weight: 1 },
    { name: volumeBinding.Name },
    { name: podTopologySpread.Name, weight: 2 },
    { name: interPodAffinity.Name, weight: 2 },
    { name: defaultPreemption.Name },
    { name: balancedAllocation.Name, weight: 1 },
    { name: imageLocality.Name, weight: 1 },
  ];
}

/** The default profile, named `default-scheduler`. */
export function defaultProfile(): Profile {
  return { schedulerName: DefaultSchedulerName, plugins: defaultPlugins() };
}
