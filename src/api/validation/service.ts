/**
 * Service validation (upstream's ValidateService, ValidateServiceUpdate,
 * ValidateServiceStatusUpdate and ValidateServiceClusterIPsRelatedFields).
 */
import { field, type FieldError } from '../errors.js';
import { isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isValidPortNum, nameIsDNS1035Label } from './identifiers.js';
import { child, get, index, list, map, validateLabels, validateQualifiedName, type Obj } from './helpers.js';
import { ipFamilyOf, validateCIDR, validateIP, validateNonSpecialIP } from './network.js';
import { supportedPortProtocols, validatePortNumOrName } from './pod.js';

const serviceTypes = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

/** `clusterIPs: ["None"]`. */
export function isHeadlessService(svc: Obj): boolean {
  const ips = list(get(svc, 'spec', 'clusterIPs'));
  return ips.length === 1 && ips[0] === 'None';
}

/** NodePort, LoadBalancer, or any Service with externalIPs. */
export function externallyAccessible(svc: Obj): boolean {
  const t = get(svc, 'spec', 'type');
  return t === 'LoadBalancer' || t === 'NodePort' || (t === 'ClusterIP' && list(get(svc, 'spec', 'externalIPs')).length > 0);
}

/** A LoadBalancer with externalTrafficPolicy Local needs a health-check node port. */
export function needsHealthCheck(svc: Obj): boolean {
  return get(svc, 'spec', 'type') === 'LoadBalancer' && get(svc, 'spec', 'externalTrafficPolicy') === 'Local';
}

/** Service names are RFC 1035 labels (must start with a letter). */
export function validateServiceName(name: string, path = 'metadata.name'): FieldError[] {
  return nameIsDNS1035Label(name).map((m) => field.invalid(path, name, m));
}

