/**
 * Service defaults (upstream's SetDefaults_Service). IP family fields depend on the cluster's
 * Service CIDR and are filled by the Service registry; see {@link defaultServiceIPFamilies}.
 */

type Obj = Record<string, any>;

/** Default ClientIP session affinity timeout (3 hours). */
export const DefaultClientIPServiceAffinitySeconds = 10800;

function externallyAccessible(spec: Obj): boolean {
  return spec.type === 'LoadBalancer' || spec.type === 'NodePort' || (spec.type === 'ClusterIP' && Array.isArray(spec.externalIPs) && spec.externalIPs.length > 0);
}

/** Service defaults: type, session affinity, port protocol and targetPort, traffic policies. */
export function defaultService(svc: Obj): Obj {
  const spec = (svc.spec ??= {});
  if (!spec.sessionAffinity) spec.sessionAffinity = 'None';
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP') {
    const t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
    if (t === undefined || t === null) spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: DefaultClientIPServiceAffinitySeconds } };
  }
  if (!spec.type) spec.type = 'ClusterIP';
  for (const p of Array.isArray(spec.ports) ? spec.ports : []) {
    if (!p.protocol) p.protocol = 'TCP';
    if (p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  if (externallyAccessible(spec) && !spec.externalTrafficPolicy) spec.externalTrafficPolicy = 'Cluster';
  if ((spec.internalTrafficPolicy === undefined || spec.internalTrafficPolicy === null) && ['NodePort', 'LoadBalancer', 'ClusterIP'].includes(spec.type)) {
    spec.internalTrafficPolicy = 'Cluster';
  }
  if (spec.type === 'LoadBalancer') {
    if (spec.allocateLoadBalancerNodePorts === undefined || spec.allocateLoadBalancerNodePorts === null) spec.allocateLoadBalancerNodePorts = true;
    for (const ing of Array.isArray(svc.status?.loadBalancer?.ingress) ? svc.status.loadBalancer.ingress : []) {
      if (ing?.ip && !ing.ipMode) ing.ipMode = 'VIP';
    }
  }
  return svc;
}

/**
 * IP family defaults for a single-stack cluster whose Service CIDR is `family`: ipFamilyPolicy
 * SingleStack (RequireDualStack for selectorless headless Services, as upstream) and
 * ipFamilies from clusterIPs or the cluster family. ExternalName Services get neither.
 */
export function defaultServiceIPFamilies(svc: Obj, family: 'IPv4' | 'IPv6'): Obj {
  const spec = (svc.spec ??= {});
  if (spec.type === 'ExternalName') return svc;
  const headlessSelectorless = spec.clusterIP === 'None' && Object.keys(spec.selector ?? {}).length === 0;
  if (!spec.ipFamilyPolicy) spec.ipFamilyPolicy = headlessSelectorless ? 'RequireDualStack' : 'SingleStack';
  if (!Array.isArray(spec.ipFamilies) || spec.ipFamilies.length === 0) {
    const ips: string[] = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [];
    const fams = ips.filter((ip) => ip && ip !== 'None').map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4'));
    spec.ipFamilies = fams.length ? fams : [family];
    if (headlessSelectorless && spec.ipFamilyPolicy !== 'SingleStack' && spec.ipFamilies.length < 2) {
      spec.ipFamilies.push(spec.ipFamilies[0] === 'IPv4' ? 'IPv6' : 'IPv4');
    }
  }
  return svc;
}
