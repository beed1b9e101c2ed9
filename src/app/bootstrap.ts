/**
 * Objects every cluster has from its first start: the default, kube-system, kube-public and
 * kube-node-lease namespaces (each with its `default` ServiceAccount and `kube-root-ca.crt`), the
 * `kubernetes` Service in default and the cluster DNS Service. Idempotent.
 */
import { StatusError } from '../api/errors.js';
import type { APIServer } from '../apiserver/apiserver.js';
import { rootCAConfigMap, rootCAConfigMapName } from '../controllers/rootcacertpublisher/root-ca-configmap.js';

/** Create unless present (a restart, or another server, made it already). */
async function ensure(exists: () => Promise<unknown>, create: () => Promise<unknown>): Promise<void> {
  try {
    await exists();
    return;
  } catch (e) {
    if (!(e instanceof StatusError && e.code === 404)) throw e;
  }
  try {
    await create();
  } catch (e) {
    if (!(e instanceof StatusError && e.code === 409)) throw e;
  }
}

export async function bootstrapObjects(api: APIServer, kubernetesServiceIP?: string, clusterDNSIP?: string, caPEM?: string): Promise<void> {
  const ns = api.store('', 'namespaces');
  const svc = api.store('', 'services');
  const sa = api.store('', 'serviceaccounts');
  const cm = api.store('', 'configmaps');
  if (!ns || !svc || !sa || !cm) throw new Error('bootstrap: namespaces, services, serviceaccounts and configmaps must be served');
  // The namespaces in parallel (the store commits one turn's writes together), then their content.
  const system = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
  await Promise.all(system.map((name) => ensure(() => ns.get({ namespace: '', name }), () => ns.create('', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } }))));
  // What the service account and root CA controllers keep in every namespace, here from the
  // start so pods in the system namespaces never wait for a controller.
  await Promise.all(
    system.flatMap((name) => [
      ensure(() => sa.get({ namespace: name, name: 'default' }), () => sa.create(name, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: name } })),
      caPEM ? ensure(() => cm.get({ namespace: name, name: rootCAConfigMapName }), () => cm.create(name, rootCAConfigMap(name, caPEM))) : Promise.resolve(),
    ]),
  );
  await ensure(() => svc.get({ namespace: 'default', name: 'kubernetes' }), () =>
    svc.create('default', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: {
        type: 'ClusterIP',
        ...(kubernetesServiceIP ? { clusterIP: kubernetesServiceIP } : {}),
        ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }],
        sessionAffinity: 'None',
      },
    }),
  );
  // The cluster DNS address pods' resolv.conf names. No selector: each node agent serves DNS and
  // publishes its own EndpointSlice for it.
  await ensure(() => svc.get({ namespace: 'kube-system', name: 'kube-dns' }), () =>
    svc.create('kube-system', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' } },
      spec: {
        type: 'ClusterIP',
        ...(clusterDNSIP ? { clusterIP: clusterDNSIP } : {}),
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        ],
        sessionAffinity: 'None',
      },
    }),
  );
}
