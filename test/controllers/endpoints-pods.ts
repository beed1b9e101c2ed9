/** Pods and Services for the Endpoints and EndpointSlice tests; the test plays kubelet through pods/status. */
import { resources } from '../../src/client/resources.js';
import type { KObject, RestClient } from '../../src/client/rest-client.js';

/** Create a pod bound to `node` with a named container port `http-port` (8080). */
export async function createPod(client: RestClient, ns: string, name: string, labels: Record<string, string>, node = 'node-1'): Promise<KObject> {
  return client.create(resources.pods, ns, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { nodeName: node, containers: [{ name: 'web', image: 'nginx:1.25', ports: [{ name: 'http-port', containerPort: 8080 }] }] },
  });
}

/** Mark the pod Running with this IP, Ready or not. */
export async function setPodStatus(client: RestClient, ns: string, name: string, ip: string, ready: boolean): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await client.patch(
    resources.pods,
    ns,
    name,
    { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now }] } },
    'merge',
    { subresource: 'status' },
  );
}

/** A Service selecting `app=<app>` with a named and a numeric targetPort. */
export function service(name: string, app: string, extra: KObject = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, labels: { tier: 'front' } },
    spec: {
      selector: { app },
      ports: [
        { name: 'http', port: 80, targetPort: 'http-port', protocol: 'TCP' },
        { name: 'metrics', port: 9090, targetPort: 9100, protocol: 'TCP' },
      ],
      ...extra,
    },
  };
}
