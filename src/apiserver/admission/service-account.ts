/**
 * ServiceAccount admission: a new pod runs as a ServiceAccount that exists (`default` unless it
 * names one), inherits its imagePullSecrets, and gets its API credentials as the projected
 * `kube-api-access-*` volume (a bound token, the cluster CA and the namespace) mounted in every
 * container, unless automountServiceAccountToken is false on the pod or the account.
 */
import { randomInt } from 'node:crypto';
import { errors, StatusError } from '../../api/errors.js';
import { defaultServiceAccountName } from '../../api/defaulting/pod.js';
import type { KObject } from '../registry/generic/strategy.js';
import type { AdmissionAttributes, AdmissionPlugin } from './index.js';

export const serviceAccountMountPath = '/var/run/secrets/kubernetes.io/serviceaccount';
const mirrorAnnotation = 'kubernetes.io/config.mirror';
const suffixChars = 'bcdfghjklmnpqrstvwxz2456789';
/** A new namespace's `default` account comes from a controller: wait this long for it. */
const defaultAccountWaitMs = 3000;

/** The projected volume upstream's admission adds (token renewed by the kubelet; 3607 s as upstream). */
export function apiAccessVolume(name: string): KObject {
  return {
    name,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}

export const serviceAccount: AdmissionPlugin = {
  name: 'ServiceAccount',
  mutate(a) {
    const gr = a.store.gr;
    if (a.operation !== 'CREATE' || a.subresource || gr.group !== '' || gr.resource !== 'pods') return;
    return mountServiceAccount(a);
  },
};

async function mountServiceAccount(a: AdmissionAttributes): Promise<void> {
  const gr = a.store.gr;
  const pod = a.object;
  const spec = (pod.spec ??= {});
  if (pod.metadata?.annotations?.[mirrorAnnotation]) return;
  defaultServiceAccountName(pod);
  const name: string = spec.serviceAccountName;
  const ns: string = pod.metadata?.namespace ?? '';
  const accounts = a.lookup('', 'serviceaccounts');
  if (!accounts) return;
  let sa: KObject | undefined;
  const deadline = Date.now() + (name === 'default' ? defaultAccountWaitMs : 0);
  sa = await a.cached.get('', 'serviceaccounts', ns, name);
  for (; !sa; ) {
    try {
      sa = await accounts.get({ namespace: ns, name });
      break;
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 404)) throw e;
      if (Date.now() >= deadline) {
        throw errors.forbidden(gr, pod.metadata?.name ?? '', `error looking up service account ${ns}/${name}: serviceaccount "${name}" not found`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if ((!Array.isArray(spec.imagePullSecrets) || spec.imagePullSecrets.length === 0) && Array.isArray(sa.imagePullSecrets) && sa.imagePullSecrets.length) {
    spec.imagePullSecrets = sa.imagePullSecrets.map((r: KObject) => ({ name: r.name }));
  }
  const automount = spec.automountServiceAccountToken ?? sa.automountServiceAccountToken ?? true;
  if (!automount) return;
  const containers: KObject[] = [...(Array.isArray(spec.initContainers) ? spec.initContainers : []), ...(Array.isArray(spec.containers) ? spec.containers : [])];
  // A pod that mounts something of its own there keeps it.
  if (containers.some((c) => (c.volumeMounts ?? []).some((m: KObject) => m?.mountPath === serviceAccountMountPath))) return;
  const volumes: KObject[] = (spec.volumes = Array.isArray(spec.volumes) ? spec.volumes : []);
  let volName: string;
  do {
    let sfx = '';
    for (let i = 0; i < 5; i++) sfx += suffixChars[randomInt(suffixChars.length)];
    volName = `kube-api-access-${sfx}`;
  } while (volumes.some((v) => v?.name === volName));
  volumes.push(apiAccessVolume(volName));
  for (const c of containers) {
    c.volumeMounts = [...(Array.isArray(c.volumeMounts) ? c.volumeMounts : []), { name: volName, readOnly: true, mountPath: serviceAccountMountPath }];
  }
}
