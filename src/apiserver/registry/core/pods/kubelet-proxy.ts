/**
 * pods/log, pods/exec, pods/attach and pods/portforward: the API server finds the pod's node and
 * its kubelet endpoint, and proxies the request to the kubelet's HTTPS server with its
 * kubelet-client certificate. Upgrades (WebSocket, SPDY) are relayed byte for byte after the
 * kubelet's 101, as upstream's upgrade-aware proxy does; logs stream with backpressure.
 */
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { errors } from '../../../../api/errors.js';
import type { SubresourceContext, SubresourceHandler } from '../../../apiserver.js';

/** The API server's client certificate towards kubelets (CN kube-apiserver-kubelet-client). */
export interface KubeletClientConfig {
  cert: string;
  key: string;
  /** Connect timeout, ms. Default 10000. */
  timeoutMs?: number;
}

type Kind = 'log' | 'exec' | 'attach' | 'portforward';

const queryFor: Record<Kind, string[]> = {
  log: ['follow', 'previous', 'timestamps', 'sinceSeconds', 'sinceTime', 'tailLines', 'limitBytes', 'insecureSkipTLSVerifyBackend'],
  exec: ['command', 'stdin', 'stdout', 'stderr', 'tty'],
  attach: ['stdin', 'stdout', 'stderr', 'tty'],
  portforward: ['port'],
};

// Headers never passed to the kubelet: our own credentials and hop-by-hop ones that upgrades don't need.
const dropHeaders = new Set(['authorization', 'host', 'cookie', 'proxy-authorization', 'keep-alive', 'transfer-encoding', 'te', 'trailer']);

/** The container a request names, defaulted and checked as upstream does. */
export function pickContainer(pod: any, requested: string | null, podName: string): string {
  const names: string[] = (pod.spec?.containers ?? []).map((c: any) => c.name);
  const init: string[] = (pod.spec?.initContainers ?? []).map((c: any) => c.name);
  const ephemeral: string[] = (pod.spec?.ephemeralContainers ?? []).map((c: any) => c.name);
  if (!requested) {
    if (names.length === 1) return names[0]!;
    let msg = `a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]`;
    if (init.length) msg += ` or one of the init containers: [${init.join(' ')}]`;
    if (ephemeral.length) msg += ` or one of the ephemeral containers: [${ephemeral.join(' ')}]`;
    throw errors.badRequest(msg);
  }
  if (![...names, ...init, ...ephemeral].includes(requested)) throw errors.badRequest(`container ${requested} is not valid for pod ${podName}`);
  return requested;
}

/** The kubelet's address of a Node: InternalIP (else ExternalIP, Hostname) and the kubelet port. */
export function kubeletEndpoint(node: any): { host: string; port: number } | undefined {
  const port = Number(node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0);
  const addrs: { type: string; address: string }[] = node.status?.addresses ?? [];
  const host = ['InternalIP', 'ExternalIP', 'Hostname'].map((t) => addrs.find((a) => a.type === t)?.address).find(Boolean);
  if (!port || !host) return undefined;
  return { host, port };
}

/** The kubelet path (with query) for a request. */
export function kubeletPath(kind: Kind, ns: string, pod: string, container: string, q: URLSearchParams): string {
  const out = new URLSearchParams();
  for (const k of queryFor[kind]) for (const v of q.getAll(k)) out.append(k, v);
  const e = encodeURIComponent;
  const base = {
    log: `/containerLogs/${e(ns)}/${e(pod)}/${e(container)}`,
    exec: `/exec/${e(ns)}/${e(pod)}/${e(container)}`,
    attach: `/attach/${e(ns)}/${e(pod)}/${e(container)}`,
    portforward: `/portForward/${e(ns)}/${e(pod)}`,
  }[kind];
  const qs = out.toString();
  return qs ? `${base}?${qs}` : base;
}

function unreachable(node: string, host: string, port: number, e: Error) {
  return errors.serviceUnavailable(`the node agent (kubelet) of node "${node}" at ${host}:${port} cannot be reached: ${e.message}`);
}

/**
 * The handler of one streaming subresource. Without a client certificate (no kubelets in this
 * cluster) every request gets 503, as before.
 */
export function kubeletProxy(kind: Kind, kindName: string, verbs: string[], client?: KubeletClientConfig): SubresourceHandler {
  return {
    group: '',
    resource: 'pods',
    info: { name: kind, kind: kindName, verbs },
    async handle(ctx: SubresourceContext) {
      const podName = ctx.info.name;
      const pod = await ctx.store.get({ namespace: ctx.info.namespace, name: podName });
      const q = ctx.query;
      let container = '';
      if (kind !== 'portforward') {
        container = pickContainer(pod, q.get('container') || null, podName);
        if (kind === 'exec' && !q.getAll('command').length) throw errors.badRequest('you must specify at least one command for the container');
      }
      for (const k of ['tailLines', 'limitBytes', 'sinceSeconds']) {
        const v = q.get(k);
        if (kind === 'log' && v !== null && !/^-?\d+$/.test(v)) throw errors.badRequest(`invalid ${k}: ${v}`);
      }
      const nodeName: string | undefined = pod.spec?.nodeName;
      if (!nodeName) throw errors.badRequest(`pod ${podName} does not have a host assigned`);
      const nodes = ctx.stores('', 'nodes');
      const node = nodes ? await nodes.get({ namespace: '', name: nodeName }).catch(() => undefined) : undefined;
      const ep = node && kubeletEndpoint(node);
      if (!client || !ep) throw errors.serviceUnavailable(`no node agent serves ${kind} for node "${nodeName}"`);
      const path = kubeletPath(kind, ctx.info.namespace, podName, container, q);
      if (ctx.upgrade && isUpgrade(ctx.req)) return proxyUpgrade(ctx, ctx.upgrade, ep, path, client, nodeName);
      return proxyPlain(ctx, ep, path, client, nodeName);
    },
  };
}

