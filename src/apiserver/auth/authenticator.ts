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

/** A bearer token's user, and the audiences it was valid for (service account tokens). */
export interface TokenAuthResult {
  user: UserInfo;
  audiences?: string[];
}

/** One kind of bearer token (static, bootstrap, service account). */
export interface TokenSource {
  /** The user, or undefined when the token is not one of this source's (or not valid for any of `audiences`). */
  authenticateToken(token: string, audiences?: string[]): TokenAuthResult | undefined | Promise<TokenAuthResult | undefined>;
}

/** A fixed table of bearer tokens (the server's join token, a static token file). */
export class TokenAuthenticator implements Authenticator, TokenSource {
  private readonly tokens: { token: Buffer; user: UserInfo }[] = [];
  add(token: string, user: UserInfo): void {
    this.tokens.push({ token: Buffer.from(token), user });
  }
  authenticate(req: IncomingMessage): UserInfo | undefined {
    const t = bearerToken(req);
    return t === undefined ? undefined : this.authenticateToken(t)?.user;
  }
  authenticateToken(token: string): TokenAuthResult | undefined {
    const t = Buffer.from(token);
    for (const e of this.tokens) {
      if (e.token.length === t.length && timingSafeEqual(e.token, t)) {
        const groups = e.user.groups.includes('system:authenticated') ? e.user.groups : [...e.user.groups, 'system:authenticated'];
        return { user: { ...e.user, groups } };
      }
    }
    return undefined;
  }
}

/** The bearer token of a request's Authorization header. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h || !/^bearer /i.test(h)) return undefined;
  const t = h.slice(7).trim();
  return t || undefined;
}

/** Bearer tokens, asked of each source in turn (and TokenReview's way to check one). */
export class BearerAuthenticator implements Authenticator, TokenSource {
  constructor(private readonly sources: TokenSource[]) {}
  async authenticate(req: IncomingMessage): Promise<UserInfo | undefined> {
    const t = bearerToken(req);
    return t === undefined ? undefined : (await this.authenticateToken(t))?.user;
  }
  async authenticateToken(token: string, audiences?: string[]): Promise<TokenAuthResult | undefined> {
    for (const s of this.sources) {
      const r = await s.authenticateToken(token, audiences);
      if (r) return r;
    }
    return undefined;
  }
}

/**
 * Upstream's --token-auth-file: CSV lines `token,user,uid[,"group1,group2"]`; blank lines and
 * lines starting with # are skipped.
 */
export function parseTokenFile(text: string): { token: string; user: UserInfo }[] {
  const out: { token: string; user: UserInfo }[] = [];
  let n = 0;
  for (const raw of text.split(/\r?\n/)) {
    n++;
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const cells = splitCSV(line);
    if (cells.length < 3) throw new Error(`token file line ${n}: need at least 3 columns (token,user,uid), got ${cells.length}`);
    const [token, username, uid, groups] = cells;
    if (!token || !username) throw new Error(`token file line ${n}: empty token or user`);
    out.push({ token, user: { username, uid: uid || undefined, groups: groups ? groups.split(',').map((g) => g.trim()).filter(Boolean) : [] } });
  }
  return out;
}

function splitCSV(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((c) => c.trim());
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
