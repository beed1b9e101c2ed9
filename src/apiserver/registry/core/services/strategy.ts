/**
 * core/v1 services: defaults, validation, the clusterIP/clusterIPs normalization and update
 * patching of upstream's Service registry, allocation hooks, and the table.
 */
import { defaultService, defaultServiceIPFamilies } from '../../../../api/defaulting/service.js';
import { formatLabels } from '../../../../api/labels/label-selector.js';
import { validateService, validateServiceStatusUpdate, validateServiceUpdate } from '../../../../api/validation/service.js';
import { semanticEqual } from '../../../../api/validation/helpers.js';
import type { KObject, Strategy, TableConvertor } from '../../generic/strategy.js';
import { age, ageColumn, col, keepStatus, nameColumn, statusStrategy } from '../../strategy-helpers.js';
import { ServiceAllocator, type ServiceAllocatorOptions } from './allocator.js';

const arr = (v: unknown): any[] => (Array.isArray(v) ? v : []);

function needsClusterIP(svc: KObject): boolean {
  return svc.spec?.type !== 'ExternalName';
}
function needsNodePort(svc: KObject): boolean {
  return svc.spec?.type === 'NodePort' || svc.spec?.type === 'LoadBalancer';
}
function needsHCNodePort(svc: KObject): boolean {
  return svc.spec?.type === 'LoadBalancer' && svc.spec?.externalTrafficPolicy === 'Local';
}
function externallyAccessible(svc: KObject): boolean {
  const t = svc.spec?.type;
  return t === 'LoadBalancer' || t === 'NodePort' || (t === 'ClusterIP' && arr(svc.spec?.externalIPs).length > 0);
}

/** Keep clusterIP and clusterIPs in step (upstream's NormalizeClusterIPs). */
export function normalizeClusterIPs(svc: KObject, old?: KObject): void {
  const spec = (svc.spec ??= {});
  if (!old) {
    if (spec.clusterIP && arr(spec.clusterIPs).length === 0) spec.clusterIPs = [spec.clusterIP];
    return;
  }
  const os = old.spec ?? {};
  if (arr(os.clusterIPs).length > 0 && arr(spec.clusterIPs).length === 0 && (os.clusterIP ?? '') === (spec.clusterIP ?? '')) {
    spec.clusterIPs = structuredClone(os.clusterIPs);
  }
  if ((os.clusterIP ?? '') !== (spec.clusterIP ?? '')) {
    if (os.clusterIP && !spec.clusterIP) {
      if (semanticEqual(os.clusterIPs, spec.clusterIPs)) delete spec.clusterIPs;
    } else if (semanticEqual(os.clusterIPs, spec.clusterIPs)) {
      spec.clusterIPs = [spec.clusterIP];
    }
  }
}

/** Carry allocated values the client left out over from the stored Service (upstream's patchAllocatedValues). */
export function patchAllocatedValues(svc: KObject, old: KObject): void {
  const spec = (svc.spec ??= {});
  const os = old.spec ?? {};
  if (needsClusterIP(old) && needsClusterIP(svc)) {
    if (!spec.clusterIP && os.clusterIP) spec.clusterIP = os.clusterIP;
    if (arr(spec.clusterIPs).length === 0 && arr(os.clusterIPs).length > 0) spec.clusterIPs = structuredClone(os.clusterIPs);
  }
  if (needsNodePort(old) && needsNodePort(svc)) {
    const used = (s: KObject) => new Set(arr(s.spec?.ports).map((p) => p?.nodePort).filter((n) => n));
    const oldUsed = used(old);
    const inBoth = new Set([...used(svc)].filter((n) => oldUsed.has(n)));
    const byName = new Map(arr(os.ports).map((p) => [p?.name ?? '', p?.nodePort ?? 0]));
    for (const p of arr(spec.ports)) {
      if (!p.nodePort) {
        const v = byName.get(p.name ?? '') ?? 0;
        if (v && !inBoth.has(v)) p.nodePort = v;
      }
    }
  }
  if (needsHCNodePort(old) && needsHCNodePort(svc) && !spec.healthCheckNodePort) spec.healthCheckNodePort = os.healthCheckNodePort;
}

