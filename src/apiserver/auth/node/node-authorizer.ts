/**
 * The node authorizer (upstream's plugin/pkg/auth/authorizer/node): a kubelet, user
 * `system:node:<name>` in group `system:nodes`, may read a secret, configmap, persistent volume
 * claim or persistent volume, and request a service account token, only when a pod bound to it
 * references the object. An index from the pods cache makes each decision a map lookup.
 */
import type { StoreLookup } from '../../admission/index.js';
import type { KObject } from '../../registry/generic/strategy.js';
import type { AuthorizationAttributes, AuthorizationResult, Authorizer, RulesResult } from '../authorizer.js';
import type { UserInfo } from '../authenticator.js';
import { StoreCache } from '../store-cache.js';

const nodeUserPrefix = 'system:node:';
const nodesGroup = 'system:nodes';

/** The node a user is, or undefined when the user is not a node (upstream's NodeIdentity). */
export function nodeIdentity(user: UserInfo | undefined): string | undefined {
  if (!user || !user.username.startsWith(nodeUserPrefix) || !user.groups.includes(nodesGroup)) return undefined;
  return user.username.slice(nodeUserPrefix.length) || undefined;
}

type RefKind = 'secrets' | 'configmaps' | 'persistentvolumeclaims' | 'serviceaccounts';

/** Every `<kind>/<namespace>/<name>` a pod references. */
export function podReferences(pod: KObject): Set<string> {
  const ns = pod.metadata?.namespace ?? '';
  const out = new Set<string>();
  const add = (kind: RefKind, name: unknown) => {
    if (typeof name === 'string' && name) out.add(`${kind}/${ns}/${name}`);
  };
  const spec = pod.spec ?? {};
  add('serviceaccounts', spec.serviceAccountName || 'default');
  for (const s of spec.imagePullSecrets ?? []) add('secrets', s?.name);
  for (const v of spec.volumes ?? []) {
    if (!v) continue;
    add('secrets', v.secret?.secretName);
    add('configmaps', v.configMap?.name);
    add('persistentvolumeclaims', v.persistentVolumeClaim?.claimName);
    // A generic ephemeral volume's claim is named <pod>-<volume>.
    if (v.ephemeral) add('persistentvolumeclaims', `${pod.metadata?.name}-${v.name}`);
    for (const src of v.projected?.sources ?? []) {
      add('secrets', src?.secret?.name);
      add('configmaps', src?.configMap?.name);
    }
    // Volume plugins with credentials in a secret.
    for (const k of ['azureFile', 'cephfs', 'cinder', 'flexVolume', 'iscsi', 'rbd', 'scaleIO', 'storageos', 'csi']) {
      const vs = v[k];
      if (!vs) continue;
      add('secrets', vs.secretRef?.name ?? vs.secretName ?? vs.nodePublishSecretRef?.name);
    }
  }
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
  for (const c of containers) {
    for (const e of c?.env ?? []) {
      add('secrets', e?.valueFrom?.secretKeyRef?.name);
      add('configmaps', e?.valueFrom?.configMapKeyRef?.name);
    }
    for (const e of c?.envFrom ?? []) {
      add('secrets', e?.secretRef?.name);
      add('configmaps', e?.configMapRef?.name);
    }
  }
  return out;
}

/** Options of {@link NodeAuthorizer}. */
export interface NodeAuthorizerOptions {
  /**
   * The static rules every node has (upstream's NodeRules: the system:node ClusterRole's rules),
   * checked for requests the graph does not decide. Absent: those get no opinion and RBAC decides.
   */
  nodeRules?: (a: AuthorizationAttributes) => boolean;
}

/** Upstream's node authorizer. Construct, `start()`, and await `synced` before serving. */
export class NodeAuthorizer implements Authorizer {
  /** Per node, each referenced object with how many of its pods reference it. */
  private readonly byNode = new Map<string, Map<string, number>>();
  private readonly pods?: StoreCache;
  private readonly pvcs?: StoreCache;
  /** Resolves once the caches hold the initial state. */
  readonly synced: Promise<void>;

  constructor(
    lookup: StoreLookup,
    private readonly opts: NodeAuthorizerOptions = {},
  ) {
    const podStore = lookup('', 'pods');
    const pvcStore = lookup('', 'persistentvolumeclaims');
    if (podStore) {
      // Only what the index needs is kept of each pod: its node and the objects it references.
      this.pods = new StoreCache(podStore, (pod) => ({ metadata: { name: pod.metadata?.name, namespace: pod.metadata?.namespace }, nodeName: pod.spec?.nodeName, refs: [...podReferences(pod)] }));
      this.pods.onEvent((ev) => {
        if (ev.old) this.index(ev.old, -1);
        if (ev.type !== 'DELETED') this.index(ev.object, +1);
      });
    }
    if (pvcStore) this.pvcs = new StoreCache(pvcStore);
    this.synced = Promise.all([this.pods?.synced, this.pvcs?.synced]).then(() => {
      this.ready = true;
    });
  }

