/**
 * NodeRestriction admission (upstream's plugin/pkg/admission/noderestriction): a kubelet may
 * change only its own Node (not its taints, nor labels outside the kubelet's set), only pods bound
 * to it (status, delete), may create only mirror pods of itself, and only its own Lease in
 * kube-node-lease.
 */
import { errors } from '../../api/errors.js';
import { nodeIdentity, podReferences } from '../auth/node/node-authorizer.js';
import type { UserInfo } from '../auth/authenticator.js';
import type { KObject } from '../registry/generic/strategy.js';
import type { AdmissionAttributes, AdmissionPlugin } from './index.js';

const mirrorPodAnnotation = 'kubernetes.io/config.mirror';
const nodeLeaseNamespace = 'kube-node-lease';

/** Labels under kubernetes.io / k8s.io a kubelet may set on its Node (k8s.io/kubelet/pkg/apis). */
const kubeletLabels = new Set([
  'kubernetes.io/hostname',
  'kubernetes.io/os',
  'kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/arch',
  'beta.kubernetes.io/instance-type',
  'node.kubernetes.io/instance-type',
  'failure-domain.beta.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'topology.kubernetes.io/zone',
]);
const kubeletLabelNamespaces = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

function labelNamespace(key: string): string {
  const i = key.indexOf('/');
  return i < 0 ? '' : key.slice(0, i);
}

function isKubeletLabel(key: string): boolean {
  if (kubeletLabels.has(key)) return true;
  const ns = labelNamespace(key);
  return kubeletLabelNamespaces.some((k) => ns === k || ns.endsWith(`.${k}`));
}

function isKubernetesLabel(key: string): boolean {
  const ns = labelNamespace(key);
  return ns === 'kubernetes.io' || ns.endsWith('.kubernetes.io') || ns === 'k8s.io' || ns.endsWith('.k8s.io');
}

/** The labels of a create or update a node may not make: node-restriction ones and unknown Kubernetes ones. */
export function forbiddenNodeLabels(labels: Record<string, string> = {}, old: Record<string, string> = {}): string[] {
  const changed = new Set<string>();
  for (const [k, v] of Object.entries(labels)) if (old[k] !== v) changed.add(k);
  for (const [k, v] of Object.entries(old)) if (labels[k] !== v) changed.add(k);
  const out: string[] = [];
  for (const k of changed) {
    const ns = labelNamespace(k);
    const restricted = ns === 'node-restriction.kubernetes.io' || ns.endsWith('.node-restriction.kubernetes.io');
    if (restricted || (isKubernetesLabel(k) && !isKubeletLabel(k))) out.push(k);
  }
  return out.sort();
}

function forbid(a: AdmissionAttributes, message: string): never {
  throw errors.forbidden(a.store.gr, a.object?.metadata?.name ?? '', message);
}

function admitPod(node: string, a: AdmissionAttributes): void | Promise<void> {
  const pod = a.object;
  if (a.subresource === 'status') {
    if (a.operation !== 'UPDATE') forbid(a, `unexpected operation "${a.operation}"`);
    if (a.oldObject?.spec?.nodeName !== node) forbid(a, `node "${node}" can only update pod status for pods with spec.nodeName set to itself`);
    if (JSON.stringify(a.oldObject?.metadata?.labels ?? {}) !== JSON.stringify(pod.metadata?.labels ?? {})) forbid(a, `node "${node}" cannot update labels through pod status`);
    return;
  }
  if (a.subresource !== '') forbid(a, `unexpected pod subresource "${a.subresource}", only 'status' and 'eviction' are allowed`);
  if (a.operation === 'DELETE') {
    if (pod.spec?.nodeName !== node) forbid(a, `node "${node}" can only delete pods with spec.nodeName set to itself`);
    return;
  }
  if (a.operation !== 'CREATE') forbid(a, `unexpected operation "${a.operation}", node "${node}" can only create and delete mirror pods`);
  return admitMirrorPodCreate(node, pod, a);
}

async function admitMirrorPodCreate(node: string, pod: KObject, a: AdmissionAttributes): Promise<void> {
  if (pod.metadata?.annotations?.[mirrorPodAnnotation] === undefined) {
    forbid(a, `pod does not have "${mirrorPodAnnotation}" annotation, node "${node}" can only create mirror pods`);
  }
  if (pod.spec?.nodeName !== node) forbid(a, `node "${node}" can only create pods with spec.nodeName set to itself`);
  const owners: any[] = pod.metadata?.ownerReferences ?? [];
  if (owners.length > 1) forbid(a, `node "${node}" can only create pods with a single owner reference set to itself`);
  if (owners.length === 0) forbid(a, `node "${node}" can only create pods with an owner reference set to itself`);
  const o = owners[0];
  if (o.apiVersion !== 'v1' || o.kind !== 'Node' || o.name !== node) forbid(a, `node "${node}" can only create pods with an owner reference set to itself`);
  if (o.controller !== true) forbid(a, `node "${node}" can only create pods with a controller owner reference set to itself`);
  if (o.blockOwnerDeletion === true) forbid(a, `node "${node}" must not set blockOwnerDeletion on an owner reference`);
  // The owner must be this Node object, not an earlier one of the same name (a NotFound passes through).
  const nodes = a.lookup('', 'nodes');
  if (nodes) {
    const current = await nodes.get({ namespace: '', name: node });
    if (o.uid !== current.metadata?.uid) forbid(a, `node ${node} UID mismatch: expected ${o.uid} got ${current.metadata?.uid}`);
  }
  const spec = pod.spec ?? {};
  if (spec.serviceAccountName) forbid(a, `node "${node}" can not create pods that reference a service account`);
  // A mirror pod's refs are its own spec: reuse the node authorizer's walk, minus the implied default service account.
  const refs = [...podRefsOf(pod)];
  if (refs.some((r) => r.startsWith('secrets/'))) forbid(a, `node "${node}" can not create pods that reference secrets`);
  if (refs.some((r) => r.startsWith('configmaps/'))) forbid(a, `node "${node}" can not create pods that reference configmaps`);
  for (const v of spec.volumes ?? []) {
    for (const s of v?.projected?.sources ?? []) if (s?.clusterTrustBundle) forbid(a, `node "${node}" can not create pods that reference clustertrustbundles`);
  }
  if ((spec.volumes ?? []).some((v: any) => v?.persistentVolumeClaim)) forbid(a, `node "${node}" can not create pods that reference persistentvolumeclaims`);
}

