/**
 * The `kube-root-ca.crt` ConfigMap every namespace holds, apart from its controller so the server's
 * bootstrap can write the first ones without loading the client machinery.
 */
type KObject = Record<string, any>;

export const rootCAConfigMapName = 'kube-root-ca.crt';
export const rootCADescription =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

/** The ConfigMap a namespace should hold. */
export function rootCAConfigMap(namespace: string, caPEM: string): KObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: rootCAConfigMapName, namespace, annotations: { 'kubernetes.io/description': rootCADescription } },
    data: { 'ca.crt': caPEM },
  };
}