  start(): this {
    if (this.started) return this;
    this.started = true;
    this.pods?.start();
    this.pvcs?.start();
    return this;
  }

  private started = false;
  private ready = false;

  /**
   * Start on the first request from a node rather than at once: the pod cache costs a decode of
   * every pod write, which a control plane without nodes need not pay.
   */
  lazy(): this {
    this.lazyStart = true;
    return this;
  }

  private lazyStart = false;

  stop(): void {
    this.pods?.stop();
    this.pvcs?.stop();
  }

  /** `pod` as the pod cache keeps it: `{ nodeName, refs }`. */
  private index(pod: KObject, delta: 1 | -1): void {
    const node: string | undefined = pod.nodeName;
    if (!node) return;
    let refs = this.byNode.get(node);
    if (!refs) {
      if (delta < 0) return;
      this.byNode.set(node, (refs = new Map()));
    }
    for (const r of pod.refs as string[]) {
      const n = (refs.get(r) ?? 0) + delta;
      if (n > 0) refs.set(r, n);
      else refs.delete(r);
    }
    if (!refs.size) this.byNode.delete(node);
  }

  /** True when a pod bound to `node` references `<kind>/<namespace>/<name>`. */
  hasReference(node: string, kind: string, namespace: string, name: string): boolean {
    return this.byNode.get(node)?.has(`${kind}/${namespace}/${name}`) ?? false;
  }

  /** A node's rules depend on its pods, so they cannot be listed (upstream answers the same). */
  rulesFor(user: UserInfo): RulesResult {
    const node = nodeIdentity(user);
    if (node === undefined) return { resourceRules: [], nonResourceRules: [], incomplete: false };
    return { resourceRules: [], nonResourceRules: [], incomplete: true, evaluationError: `node authorizer does not support user rule resolution` };
  }

  authorize(a: AuthorizationAttributes): AuthorizationResult | Promise<AuthorizationResult> {
    const node = nodeIdentity(a.user);
    if (node === undefined) return { decision: 'noOpinion' };
    if (!this.ready) {
      if (this.lazyStart) this.start();
      return this.synced.then(() => this.authorize(a));
    }
    const r = this.decide(node, a);
    if (r.decision === 'noOpinion' && this.opts.nodeRules?.(a)) return { decision: 'allow' };
    return r;
  }

  private decide(node: string, a: AuthorizationAttributes): AuthorizationResult {
    if (!a.isResourceRequest || a.apiGroup !== '') return { decision: 'noOpinion' };
    const noRelationship: AuthorizationResult = { decision: 'deny', reason: `no relationship found between node '${node}' and this object` };
    switch (a.resource) {
      case 'secrets':
      case 'configmaps': {
        if (!['get', 'list', 'watch'].includes(a.verb)) return { decision: 'deny', reason: 'can only read resources of this type' };
        if (a.subresource) return { decision: 'deny', reason: 'cannot read subresource' };
        if (!a.namespace) return { decision: 'deny', reason: 'can only read namespaced object of this type' };
        if (!a.name) return { decision: 'deny', reason: 'No Object name found' };
        return this.hasReference(node, a.resource, a.namespace, a.name) ? { decision: 'allow' } : noRelationship;
      }
      case 'persistentvolumeclaims': {
        // A kubelet updates the status of claims it resizes; RBAC decides that.
        if (a.subresource === 'status') return { decision: 'noOpinion' };
        if (a.verb !== 'get') return { decision: 'deny', reason: 'can only get individual resources of this type' };
        if (a.subresource) return { decision: 'deny', reason: 'cannot get subresource' };
        if (!a.name) return { decision: 'deny', reason: 'No Object name found' };
        return this.hasReference(node, 'persistentvolumeclaims', a.namespace, a.name) ? { decision: 'allow' } : noRelationship;
      }
      case 'persistentvolumes': {
        if (a.verb !== 'get') return { decision: 'deny', reason: 'can only get individual resources of this type' };
        if (a.subresource) return { decision: 'deny', reason: 'cannot get subresource' };
        if (!a.name) return { decision: 'deny', reason: 'No Object name found' };
        return this.pvReachable(node, a.name) ? { decision: 'allow' } : noRelationship;
      }
      case 'serviceaccounts': {
        if (a.subresource !== 'token') return { decision: 'noOpinion' };
        if (a.verb !== 'create' || !a.name) return { decision: 'deny', reason: 'can only create tokens for individual service accounts' };
        return this.hasReference(node, 'serviceaccounts', a.namespace, a.name) ? { decision: 'allow' } : noRelationship;
      }
      default:
        return { decision: 'noOpinion' };
    }
  }

  /** A volume is reachable through a claim of one of the node's pods that is bound to it. */
  private pvReachable(node: string, pv: string): boolean {
    const refs = this.byNode.get(node);
    if (!refs || !this.pvcs) return false;
    for (const r of refs.keys()) {
      if (!r.startsWith('persistentvolumeclaims/')) continue;
      const [, ns, name] = r.split('/');
      if (this.pvcs.get(ns, name)?.spec?.volumeName === pv) return true;
    }
    return false;
  }
}
