/** Small builders for the renderer tests (test-only; not exported from the package). */
import type { EndpointState, ProxyState, ServicePortState } from './state.js';

export const ep = (ip: string, o: Partial<EndpointState> = {}): EndpointState => ({ ip, port: 8080, ready: true, serving: true, terminating: false, local: true, ...o });

export const svcPort = (name: string, endpoints: EndpointState[], o: Partial<ServicePortState> = {}): ServicePortState => ({
  namespace: 'default',
  name,
  portName: 'http',
  protocol: 'tcp',
  clusterIP: '10.96.0.10',
  port: 80,
  nodePort: 0,
  externalIPs: [],
  loadBalancerIPs: [],
  externalPolicyLocal: false,
  internalPolicyLocal: false,
  endpoints,
  ...o,
});

export const state = (...services: ServicePortState[]): ProxyState => ({ nodeIPs: ['10.77.0.1'], clusterCIDR: '10.244.0.0/16', services });