/** Checks clusterIP / clusterIPs / ipFamilies / ipFamilyPolicy consistency. */
export function validateServiceClusterIPsRelatedFields(svc: Obj): FieldError[] {
  const spec = map(svc.spec);
  if (spec.type === 'ExternalName') return [];
  const errs: FieldError[] = [];
  const ips = list(spec.clusterIPs).map(String);
  const families = list(spec.ipFamilies).map(String);
  if (spec.clusterIP) {
    if (ips.length === 0) errs.push(field.required('spec.clusterIPs', ''));
    else if (ips[0] !== spec.clusterIP) errs.push(field.invalid('spec.clusterIPs', ips, 'first value must match `clusterIP`'));
  } else if (ips.length !== 0) {
    errs.push(field.invalid('spec.clusterIPs', ips, 'must be empty when `clusterIP` is not specified'));
  }
  const seen = new Set<string>();
  families.forEach((f, i) => {
    if (f !== 'IPv4' && f !== 'IPv6') errs.push(field.notSupported(index('spec.ipFamilies', i), f, ['IPv4', 'IPv6']));
    if (seen.has(f)) errs.push(field.duplicate(index('spec.ipFamilies', i), f));
    seen.add(f);
  });
  if (spec.ipFamilyPolicy !== undefined && spec.ipFamilyPolicy !== null) {
    if (!['PreferDualStack', 'RequireDualStack', 'SingleStack'].includes(spec.ipFamilyPolicy)) {
      errs.push(field.notSupported('spec.ipFamilyPolicy', spec.ipFamilyPolicy, ['PreferDualStack', 'RequireDualStack', 'SingleStack']));
    }
  }
  let badIPs = false;
  ips.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (ips.length > 1) {
        badIPs = true;
        errs.push(field.invalid('spec.clusterIPs', ips, "'None' must be the first and only value"));
      }
      return;
    }
    const e = validateIP(index('spec.clusterIPs', i), ip);
    if (e.length) badIPs = true;
    errs.push(...e);
  });
  if (ips.length > 2) errs.push(field.invalid('spec.clusterIPs', ips, 'may only hold up to 2 values'));
  if (badIPs) return errs;
  if (ips.length > 1 && ipFamilyOf(ips[0]) === ipFamilyOf(ips[1])) {
    errs.push(field.invalid('spec.clusterIPs', ips, 'may specify no more than one IP for each IP family'));
  }
  if (!isHeadlessService(svc) && ips.length > 0 && families.length > 0) {
    ips.forEach((ip, i) => {
      if (i > families.length - 1) return;
      const fam = ipFamilyOf(ip);
      if (families[i] === 'IPv4' && fam === 'IPv6') errs.push(field.invalid(index('spec.clusterIPs', i), ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      if (families[i] === 'IPv6' && fam !== 'IPv6') errs.push(field.invalid(index('spec.clusterIPs', i), ip, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    });
  }
  return errs;
}

function validateServicePort(sp: Obj, requireName: boolean, names: Set<string>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (requireName && !sp?.name) errs.push(field.required(child(path, 'name'), ''));
  else if (sp?.name) {
    errs.push(...isDNS1123Label(String(sp.name)).map((m) => field.invalid(child(path, 'name'), sp.name, m)));
    if (names.has(sp.name)) errs.push(field.duplicate(child(path, 'name'), sp.name));
    else names.add(sp.name);
  }
  const port = sp?.port ?? 0;
  for (const m of isValidPortNum(port)) errs.push(field.invalid(child(path, 'port'), port, m));
  if (!sp?.protocol) errs.push(field.required(child(path, 'protocol'), ''));
  else if (!supportedPortProtocols.includes(sp.protocol)) errs.push(field.notSupported(child(path, 'protocol'), sp.protocol, supportedPortProtocols));
  errs.push(...validatePortNumOrName(sp?.targetPort ?? 0, child(path, 'targetPort')));
  if (sp?.appProtocol !== undefined && sp?.appProtocol !== null) errs.push(...validateQualifiedName(String(sp.appProtocol), child(path, 'appProtocol')));
  return errs;
}

/** A Service's spec (metadata is validated generically; see {@link validateServiceName}). */
export function validateService(svc: Obj): FieldError[] {
  const spec = map(svc.spec);
  const errs: FieldError[] = [];
  const ports = list(spec.ports) as Obj[];
  const headless = isHeadlessService(svc);
  const anns = map(get(svc, 'metadata', 'annotations'));
  const hints = anns['service.kubernetes.io/topology-aware-hints'];
  const mode = anns['service.kubernetes.io/topology-mode'];
  if (hints !== undefined && mode !== undefined && hints !== mode) {
    errs.push(field.invalid('metadata.annotations[service.kubernetes.io/topology-mode]', mode, 'must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified'));
  }
  if (ports.length === 0 && !headless && spec.type !== 'ExternalName') errs.push(field.required('spec.ports', ''));
  switch (spec.type) {
    case 'LoadBalancer':
      if (headless) errs.push(field.invalid('spec.clusterIPs[0]', 'None', "may not be set to 'None' for LoadBalancer services"));
      break;
    case 'NodePort':
      if (headless) errs.push(field.invalid('spec.clusterIPs[0]', 'None', "may not be set to 'None' for NodePort services"));
      break;
    case 'ExternalName': {
      if (list(spec.clusterIPs).length > 0) errs.push(field.forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
      if (list(spec.ipFamilies).length > 0) errs.push(field.forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
      if (spec.ipFamilyPolicy !== undefined && spec.ipFamilyPolicy !== null) errs.push(field.forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
      const cname = String(spec.externalName ?? '').replace(/\.$/, '');
      if (cname.length > 0) errs.push(...isDNS1123Subdomain(cname).map((m) => field.invalid('spec.externalName', cname, m)));
      else errs.push(field.required('spec.externalName', ''));
      break;
    }
  }
  const names = new Set<string>();
  ports.forEach((p, i) => errs.push(...validateServicePort(p, ports.length > 1, names, index('spec.ports', i))));
  if (spec.selector) errs.push(...validateLabels(spec.selector, 'spec.selector'));

  if (!spec.sessionAffinity) errs.push(field.required('spec.sessionAffinity', ''));
  else if (!['ClientIP', 'None'].includes(spec.sessionAffinity)) errs.push(field.notSupported('spec.sessionAffinity', spec.sessionAffinity, ['ClientIP', 'None']));
  if (spec.sessionAffinity === 'ClientIP') {
    const cfg = spec.sessionAffinityConfig;
    const why = 'when session affinity type is ClientIP';
    if (!cfg) errs.push(field.required('spec.sessionAffinityConfig', why));
    else if (!cfg.clientIP) errs.push(field.required('spec.sessionAffinityConfig.clientIP', why));
    else if (cfg.clientIP.timeoutSeconds === undefined || cfg.clientIP.timeoutSeconds === null) errs.push(field.required('spec.sessionAffinityConfig.clientIP.timeoutSeconds', why));
    else if (cfg.clientIP.timeoutSeconds <= 0 || cfg.clientIP.timeoutSeconds > 86400) {
      errs.push(field.invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', cfg.clientIP.timeoutSeconds, 'must be greater than 0 and less than 86400'));
    }
  } else if (spec.sessionAffinity === 'None' && spec.sessionAffinityConfig) {
    errs.push(field.forbidden('spec.sessionAffinityConfig', 'must not be set when session affinity is None'));
  }

  errs.push(...validateServiceClusterIPsRelatedFields(svc));

  list(spec.externalIPs).forEach((ip, i) => {
    const p = index('spec.externalIPs', i);
    const e = validateIP(p, String(ip));
    errs.push(...(e.length ? e : validateNonSpecialIP(p, String(ip))));
  });

  if (!spec.type) errs.push(field.required('spec.type', ''));
  else if (!serviceTypes.includes(spec.type)) errs.push(field.notSupported('spec.type', spec.type, serviceTypes));

  if (spec.type === 'ClusterIP') {
    ports.forEach((p, i) => {
      if (p?.nodePort) errs.push(field.forbidden(child(index('spec.ports', i), 'nodePort'), "may not be used when `type` is 'ClusterIP'"));
    });
  }
  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    if (!p?.nodePort) return;
    const k = `${p.protocol}/${p.nodePort}`;
    if (nodePorts.has(k)) errs.push(field.duplicate(child(index('spec.ports', i), 'nodePort'), p.nodePort));
    nodePorts.add(k);
  });
  const portKeys = new Set<string>();
  ports.forEach((p, i) => {
    const k = `${p?.protocol}/${p?.port}`;
    if (portKeys.has(k)) errs.push(field.duplicate(index('spec.ports', i), { protocol: p?.protocol, port: p?.port }));
    portKeys.add(k);
  });

  const ranges = list(spec.loadBalancerSourceRanges);
  if (ranges.length > 0) {
    if (spec.type !== 'LoadBalancer') errs.push(field.forbidden('spec.LoadBalancerSourceRanges', "may only be used when `type` is 'LoadBalancer'"));
    ranges.forEach((r, i) => errs.push(...validateCIDR(index('spec.LoadBalancerSourceRanges', i), String(r).trim())));
  } else if ('service.beta.kubernetes.io/load-balancer-source-ranges' in anns) {
    const p = 'metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]';
    if (spec.type !== 'LoadBalancer') errs.push(field.forbidden(p, "may only be used when `type` is 'LoadBalancer'"));
    const v = String(anns['service.beta.kubernetes.io/load-balancer-source-ranges']).trim();
    if (v) for (const c of v.split(',')) errs.push(...validateCIDR(p, c.trim()));
  }
  if (spec.allocateLoadBalancerNodePorts !== undefined && spec.allocateLoadBalancerNodePorts !== null && spec.type !== 'LoadBalancer') {
    errs.push(field.forbidden('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"));
  }
  if (spec.type === 'LoadBalancer' && (spec.allocateLoadBalancerNodePorts === undefined || spec.allocateLoadBalancerNodePorts === null)) {
    // Upstream reports this without the `spec.` prefix.
    errs.push(field.required('allocateLoadBalancerNodePorts', ''));
  }
  if (spec.loadBalancerClass !== undefined && spec.loadBalancerClass !== null) {
    if (spec.type === 'LoadBalancer') errs.push(...validateQualifiedName(String(spec.loadBalancerClass), 'spec.loadBalancerClass'));
    else errs.push(field.forbidden('spec.loadBalancerClass', "may only be used when `type` is 'LoadBalancer'"));
  }

  if (!externallyAccessible(svc)) {
    if (spec.externalTrafficPolicy) errs.push(field.invalid('spec.externalTrafficPolicy', spec.externalTrafficPolicy, 'may only be set for externally-accessible services'));
  } else if (!spec.externalTrafficPolicy) {
    errs.push(field.required('spec.externalTrafficPolicy', ''));
  } else if (!['Cluster', 'Local'].includes(spec.externalTrafficPolicy)) {
    errs.push(field.notSupported('spec.externalTrafficPolicy', spec.externalTrafficPolicy, ['Cluster', 'Local']));
  }
  if (!needsHealthCheck(svc)) {
    if (spec.healthCheckNodePort) errs.push(field.invalid('spec.healthCheckNodePort', spec.healthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
  } else if (!spec.healthCheckNodePort) {
    // Allocated by the registry before storage when absent.
  } else {
    for (const m of isValidPortNum(spec.healthCheckNodePort)) errs.push(field.invalid('spec.healthCheckNodePort', spec.healthCheckNodePort, m));
  }

  if (spec.internalTrafficPolicy === undefined || spec.internalTrafficPolicy === null) {
    if (['NodePort', 'LoadBalancer', 'ClusterIP'].includes(spec.type)) errs.push(field.required('spec.internalTrafficPolicy', ''));
  } else if (!['Cluster', 'Local'].includes(spec.internalTrafficPolicy)) {
    errs.push(field.notSupported('spec.internalTrafficPolicy', spec.internalTrafficPolicy, ['Cluster', 'Local']));
  }
  if (spec.trafficDistribution !== undefined && spec.trafficDistribution !== null && spec.trafficDistribution !== 'PreferClose') {
    errs.push(field.notSupported('spec.trafficDistribution', spec.trafficDistribution, ['PreferClose']));
  }
  return errs;
}

function validateUpgradeDowngradeClusterIPs(oldSvc: Obj, svc: Obj): FieldError[] {
  const errs: FieldError[] = [];
  if (get(svc, 'spec', 'type') === 'ExternalName' || get(oldSvc, 'spec', 'type') === 'ExternalName') return errs;
  if (isHeadlessService(oldSvc) && isHeadlessService(svc)) return errs;
  const o = list(get(oldSvc, 'spec', 'clusterIPs')).map(String);
  const n = list(get(svc, 'spec', 'clusterIPs')).map(String);
  const policy = get(svc, 'spec', 'ipFamilyPolicy');
  if (o.length === n.length) {
    o.forEach((ip, i) => {
      if (ip !== n[i]) errs.push(field.invalid(index('spec.clusterIPs', i), n, 'may not change once set'));
    });
  } else if (o.length > n.length) {
    if (n.length === 0) errs.push(field.invalid('spec.clusterIPs[0]', n, 'primary clusterIP can not be unset'));
    if (o.length > 0 && n.length > 0 && n[0] !== o[0]) errs.push(field.invalid('spec.clusterIPs[0]', n, 'may not change once set'));
    if (n.length === 1 && policy !== 'SingleStack') errs.push(field.invalid('spec.ipFamilyPolicy', policy ?? null, "must be set to 'SingleStack' when releasing the secondary clusterIP"));
  } else if (o.length > 0 && n[0] !== o[0]) {
    errs.push(field.invalid('spec.clusterIPs[0]', n, 'may not change once set'));
  }
  return errs;
}

function validateUpgradeDowngradeIPFamilies(oldSvc: Obj, svc: Obj): FieldError[] {
  const errs: FieldError[] = [];
  if (get(svc, 'spec', 'type') === 'ExternalName' || get(oldSvc, 'spec', 'type') === 'ExternalName') return errs;
  if (isHeadlessService(oldSvc) !== isHeadlessService(svc) || isHeadlessService(svc)) return errs;
  const o = list(get(oldSvc, 'spec', 'ipFamilies')).map(String);
  const n = list(get(svc, 'spec', 'ipFamilies')).map(String);
  const policy = get(svc, 'spec', 'ipFamilyPolicy');
  if (o.length === n.length) {
    o.forEach((f, i) => {
      if (f !== n[i]) errs.push(field.invalid('spec.ipFamilies[0]', n, 'may not change once set'));
    });
  } else if (o.length > n.length) {
    if (list(get(svc, 'spec', 'clusterIPs')).length === 0) errs.push(field.invalid('spec.ipFamilies[0]', n, 'primary ipFamily can not be unset'));
    if (n.length > 0 && n[0] !== o[0]) errs.push(field.invalid('spec.ipFamilies[0]', list(get(svc, 'spec', 'clusterIPs')), 'may not change once set'));
    if (n.length === 1 && policy !== 'SingleStack') errs.push(field.invalid('spec.ipFamilyPolicy', policy ?? null, "must be set to 'SingleStack' when releasing the secondary ipFamily"));
  } else if (o.length > 0 && n.length > 0 && n[0] !== o[0]) {
    errs.push(field.invalid('spec.ipFamilies[0]', list(get(svc, 'spec', 'clusterIPs')), 'may not change once set'));
  }
  return errs;
}

/** A Service update: clusterIPs and ipFamilies may not change, loadBalancerClass and healthCheckNodePort are fixed. */
export function validateServiceUpdate(svc: Obj, oldSvc: Obj): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...validateUpgradeDowngradeClusterIPs(oldSvc, svc));
  errs.push(...validateUpgradeDowngradeIPFamilies(oldSvc, svc));
  if (get(oldSvc, 'spec', 'type') === 'LoadBalancer' && get(svc, 'spec', 'type') === 'LoadBalancer') {
    const a = get(oldSvc, 'spec', 'loadBalancerClass') ?? null;
    const b = get(svc, 'spec', 'loadBalancerClass') ?? null;
    if (a !== b) errs.push(field.invalid('spec.loadBalancerClass', b, 'may not change once set'));
  }
  if (needsHealthCheck(oldSvc) && needsHealthCheck(svc) && get(oldSvc, 'spec', 'healthCheckNodePort') !== get(svc, 'spec', 'healthCheckNodePort')) {
    errs.push(field.forbidden('spec.healthCheckNodePort', 'field is immutable'));
  }
  errs.push(...validateService(svc));
  return errs;
}

/** A `/status` update of a Service: load balancer ingress entries. */
export function validateServiceStatusUpdate(svc: Obj, _old: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const ingress = list(get(svc, 'status', 'loadBalancer', 'ingress')) as Obj[];
  if (get(svc, 'spec', 'type') !== 'LoadBalancer' && ingress.length !== 0) {
    return [field.forbidden('status.loadBalancer.ingress', "may only be used when `spec.type` is 'LoadBalancer'")];
  }
  ingress.forEach((ing, i) => {
    const p = index('status.loadBalancer.ingress', i);
    if (ing?.ip) errs.push(...validateIP(child(p, 'ip'), String(ing.ip)));
    if ((ing?.ipMode === undefined || ing?.ipMode === null) && ing?.ip) errs.push(field.required(child(p, 'ipMode'), 'must be specified when `ip` is set'));
    else if (ing?.ipMode && !ing?.ip) errs.push(field.forbidden(child(p, 'ipMode'), 'may not be specified when `ip` is not set'));
    else if (ing?.ipMode && !['Proxy', 'VIP'].includes(ing.ipMode)) errs.push(field.notSupported(child(p, 'ipMode'), ing.ipMode, ['Proxy', 'VIP']));
    if (ing?.hostname) {
      errs.push(...isDNS1123Subdomain(String(ing.hostname)).map((m) => field.invalid(child(p, 'hostname'), ing.hostname, m)));
      if (ipFamilyOf(String(ing.hostname))) errs.push(field.invalid(child(p, 'hostname'), ing.hostname, 'must be a DNS name, not an IP address'));
    }
  });
  return errs;
}

