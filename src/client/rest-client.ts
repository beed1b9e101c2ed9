/**
 * A small REST client for the Kubernetes API: the one way k8ts components see the cluster.
 * Keep-alive HTTPS with client certificates or a bearer token, JSON bodies, Status errors, and
 * watch streams of newline-delimited events.
 */
import https from 'node:https';
import tls from 'node:tls';
import http from 'node:http';
import { StatusError, type Status } from '../api/errors.js';
import { Http1Pool } from './http1.js';

export type KObject = Record<string, any>;

export interface ClientConfig {
  /** e.g. https://127.0.0.1:6443 */
  server: string;
  /**
   * More API servers of the same cluster: when the current one cannot be reached, requests move
   * to the next (a node agent given every server's address keeps working when one dies).
   */
  servers?: string[];
  ca?: string;
  cert?: string;
  key?: string;
  token?: string;
  /** Component name for the User-Agent and the default field manager. */
  userAgent?: string;
  insecureSkipTLSVerify?: boolean;
}

/** Where a resource lives: the REST path pieces. */
export interface ResourceRef {
  group: string;
  version: string;
  resource: string;
  namespaced: boolean;
}

export interface ListOpts {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KObject;
}

export interface WatchHandle {
  /** Resolves when the stream ends (server closed, error, or abort). */
  done: Promise<void>;
  abort(): void;
}

