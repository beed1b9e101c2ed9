/**
 * httpGet probes (upstream pkg/probe/http): GET with no keep-alive, no proxy and no certificate
 * check; 200-399 is success; redirects are followed only to the same hostname (at most 10),
 * a redirect elsewhere ends the probe with a warning; at most 10 KiB of the body is read.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KObject } from '../../client/rest-client.js';
import { bareHost, goNetError, goQuote, joinHostPort, MAX_PROBE_OUTPUT, PROBE_USER_AGENT, resolveContainerPort, serverName, type ProbeOutcome } from './probe-util.js';

/** A ready-to-send probe request: what upstream's NewRequestForHTTPGetAction builds. */
export interface HttpProbeRequest {
  /** The URL as Go prints it in errors (no trailing slash added to an empty path). */
  urlString: string;
  url: URL;
  /** Canonical header names to values, without Host. */
  headers: Map<string, string[]>;
  /** The Host header to send, when the probe sets one. */
  host?: string;
}

/** Go's textproto.CanonicalMIMEHeaderKey: `x-custom-header` → `X-Custom-Header`. */
export function canonicalHeaderKey(k: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(k)) return k;
  return k.toLowerCase().replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase());
}

/** Builds the request for a container's httpGet action; throws on a port that does not resolve. */
export function httpGetRequest(httpGet: KObject, container: KObject, podIP: string): HttpProbeRequest {
  const scheme = String(httpGet.scheme || 'HTTP').toLowerCase();
  const host: string = httpGet.host || podIP;
  const port = resolveContainerPort(httpGet.port, container);
  const path: string = httpGet.path ?? '';
  const urlString = `${scheme}://${joinHostPort(host, port)}${path && !path.startsWith('/') ? '/' : ''}${path}`;
  const headers = new Map<string, string[]>();
  for (const h of (httpGet.httpHeaders ?? []) as KObject[]) {
    const k = canonicalHeaderKey(String(h.name));
    headers.set(k, [...(headers.get(k) ?? []), String(h.value ?? '')]);
  }
  if (!headers.has('User-Agent')) headers.set('User-Agent', [PROBE_USER_AGENT]);
  if (!headers.has('Accept')) headers.set('Accept', ['*/*']);
  else if (!headers.get('Accept')![0]) headers.delete('Accept');
  const hostHeader = headers.get('Host')?.[0];
  headers.delete('Host');
  return { urlString, url: new URL(urlString), headers, host: hostHeader || undefined };
}

interface Response {
  status: number;
  location?: string;
  body: string;
}

class BodyError extends Error {}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Runs one HTTP probe within `timeoutMs` (connect, redirects and body together, like Go's Client.Timeout). */
export async function httpProbe(req: HttpProbeRequest, timeoutMs: number): Promise<ProbeOutcome> {
  const deadline = Date.now() + timeoutMs;
  const firstHost = req.url.hostname;
  let url = req.url;
  let urlString = req.urlString;
  let host = req.host;
  for (let requests = 1; ; requests++) {
    let res: Response;
    try {
      res = await get(url, req.headers, host, deadline, firstHost);
    } catch (err) {
      if (err instanceof BodyError) return { result: 'failure', output: '', error: err.message };
      return { result: 'failure', output: `Get ${goQuote(urlString)}: ${(err as Error).message}` };
    }
    if (REDIRECTS.has(res.status) && res.location) {
      let next: URL;
      try {
        next = new URL(res.location, url);
      } catch (err) {
        return { result: 'failure', output: `Get ${goQuote(res.location)}: ${(err as Error).message}` };
      }
      if (next.hostname === firstHost) {
        if (requests >= 10) return { result: 'failure', output: `Get ${goQuote(res.location)}: stopped after 10 redirects` };
        // Go keeps a custom Host only across relative redirects.
        if (/^[a-z][a-z0-9+.-]*:/i.test(res.location)) host = undefined;
        url = next;
        urlString = next.href;
        continue;
      }
    }
    if (res.status >= 200 && res.status < 400) {
      if (res.status >= 300) return { result: 'warning', output: `Probe terminated redirects, Response body: ${res.body}` };
      return { result: 'success', output: res.body };
    }
    return { result: 'failure', output: `HTTP probe failed with statuscode: ${res.status}` };
  }
}

function followable(status: number, location: string | undefined, base: URL, firstHost: string): boolean {
  if (!REDIRECTS.has(status) || !location) return false;
  try {
    return new URL(location, base).hostname === firstHost;
  } catch {
    return true; // the caller reports the bad Location
  }
}

function get(url: URL, headers: Map<string, string[]>, host: string | undefined, deadline: number, firstHost: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const hostname = bareHost(url.hostname);
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const hdrs: Record<string, string | string[]> = {};
    for (const [k, v] of headers) {
      // An empty User-Agent means none, as in Go.
      if (k === 'User-Agent' && v.length === 1 && v[0] === '') continue;
      hdrs[k] = v.length === 1 ? v[0] : v;
    }
    if (host) hdrs.Host = host;
    const opts = { method: 'GET', hostname, port, path: `${url.pathname}${url.search}`, headers: hdrs, agent: false as const };
    const req =
      url.protocol === 'https:'
        ? httpsRequest({ ...opts, rejectUnauthorized: false, servername: serverName(hostname) })
        : url.protocol === 'http:'
          ? httpRequest(opts)
          : undefined;
    if (!req) return reject(new Error(`unsupported protocol scheme ${goQuote(url.protocol.replace(/:$/, ''))}`));
    let res: IncomingMessage | undefined;
    let settled = false;
    const finish = (err: Error | undefined, r?: Response) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      res?.destroy();
      if (err) reject(err);
      else resolve(r!);
    };
    const timer = setTimeout(() => {
      if (res) finish(new BodyError('context deadline exceeded (Client.Timeout or context cancellation while reading body)'));
      else finish(new Error('context deadline exceeded (Client.Timeout exceeded while awaiting headers)'));
    }, Math.max(0, deadline - Date.now()));
    req.on('error', (err: NodeJS.ErrnoException) => finish(new Error(goNetError(err, hostname, port))));
    req.on('response', (r) => {
      res = r;
      const status = r.statusCode ?? 0;
      const location = typeof r.headers.location === 'string' ? r.headers.location : undefined;
      // Bodies of redirects we follow are not needed.
      if (followable(status, location, url, firstHost)) return finish(undefined, { status, location, body: '' });
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => finish(undefined, { status, location, body: Buffer.concat(chunks).subarray(0, MAX_PROBE_OUTPUT).toString('utf8') });
      r.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        // Truncation is not an error upstream.
        if (size >= MAX_PROBE_OUTPUT) done();
      });
      r.on('end', done);
      r.on('error', (err) => finish(new BodyError(err.message)));
      r.on('aborted', () => finish(new BodyError('unexpected EOF')));
    });
    req.end();
  });
}