/** Drop fields the new type does not use, when the client did not change them (upstream's dropTypeDependentFields). */
export function dropTypeDependentFields(svc: KObject, old: KObject): void {
  const spec = (svc.spec ??= {});
  const os = old.spec ?? {};
  if (needsClusterIP(old) && !needsClusterIP(svc)) {
    if ((os.clusterIP ?? '') === (spec.clusterIP ?? '') && semanticEqual(os.clusterIPs, spec.clusterIPs)) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (semanticEqual(os.ipFamilies, spec.ipFamilies)) delete spec.ipFamilies;
    if ((os.ipFamilyPolicy ?? null) === (spec.ipFamilyPolicy ?? null)) delete spec.ipFamilyPolicy;
  }
  if (needsNodePort(old) && !needsNodePort(svc)) {
    const np = (s: any) => arr(s.ports).map((p) => p?.nodePort ?? 0);
    if (semanticEqual(np(os), np(spec))) for (const p of arr(spec.ports)) delete p.nodePort;
  }
  if (needsHCNodePort(old) && !needsHCNodePort(svc) && os.healthCheckNodePort === spec.healthCheckNodePort) delete spec.healthCheckNodePort;
  if (os.type === 'LoadBalancer' && spec.type !== 'LoadBalancer') {
    if (spec.allocateLoadBalancerNodePorts !== undefined && os.allocateLoadBalancerNodePorts === spec.allocateLoadBalancerNodePorts) delete spec.allocateLoadBalancerNodePorts;
    if ((os.loadBalancerClass ?? null) === (spec.loadBalancerClass ?? null)) delete spec.loadBalancerClass;
  }
  if (externallyAccessible(old) && !externallyAccessible(svc) && os.externalTrafficPolicy === spec.externalTrafficPolicy) delete spec.externalTrafficPolicy;
  if (spec.type !== 'LoadBalancer') svc.status = { ...(svc.status ?? {}), loadBalancer: {} };
}

function loadBalancerStatusString(svc: KObject): string {
  const set = new Set<string>();
  for (const ing of arr(svc.status?.loadBalancer?.ingress)) {
    if (ing?.ip) set.add(ing.ip);
    else if (ing?.hostname) set.add(ing.hostname);
  }
  return [...set].sort().join(',');
}

/** The External-IP cell (upstream's getServiceExternalIP, wide form). */
export function serviceExternalIP(svc: KObject): string {
  const ext = arr(svc.spec?.externalIPs);
  switch (svc.spec?.type) {
    case 'ClusterIP':
    case 'NodePort':
      return ext.length ? ext.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = loadBalancerStatusString(svc);
      if (ext.length) return [...(lb ? lb.split(',') : []), ...ext].join(',');
      return lb || '<pending>';
    }
    case 'ExternalName':
      return svc.spec?.externalName ?? '';
  }
  return '<unknown>';
}

/** The Port(s) cell: `80/TCP`, `80:30080/TCP`, comma-joined. */
export function servicePorts(svc: KObject): string {
  const s = arr(svc.spec?.ports)
    .map((p) => (p?.nodePort > 0 ? `${p.port}:${p.nodePort}/${p.protocol}` : `${p?.port}/${p?.protocol}`))
    .join(',');
  return s || '<none>';
}

const serviceTable: TableConvertor = {
  columns: [
    nameColumn(),
    col('Type', 'string', 'type determines how the Service is exposed.'),
    col('Cluster-IP', 'string', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
    col('External-IP', 'string', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
    col('Port(s)', 'string', 'The list of ports that are exposed by this service.'),
    ageColumn(),
    col('Selector', 'string', 'Route service traffic to pods with label keys and values matching this selector.', 1),
  ],
  cells: (svc, now) => [
    svc.metadata?.name ?? '',
    svc.spec?.type ?? '',
    arr(svc.spec?.clusterIPs)[0] ?? '<none>',
    serviceExternalIP(svc),
    servicePorts(svc),
    age(svc, now),
    formatLabels(svc.spec?.selector),
  ],
};

/** Options for {@link serviceStrategy}. */
export type ServiceStrategyOptions = ServiceAllocatorOptions;

/** The services strategy, allocating from `serviceCIDR` and `nodePortRange`. */
export function serviceStrategy(opts: ServiceStrategyOptions): Strategy {
  const alloc = new ServiceAllocator(opts);
  return {
    info: { group: '', version: 'v1', resource: 'services', singular: 'service', kind: 'Service', namespaced: true, shortNames: ['svc'], categories: ['all'] },
    // Upstream checks Service names as RFC 1035 labels; the registry index applies that.
    nameValidation: 'dns-1035-label',
    defaults(obj) {
      defaultService(obj);
      defaultServiceIPFamilies(obj, alloc.family);
    },
    prepareForCreate(obj) {
      obj.status = { loadBalancer: {} };
      normalizeClusterIPs(obj);
    },
    prepareForUpdate(obj, old) {
      keepStatus(obj, old);
      patchAllocatedValues(obj, old);
      normalizeClusterIPs(obj, old);
      dropTypeDependentFields(obj, old);
    },
    validate: validateService,
    validateUpdate: validateServiceUpdate,
    table: serviceTable,
    selectableFields: (svc) => ({ 'spec.clusterIP': svc.spec?.clusterIP ?? '', 'spec.type': svc.spec?.type ?? '' }),
    status: statusStrategy({ validate: validateServiceStatusUpdate }),
    hooks: {
      beforeCreate: (obj, ctx) => alloc.allocateCreate(obj, ctx),
      beforeUpdate: (obj, old, ctx) => alloc.allocateUpdate(obj, old, ctx),
      afterDelete: (obj, ctx) => alloc.releaseAll(obj, ctx),
      abortCreate: (obj, ctx) => alloc.releaseAll(obj, ctx),
    },
  };
}
