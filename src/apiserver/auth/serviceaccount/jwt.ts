/**
 * Compact JWS (RFC 7515) signed with ES256 or RS256, as ServiceAccount tokens are. Only what
 * service account tokens need: sign a claim set, and verify one against known public keys.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export type JWTClaims = Record<string, unknown> & { iss?: string; sub?: string; aud?: string[] | string; exp?: number; nbf?: number; iat?: number; jti?: string };

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** The signing key: private key PEM; the algorithm follows its type (EC P-256 → ES256, RSA → RS256). */
export class JWTSigner {
  private readonly key: KeyObject;
  readonly alg: 'ES256' | 'RS256';
  readonly kid: string;
  readonly publicKey: KeyObject;

  constructor(privateKeyPEM: string) {
    this.key = createPrivateKey(privateKeyPEM);
    this.alg = algorithmOf(this.key);
    this.publicKey = createPublicKey(this.key);
    this.kid = keyID(this.publicKey);
  }

  sign(claims: JWTClaims): string {
    const header = b64url(JSON.stringify({ alg: this.alg, kid: this.kid }));
    const payload = b64url(JSON.stringify(claims));
    const input = `${header}.${payload}`;
    const sig = this.alg === 'ES256' ? sign('sha256', Buffer.from(input), { key: this.key, dsaEncoding: 'ieee-p1363' }) : sign('sha256', Buffer.from(input), this.key);
    return `${input}.${b64url(sig)}`;
  }
}

function algorithmOf(k: KeyObject): 'ES256' | 'RS256' {
  if (k.asymmetricKeyType === 'ec') return 'ES256';
  if (k.asymmetricKeyType === 'rsa') return 'RS256';
  throw new Error(`unsupported service account key type ${k.asymmetricKeyType}`);
}

/** Upstream's key id: the unpadded base64url SHA-256 of the public key's DER (PKIX) encoding. */
export function keyID(pub: KeyObject): string {
  return createHash('sha256').update(pub.export({ format: 'der', type: 'spki' })).digest('base64url');
}

/** Verifies signatures against one or more public keys (rotation keeps old ones). */
export class JWTVerifier {
  private readonly keys: { key: KeyObject; kid: string; alg: 'ES256' | 'RS256' }[];

  constructor(publicKeys: (KeyObject | string)[]) {
    this.keys = publicKeys.map((k) => {
      const key = typeof k === 'string' ? createPublicKey(k) : k;
      return { key, kid: keyID(key), alg: algorithmOf(key) };
    });
  }

  /** The claims when the signature is valid with one of the keys, else undefined. Time and audience are the caller's checks. */
  verify(token: string): JWTClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    let header: { alg?: string; kid?: string };
    let claims: JWTClaims;
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (!claims || typeof claims !== 'object' || Array.isArray(claims)) return undefined;
    const input = Buffer.from(`${parts[0]}.${parts[1]}`);
    const sig = Buffer.from(parts[2], 'base64url');
    for (const k of this.keys) {
      if (header.alg !== k.alg) continue;
      if (header.kid && header.kid !== k.kid) continue;
      const ok = k.alg === 'ES256' ? verify('sha256', input, { key: k.key, dsaEncoding: 'ieee-p1363' }, sig) : verify('sha256', input, k.key, sig);
      if (ok) return claims;
    }
    return undefined;
  }
}

/** True when the string has the shape of a JWT (three base64url parts), so other token kinds are not tried against it. */
export function looksLikeJWT(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token) && token.startsWith('eyJ');
}