function qs(params: Record<string, string | number | boolean | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

function abortError(name: 'AbortError' | 'TimeoutError', message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

/** Encode query parameters, skipping undefined and empty values. */
export function queryString(params: Record<string, string | number | boolean | undefined>): string {
  return qs(params);
}

/** Errors that mean the server could not be reached (the request may be retried elsewhere). */
const unreachableCodes = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
/** Errors that mean nothing was sent, so any request may be sent again to another server. */
const notSentCodes = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);

export class RestClient {
  private readonly agent: http.Agent;
  private readonly urls: URL[];
  private current = 0;
  private readonly isHttps: boolean;
  /** One TLS context for every connection: built per connection otherwise, at a cost that shows in profiles of clients that open many. */
  private readonly secureContext: tls.SecureContext | undefined;
  /** Plain requests go through these (one per server); watches through the agent. */
  private readonly pools = new Map<URL, Http1Pool>();
  /** Request headers that are the same for every request, rendered once. */
  private readonly fixedHeaders: string;

  constructor(readonly config: ClientConfig) {
    this.urls = [...new Set([config.server, ...(config.servers ?? [])])].map((u) => new URL(u));
    this.isHttps = this.urls[0].protocol === 'https:';
    this.secureContext = this.isHttps ? tls.createSecureContext({ ca: config.ca, cert: config.cert, key: config.key }) : undefined;
    this.agent = this.isHttps
      ? new https.Agent({ keepAlive: true, maxSockets: 64, secureContext: this.secureContext, rejectUnauthorized: !config.insecureSkipTLSVerify })
      : new http.Agent({ keepAlive: true, maxSockets: 64 });
    this.fixedHeaders = Object.entries(this.headers())
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
  }

  private pool(target: URL): Http1Pool {
    let p = this.pools.get(target);
    if (!p) {
      p = new Http1Pool({
        // WHATWG URLs keep IPv6 hosts in brackets.
        host: target.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: Number(target.port || (this.isHttps ? 443 : 80)),
        tls: this.secureContext ? { secureContext: this.secureContext, rejectUnauthorized: !this.config.insecureSkipTLSVerify } : undefined,
        maxSockets: 64,
      });
      this.pools.set(target, p);
    }
    return p;
  }

  /** The server requests go to now. */
  private get url(): URL {
    return this.urls[this.current];
  }

  /** The URL of the server in use (it changes on failover). */
  get serverURL(): string {
    return this.url.origin;
  }

  /** After a connection failure to `failed`: use the next server (once, however many requests saw it fail). */
  private failover(failed: URL): boolean {
    if (this.urls.length < 2) return false;
    if (this.url === failed) this.current = (this.current + 1) % this.urls.length;
    return true;
  }

  /** The collection or object path of a resource. */
  path(r: ResourceRef, namespace?: string, name?: string, subresource?: string): string {
    let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    if (r.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
    p += `/${r.resource}`;
    if (name) p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
    return p;
  }

  /** The headers every request carries (a body's Content-Type and length are added per request). */
  private headers(): Record<string, string> {
    const h: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.config.userAgent ?? 'k8ts' };
    if (this.config.token) h.Authorization = `Bearer ${this.config.token}`;
    return h;
  }

  /** One request; resolves with the decoded JSON body, rejects with a StatusError on non-2xx. */
  request<T = KObject>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    return this.send<T>(method, path, body, { contentType });
  }

  /**
   * {@link request} with cancellation: `signal` aborts the request, `timeoutMs` bounds it. Either
   * rejects with an Error whose `name` is 'AbortError' or 'TimeoutError'.
   */
  async send<T = KObject>(method: string, path: string, body?: unknown, opts: { contentType?: string; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const target = this.url;
      try {
        return await this.sendOnce<T>(target, method, path, body, opts);
      } catch (e) {
        // A pooled connection the server had closed while idle (a restart, its idle timeout): the
        // request never reached a live server, so it is sent once more on a new connection.
        if ((e as { staleConnection?: boolean }).staleConnection && attempt === 0) continue;
        const code = (e as NodeJS.ErrnoException)?.code ?? '';
        if (!unreachableCodes.has(code) || !this.failover(target)) throw e;
        // Another server: again at once when nothing was sent or the request is a read.
        const retry = (notSentCodes.has(code) || method === 'GET') && attempt < this.urls.length - 1;
        if (!retry) throw e;
      }
    }
  }

  private async sendOnce<T>(target: URL, method: string, path: string, body: unknown, opts: { contentType?: string; signal?: AbortSignal; timeoutMs?: number }): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const headers = payload ? `${this.fixedHeaders}Content-Type: ${opts.contentType ?? 'application/json'}\r\n` : this.fixedHeaders;
    const res = await this.pool(target).request(method, path, headers, payload, {
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
      abortError: (name) => abortError(name, name === 'AbortError' ? 'request aborted' : `request timed out after ${opts.timeoutMs} ms`),
    });
    const text = res.body.toString('utf8');
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { message: text };
    }
    const code = res.status;
    if (code >= 200 && code < 300) return parsed as T;
    throw new StatusError(parsed?.kind === 'Status' ? (parsed as Status) : { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: text || `HTTP ${code}`, code });
  }

  get(r: ResourceRef, namespace: string, name: string, subresource?: string): Promise<KObject> {
    return this.request('GET', this.path(r, namespace, name, subresource));
  }
  list(r: ResourceRef, namespace: string | undefined, opts: ListOpts = {}): Promise<KObject> {
    return this.request('GET', this.path(r, namespace) + qs({ ...opts }));
  }
  create(r: ResourceRef, namespace: string | undefined, obj: KObject, fieldManager?: string): Promise<KObject> {
    return this.request('POST', this.path(r, namespace) + qs({ fieldManager }), obj);
  }
  /** POST to an object's subresource (serviceaccounts/token, pods/eviction, pods/binding...). */
  createSubresource(r: ResourceRef, namespace: string | undefined, name: string, subresource: string, obj: KObject): Promise<KObject> {
    return this.request('POST', this.path(r, namespace, name, subresource), obj);
  }
  update(r: ResourceRef, obj: KObject, subresource?: string, fieldManager?: string): Promise<KObject> {
    return this.request('PUT', this.path(r, obj.metadata?.namespace, obj.metadata?.name, subresource) + qs({ fieldManager }), obj);
  }
  patch(
    r: ResourceRef,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    type: 'merge' | 'strategic' | 'json' | 'apply' = 'merge',
    opts: { subresource?: string; fieldManager?: string; force?: boolean } = {},
  ): Promise<KObject> {
    const ct = {
      merge: 'application/merge-patch+json',
      strategic: 'application/strategic-merge-patch+json',
      json: 'application/json-patch+json',
      apply: 'application/apply-patch+yaml',
    }[type];
    return this.request('PATCH', this.path(r, namespace, name, opts.subresource) + qs({ fieldManager: opts.fieldManager, force: opts.force }), patch, ct);
  }
  delete(r: ResourceRef, namespace: string | undefined, name: string, opts: { gracePeriodSeconds?: number; propagationPolicy?: string; preconditions?: { uid?: string; resourceVersion?: string } } = {}): Promise<KObject> {
    return this.request('DELETE', this.path(r, namespace, name), { kind: 'DeleteOptions', apiVersion: 'v1', ...opts });
  }

  /** Open a watch; events are delivered in order until the stream ends. */
  watch(r: ResourceRef, namespace: string | undefined, opts: ListOpts & { allowWatchBookmarks?: boolean; timeoutSeconds?: number }, onEvent: (ev: WatchEvent) => void): WatchHandle {
    const path = this.path(r, namespace) + qs({ ...opts, watch: 'true' });
    const mod = this.isHttps ? https : http;
    let req: http.ClientRequest;
    const target = this.url;
    const done = new Promise<void>((resolve, reject) => {
      req = mod.request({ host: target.hostname, port: target.port, method: 'GET', path, agent: this.agent, headers: this.headers() }, (res) => {
        if ((res.statusCode ?? 0) >= 300) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              reject(new StatusError(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
            } catch {
              reject(new Error(`watch failed: HTTP ${res.statusCode}`));
            }
          });
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!line.trim()) continue;
            let ev: WatchEvent;
            try {
              ev = JSON.parse(line) as WatchEvent;
            } catch {
              // A malformed line ends the stream; the caller resumes or relists.
              res.destroy();
              return;
            }
            try {
              onEvent(ev);
            } catch {
              res.destroy();
              return;
            }
          }
        });
        res.on('end', () => resolve());
        res.on('error', () => resolve());
        res.on('aborted', () => resolve());
      });
      req.on('error', (e) => {
        const code = (e as NodeJS.ErrnoException).code ?? '';
        // The caller re-watches (or relists); it goes to the next server if this one is unreachable.
        if (unreachableCodes.has(code) && code !== 'ECONNRESET') this.failover(target);
        if (code === 'ECONNRESET' || code === 'ABORT_ERR') resolve();
        else reject(e);
      });
      req.end();
    });
    return {
      done,
      abort: () => req.destroy(),
    };
  }

  close(): void {
    for (const p of this.pools.values()) p.destroy();
    this.agent.destroy();
  }
}