function isUpgrade(req: IncomingMessage): boolean {
  return /\bupgrade\b/i.test(req.headers.connection ?? '') && !!req.headers.upgrade;
}

function forwardHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || dropHeaders.has(k) || k.startsWith('impersonate-')) continue;
    h[k] = v;
  }
  return h;
}

/** Ordinary requests (logs, or exec without an upgrade): the kubelet's answer, streamed. */
function proxyPlain(ctx: SubresourceContext, ep: { host: string; port: number }, path: string, client: KubeletClientConfig, nodeName: string): Promise<undefined> {
  return new Promise((resolve, reject) => {
    const headers = forwardHeaders(ctx.req);
    delete headers.connection;
    delete headers.upgrade;
    delete headers['content-length'];
    const up = https.request({ host: ep.host, port: ep.port, path, method: 'GET', headers, cert: client.cert, key: client.key, rejectUnauthorized: false, agent: false, timeout: client.timeoutMs ?? 10_000 });
    let answered = false;
    up.on('timeout', () => up.destroy(new Error('timed out')));
    up.on('error', (e) => (answered ? ctx.res.destroy() : reject(unreachable(nodeName, ep.host, ep.port, e))));
    up.on('response', (r) => {
      answered = true;
      up.setTimeout(0);
      const h: Record<string, string | string[]> = { 'Cache-Control': 'no-cache, private' };
      for (const k of ['content-type', 'content-length']) if (r.headers[k]) h[k] = r.headers[k]!;
      ctx.res.writeHead(r.statusCode ?? 502, h);
      ctx.res.flushHeaders();
      r.pipe(ctx.res);
      r.on('error', () => ctx.res.destroy());
      r.on('end', () => resolve(undefined));
      ctx.res.on('close', () => {
        up.destroy();
        resolve(undefined);
      });
    });
    ctx.res.on('close', () => up.destroy());
    up.end();
  });
}

/** Upgrades: forward the request; on 101 splice the two sockets, else relay the answer. */
function proxyUpgrade(ctx: SubresourceContext, down: { socket: Duplex; head: Buffer }, ep: { host: string; port: number }, path: string, client: KubeletClientConfig, nodeName: string): Promise<undefined> {
  return new Promise((resolve, reject) => {
    const up = https.request({
      host: ep.host,
      port: ep.port,
      path,
      method: ctx.req.method,
      headers: forwardHeaders(ctx.req),
      cert: client.cert,
      key: client.key,
      rejectUnauthorized: false,
      agent: false,
      timeout: client.timeoutMs ?? 10_000,
    });
    let answered = false;
    up.on('timeout', () => up.destroy(new Error('timed out')));
    up.on('error', (e) => (answered ? down.socket.destroy() : reject(unreachable(nodeName, ep.host, ep.port, e))));
    down.socket.once('close', () => up.destroy());
    up.on('response', (r) => {
      answered = true;
      // Not upgraded (kubectl then falls back, e.g. WebSocket → SPDY): relay the answer.
      const h: Record<string, string | string[]> = {};
      for (const k of ['content-type', 'content-length']) if (r.headers[k]) h[k] = r.headers[k]!;
      ctx.res.writeHead(r.statusCode ?? 502, h);
      r.pipe(ctx.res);
      r.on('end', () => resolve(undefined));
    });
    up.on('upgrade', (r, upSocket: Duplex, upHead: Buffer) => {
      answered = true;
      up.setTimeout(0);
      let head = `HTTP/1.1 ${r.statusCode} ${r.statusMessage || 'Switching Protocols'}\r\n`;
      for (let i = 0; i < r.rawHeaders.length; i += 2) head += `${r.rawHeaders[i]}: ${r.rawHeaders[i + 1]}\r\n`;
      down.socket.write(head + '\r\n');
      if (upHead.length) down.socket.write(upHead);
      if (down.head.length) upSocket.write(down.head);
      (upSocket as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
      (down.socket as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
      upSocket.pipe(down.socket);
      down.socket.pipe(upSocket);
      const close = () => {
        upSocket.destroy();
        down.socket.destroy();
      };
      upSocket.on('error', close);
      down.socket.on('error', close);
      upSocket.on('close', () => down.socket.end());
      down.socket.on('close', () => upSocket.destroy());
      resolve(undefined);
    });
    up.end();
  });
}
