/**
 * Authentication: x509 client certificates signed by the cluster CA (CN = user, O = groups) and
 * bearer tokens (bootstrap and static tokens). Unauthenticated requests are system:anonymous,
 * which may only reach the public health and version endpoints.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { timingSafeEqual } from 'node:crypto';

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export interface Authenticator {
  /** The user, or undefined when the request carries no (valid) credentials. */
  authenticate(req: IncomingMessage): UserInfo | undefined | Promise<UserInfo | undefined>;
}

export const anonymous: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] };

/** Client certificates verified by the TLS layer against the cluster CA. */
export class X509Authenticator implements Authenticator {
  // A connection's certificate never changes: read it once per connection, not per request
  // (getPeerCertificate builds a large object and showed up high in profiles).
  private readonly bySocket = new WeakMap<object, UserInfo | null>();

  authenticate(req: IncomingMessage): UserInfo | undefined {
    const sock = req.socket as TLSSocket;
    const cached = this.bySocket.get(sock);
    if (cached !== undefined) return cached ?? undefined;
    const user = this.fromSocket(sock);
    this.bySocket.set(sock, user ?? null);
    return user;
  }

  private fromSocket(sock: TLSSocket): UserInfo | undefined {
    if (!sock.authorized || typeof sock.getPeerCertificate !== 'function') return undefined;
    const c = sock.getPeerCertificate();
    if (!c || !c.subject) return undefined;
    const cn = Array.isArray(c.subject.CN) ? c.subject.CN[0] : c.subject.CN;
    if (!cn) return undefined;
    const o = c.subject.O === undefined ? [] : Array.isArray(c.subject.O) ? c.subject.O : [c.subject.O];
    return { username: cn, groups: [...o, 'system:authenticated'] };
  }
}

/** A fixed table of bearer tokens (the server's join token, a static token file). */
export class TokenAuthenticator implements Authenticator {
  private readonly tokens: { token: Buffer; user: UserInfo }[] = [];
  add(token: string, user: UserInfo): void {
    this.tokens.push({ token: Buffer.from(token), user });
  }
  authenticate(req: IncomingMessage): UserInfo | undefined {
    const h = req.headers.authorization;
    if (!h || !h.startsWith('Bearer ')) return undefined;
    const t = Buffer.from(h.slice(7).trim());
    for (const e of this.tokens) {
      if (e.token.length === t.length && timingSafeEqual(e.token, t)) {
        return { ...e.user, groups: [...e.user.groups, 'system:authenticated'] };
      }
    }
    return undefined;
  }
}

/** Tries each authenticator in turn. */
export class UnionAuthenticator implements Authenticator {
  constructor(private readonly chain: Authenticator[]) {}
  async authenticate(req: IncomingMessage): Promise<UserInfo | undefined> {
    for (const a of this.chain) {
      const u = await a.authenticate(req);
      if (u) return u;
    }
    return undefined;
  }
}

/** True when the request presented credentials at all (a bad token is 401, no token is anonymous). */
export function presentedCredentials(req: IncomingMessage): boolean {
  return !!req.headers.authorization;
}