function admitNode(node: string, a: AdmissionAttributes): void {
  const name = a.object?.metadata?.name;
  if (name !== node) forbid(a, `node "${node}" is not allowed to modify node "${name}"`);
  if (a.operation === 'CREATE') {
    if (a.object.spec?.configSource) forbid(a, `node "${node}" is not allowed to create pods with a non-nil configSource`);
    const bad = forbiddenNodeLabels(a.object.metadata?.labels);
    if (bad.length) forbid(a, `node "${node}" is not allowed to set the following labels: ${bad.join(', ')}`);
  } else if (a.operation === 'UPDATE') {
    const old = a.oldObject ?? {};
    if (a.object.spec?.configSource && JSON.stringify(a.object.spec.configSource) !== JSON.stringify(old.spec?.configSource)) {
      forbid(a, `node "${node}" is not allowed to update configSource to a new non-nil configSource`);
    }
    if (JSON.stringify(a.object.spec?.taints ?? []) !== JSON.stringify(old.spec?.taints ?? [])) forbid(a, `node "${node}" is not allowed to modify taints`);
    const bad = forbiddenNodeLabels(a.object.metadata?.labels, old.metadata?.labels);
    if (bad.length) forbid(a, `is not allowed to modify labels: ${bad.join(', ')}`);
  }
}

function admitLease(node: string, a: AdmissionAttributes): void {
  if (a.object?.metadata?.namespace !== nodeLeaseNamespace) forbid(a, `can only access leases in the "${nodeLeaseNamespace}" system namespace`);
  if (a.object?.metadata?.name !== node) forbid(a, 'can only access node lease with the same name as the requesting node');
}

function admitTokenRequest(node: string, a: AdmissionAttributes): void {
  if (a.operation !== 'CREATE' || a.subresource !== 'token') return;
  const ref = a.object?.spec?.boundObjectRef;
  if (!ref || ref.apiVersion !== 'v1' || ref.kind !== 'Pod' || !ref.name) forbid(a, 'node requested token not bound to a pod');
  if (!ref.uid) forbid(a, 'node requested token with a pod binding without a uid');
}

/** The NodeRestriction plugin (validating). */
export const nodeRestriction: AdmissionPlugin = {
  name: 'NodeRestriction',
  // Writes by anyone but a node are answered synchronously (no promise for the chain to await).
  validate(a) {
    if (!a.user) return;
    const isNode = a.user.groups.includes('system:nodes') && a.user.username.startsWith('system:node:');
    if (!isNode) return;
    return restrictNodeWrite(a, a.user);
  },
};

async function restrictNodeWrite(a: AdmissionAttributes, user: UserInfo): Promise<void> {
  const node = nodeIdentity(user);
  if (!node) forbid(a, `could not determine node from user "${user.username}"`);
  const { group, resource } = a.store.gr;
  if (group === '' && resource === 'pods') return admitPod(node, a);
  if (group === '' && resource === 'nodes') return admitNode(node, a);
  if (group === 'coordination.k8s.io' && resource === 'leases') return admitLease(node, a);
  if (group === '' && resource === 'serviceaccounts') {
    admitTokenRequest(node, a);
    if (a.operation === 'CREATE' && a.subresource === 'token') await checkTokenPod(node, a);
    return;
  }
  if (group === '' && resource === 'persistentvolumeclaims') {
    if (a.subresource !== 'status') forbid(a, 'may only update PVC status');
    return;
  }
  if (group === 'storage.k8s.io' && resource === 'csinodes') {
    if (a.object?.metadata?.name !== node) forbid(a, 'can only access CSINode with the same name as the requesting node');
  }
}

/** The pod a node's token request is bound to must exist, match its uid, and be bound to the node. */
async function checkTokenPod(node: string, a: AdmissionAttributes): Promise<void> {
  const ref = a.object.spec.boundObjectRef;
  const pods = a.lookup('', 'pods');
  if (!pods) return;
  const ns = a.object.metadata?.namespace ?? a.oldObject?.metadata?.namespace ?? '';
  const pod = await pods.get({ namespace: ns, name: ref.name });
  if (ref.uid !== pod.metadata?.uid) {
    forbid(a, `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
  }
  if (pod.spec?.nodeName !== node) forbid(a, 'node requested token bound to a pod scheduled on a different node');
}

function podRefsOf(pod: KObject): Set<string> {
  // Without a service account name there is no implied reference; podReferences adds `default`.
  const refs = podReferences(pod);
  for (const r of [...refs]) if (r.startsWith('serviceaccounts/')) refs.delete(r);
  return refs;
}
