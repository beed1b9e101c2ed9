/**
 * ServiceAccount tokens: JWTs the API server signs for the TokenRequest API, and the bearer-token
 * source that accepts them while their ServiceAccount (and the pod, secret or node they are bound
 * to) still exists with the same uid, as upstream's serviceaccount token authenticator does.
 */
import { randomUUID } from 'node:crypto';
import type { TokenAuthResult, TokenSource, UserInfo } from '../authenticator.js';
import type { StoreCache } from '../store-cache.js';

/** A started cache of a resource, e.g. `('', 'pods')`. */
export type CacheLookup = (group: string, resource: string) => StoreCache | undefined;
import { JWTSigner, JWTVerifier, looksLikeJWT, type JWTClaims } from './jwt.js';

export const serviceAccountPrefix = 'system:serviceaccount:';
/** Upstream's default issuer (kubeadm and k3s use the same). */
export const defaultIssuer = 'https://kubernetes.default.svc.cluster.local';

export interface BoundObject {
  kind: 'Pod' | 'Secret' | 'Node';
  name: string;
  uid: string;
}

export interface IssueRequest {
  namespace: string;
  serviceAccount: { name: string; uid: string };
  audiences: string[];
  expirationSeconds: number;
  bound?: BoundObject;
  /** The node of a bound pod (recorded as upstream does). */
  node?: { name: string; uid?: string };
}

export interface ServiceAccountTokenOptions {
  /** The private key (PEM) that signs; its public key verifies. */
  signingKey: string;
  /** More public keys (PEM) whose tokens are still accepted (key rotation). */
  extraPublicKeys?: string[];
  issuer?: string;
  /** What tokens are for when a request names no audience (upstream's --api-audiences; default the issuer). */
  apiAudiences?: string[];
  /** Caches to check that a token's objects still exist (service accounts, pods, secrets, nodes). */
  caches: CacheLookup;
  now?: () => number;
}

interface KubernetesClaims {
  namespace: string;
  serviceaccount: { name: string; uid: string };
  pod?: { name: string; uid: string };
  secret?: { name: string; uid: string };
  node?: { name: string; uid?: string };
}

/** Issues and authenticates ServiceAccount tokens. */
export class ServiceAccountTokens implements TokenSource {
  readonly issuer: string;
  readonly apiAudiences: string[];
  private readonly signer: JWTSigner;
  private readonly verifier: JWTVerifier;
  private readonly now: () => number;
  /** Tokens whose signature was checked: verification is most of the cost of a request otherwise. */
  private readonly verified = new Map<string, JWTClaims>();

  constructor(private readonly o: ServiceAccountTokenOptions) {
    this.signer = new JWTSigner(o.signingKey);
    this.verifier = new JWTVerifier([this.signer.publicKey, ...(o.extraPublicKeys ?? [])]);
    this.issuer = o.issuer ?? defaultIssuer;
    this.apiAudiences = o.apiAudiences?.length ? o.apiAudiences : [this.issuer];
    this.now = o.now ?? Date.now;
  }

  issue(r: IssueRequest): { token: string; expirationTimestamp: string } {
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + r.expirationSeconds;
    const k8s: KubernetesClaims = { namespace: r.namespace, serviceaccount: { name: r.serviceAccount.name, uid: r.serviceAccount.uid } };
    if (r.bound?.kind === 'Pod') k8s.pod = { name: r.bound.name, uid: r.bound.uid };
    if (r.bound?.kind === 'Secret') k8s.secret = { name: r.bound.name, uid: r.bound.uid };
    if (r.bound?.kind === 'Node') k8s.node = { name: r.bound.name, uid: r.bound.uid };
    else if (r.node) k8s.node = r.node;
    const token = this.signer.sign({
      aud: r.audiences,
      exp,
      iat,
      iss: this.issuer,
      jti: randomUUID(),
      'kubernetes.io': k8s,
      nbf: iat,
      sub: `${serviceAccountPrefix}${r.namespace}:${r.serviceAccount.name}`,
    });
    return { token, expirationTimestamp: new Date(exp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') };
  }

  async authenticateToken(token: string, audiences?: string[]): Promise<TokenAuthResult | undefined> {
    if (!looksLikeJWT(token)) return undefined;
    let claims = this.verified.get(token);
    if (!claims) {
      claims = this.verifier.verify(token);
      if (!claims) return undefined;
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(token, claims);
    }
    if (claims.iss !== this.issuer) return undefined;
    const nowS = this.now() / 1000;
    if (typeof claims.exp !== 'number' || claims.exp < nowS) return undefined;
    if (typeof claims.nbf === 'number' && claims.nbf > nowS + 60) return undefined;
    const tokenAud = Array.isArray(claims.aud) ? claims.aud : typeof claims.aud === 'string' ? [claims.aud] : [];
    const wanted = audiences?.length ? audiences : this.apiAudiences;
    const matched = wanted.filter((a) => tokenAud.includes(a));
    if (!matched.length) return undefined;
    const k = claims['kubernetes.io'] as KubernetesClaims | undefined;
    if (!k?.namespace || !k.serviceaccount?.name) return undefined;
    const cache = async (resource: string) => {
      const c = this.o.caches('', resource);
      await c?.synced;
      return c;
    };
    const sa = (await cache('serviceaccounts'))?.get(k.namespace, k.serviceaccount.name);
    if (!sa || sa.metadata?.uid !== k.serviceaccount.uid || sa.metadata?.deletionTimestamp) return undefined;
    const extra: Record<string, string[]> = {};
    if (k.pod) {
      const pod = (await cache('pods'))?.get(k.namespace, k.pod.name);
      if (!pod || pod.metadata?.uid !== k.pod.uid) return undefined;
      // A pod being deleted keeps its token through its grace period only.
      const del = pod.metadata?.deletionTimestamp;
      if (del && Date.parse(del) + 60_000 < this.now()) return undefined;
      extra['authentication.kubernetes.io/pod-name'] = [k.pod.name];
      extra['authentication.kubernetes.io/pod-uid'] = [k.pod.uid];
    }
    if (k.secret) {
      const s = (await cache('secrets'))?.get(k.namespace, k.secret.name);
      if (!s || s.metadata?.uid !== k.secret.uid) return undefined;
    }
    if (k.node) {
      if (!k.pod) {
        const n = (await cache('nodes'))?.get(undefined, k.node.name);
        if (!n || (k.node.uid && n.metadata?.uid !== k.node.uid)) return undefined;
      }
      extra['authentication.kubernetes.io/node-name'] = [k.node.name];
      if (k.node.uid) extra['authentication.kubernetes.io/node-uid'] = [k.node.uid];
    }
    if (typeof claims.jti === 'string') extra['authentication.kubernetes.io/credential-id'] = [`JTI=${claims.jti}`];
    const user: UserInfo = {
      username: `${serviceAccountPrefix}${k.namespace}:${k.serviceaccount.name}`,
      uid: k.serviceaccount.uid,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${k.namespace}`, 'system:authenticated'],
      extra,
    };
    return { user, audiences: matched };
  }
}
