/**
 * The kubelet's HTTPS server for the streaming endpoints the API server proxies to:
 * /exec, /attach, /portForward, /containerLogs and /healthz. Only clients with a certificate from
 * the cluster CA get in (the API server's kubelet-client certificate). kubectl's protocols are
 * terminated here and bridged to the container runtime's stream server.
 */
import https from 'node:https';
import { hostname } from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import { generateCA, issueCertificate } from '../../base/pki.js';
import type { CriRuntime } from '../runtime/cri-runtime.js';
import { streamLog, type LogOptions } from './cri-logs.js';
import {
  headerList,
  negotiate,
  relayPortForward,
  SPDY_COMMAND_PROTOCOLS,
  SPDY_PORTFORWARD_PROTOCOL,
  spdyCommandClient,
  websocketCommandClient,
  WS_COMMAND_PROTOCOLS,
  WS_PORTFORWARD_PROTOCOL,
} from './client-streams.js';
import { attachSocket, bridgeCommand, exitStatus, socketTransport, type CommandClient, type RemoteCommandOptions, type StreamStatus } from './runtime-stream.js';
import { SpdySession } from './spdy.js';

/** A pod as the kubelet server needs it: its sandbox and containers. */
export interface StreamTarget {
  uid: string;
  sandboxId: string;
  /** logPath absolute, in the CRI log format. */
  containers: { name: string; id: string; previousId?: string; logPath: string; previousLogPath?: string }[];
}

/** Options of {@link startKubeletServer}. */
export interface KubeletServerOptions {
  host: string;
  /** 0 = random. */
  port: number;
  /** PEM of the cluster CA: only client certificates it signed are accepted. */
  clientCA: string;
  /** Accepted client certificate CNs; default ['kube-apiserver-kubelet-client']. O=system:masters is also accepted. */
  allowedClients?: string[];
  /** Serving certificate; when absent a self-signed one is made. */
  tls?: { cert: string; key: string };
  runtime: Pick<CriRuntime, 'exec' | 'attach' | 'portForward' | 'execSync' | 'containerStatus'>;
  /** The kubelet supplies it. */
  lookup(namespace: string, podName: string): StreamTarget | undefined;
}

/** A running kubelet server. */
export interface KubeletServer {
  port: number;
  close(): Promise<void>;
}

/** An HTTP error answered as a metav1.Status. */
class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason = reasonFor(code),
  ) {
    super(message);
  }
}

function reasonFor(code: number): string {
  return ({ 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 500: 'InternalError', 503: 'ServiceUnavailable' } as Record<number, string>)[code] ?? 'Unknown';
}

function statusBody(e: HttpError): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: e.message, reason: e.reason, code: e.code });
}

const PORTFORWARD_TOKEN = 'k8ts.portforward.spdy';

const statusLine: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' };

/** Writes an HTTP error on a raw (not yet upgraded) socket and closes it. */
function rejectSocket(socket: Duplex, e: HttpError): void {
  const body = statusBody(e);
  socket.end(`HTTP/1.1 ${e.code} ${statusLine[e.code] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

interface Route {
  kind: 'exec' | 'attach' | 'portForward' | 'containerLogs' | 'healthz';
  namespace: string;
  pod: string;
  container?: string;
}

function route(path: string): Route | undefined {
  if (path === '/healthz') return { kind: 'healthz', namespace: '', pod: '' };
  const p = path.split('/').slice(1).map(decodeURIComponent);
  const kind = p[0] as Route['kind'];
  if ((kind === 'exec' || kind === 'attach' || kind === 'containerLogs') && (p.length === 4 || p.length === 5)) {
    // /exec/{ns}/{pod}/{container} or /exec/{ns}/{pod}/{uid}/{container}
    return { kind, namespace: p[1]!, pod: p[2]!, container: p[p.length - 1]! };
  }
  if (kind === 'portForward' && (p.length === 3 || p.length === 4)) return { kind, namespace: p[1]!, pod: p[2]! };
  return undefined;
}

function bool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === 'true' || v === '1';
}

function int(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new HttpError(400, `invalid ${name}: ${v}`);
  return n;
}

/** Starts the kubelet server; resolves once it listens. */
export async function startKubeletServer(o: KubeletServerOptions): Promise<KubeletServer> {
  let tls = o.tls;
  if (!tls) {
    const ca = await generateCA(`k8ts-kubelet-ca@${Math.floor(Date.now() / 1000)}`);
    const ips = ['127.0.0.1', ...(/^[\d.]+$|:/.test(o.host) && o.host !== '0.0.0.0' && o.host !== '::' ? [o.host] : [])];
    tls = await issueCertificate(ca, { commonName: hostname(), dnsNames: [hostname(), 'localhost'], ips: [...new Set(ips)], usage: 'server' });
  }
  const allowed = new Set(o.allowedClients ?? ['kube-apiserver-kubelet-client']);
  const sockets = new Set<Duplex>();
  // `ws` only parses RFC 6455 tokens, and "SPDY/3.1+portforward.k8s.io" has a '/': it is swapped
  // for a stand-in before the handshake and named again in the answer.
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (offered) => (offered.has(PORTFORWARD_TOKEN) ? WS_PORTFORWARD_PROTOCOL : negotiate([...offered], WS_COMMAND_PROTOCOLS) ?? false),
  });

  const authorize = (req: IncomingMessage): void => {
    const sock = req.socket as TLSSocket;
    const cert = sock.authorized ? sock.getPeerCertificate() : undefined;
    if (!cert || !cert.subject) throw new HttpError(401, 'Unauthorized');
    const cn = cert.subject.CN;
    const orgs = cert.subject.O === undefined ? [] : Array.isArray(cert.subject.O) ? cert.subject.O : [cert.subject.O];
    const user = Array.isArray(cn) ? cn[0] : cn;
    if (!(user && allowed.has(user)) && !orgs.includes('system:masters')) {
      throw new HttpError(403, `Forbidden (user=${user ?? ''}, verb=get, resource=nodes, subresource=proxy)`);
    }
  };

  const target = (r: Route): { t: StreamTarget; c?: StreamTarget['containers'][number] } => {
    const t = o.lookup(r.namespace, r.pod);
    if (!t) throw new HttpError(404, `pod "${r.pod}" not found`);
    if (r.container === undefined) return { t };
    const c = t.containers.find((x) => x.name === r.container);
    if (!c) throw new HttpError(404, `container "${r.container}" in pod "${r.pod}" not found`);
    return { t, c };
  };

  const commandOptions = (q: URLSearchParams, kind: 'exec' | 'attach'): RemoteCommandOptions & { command: string[] } => {
    const tty = bool(q, 'tty');
    const opts = { stdin: bool(q, 'stdin') || bool(q, 'input'), stdout: bool(q, 'stdout') || bool(q, 'output'), stderr: bool(q, 'stderr') || bool(q, 'error'), tty, command: q.getAll('command') };
    // A TTY merges stderr into stdout (the runtime refuses both).
    if (tty) opts.stderr = false;
    if (!opts.stdin && !opts.stdout && !opts.stderr) throw new HttpError(400, 'you must specify at least 1 of stdin, stdout, stderr');
    if (kind === 'exec' && !opts.command.length) throw new HttpError(400, 'you must specify at least one command for the container');
    return opts;
  };

  /** attach reports Success from the runtime; the container's exit code is the real answer. */
  const attachFinal = (id: string) => async (s: StreamStatus): Promise<StreamStatus> => {
    const end = Date.now() + 1500;
    for (;;) {
      const st = await o.runtime.containerStatus(id);
      if (st.state === 'CONTAINER_EXITED') return exitStatus(st.exitCode ?? 0);
      if (Date.now() > end) return s;
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const runCommand = (client: CommandClient, kind: 'exec' | 'attach', id: string, opts: RemoteCommandOptions & { command: string[] }, url: string) =>
    bridgeCommand(client, opts, async () => url, kind === 'attach' ? attachFinal(id) : undefined).catch(() => client.finish({ metadata: {}, status: 'Failure', message: 'internal error' }));

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    (async () => {
      authorize(req);
      const url = new URL(req.url ?? '/', 'https://x');
      const r = route(url.pathname);
      if (!r) throw new HttpError(404, 'the server could not find the requested resource');
      if (r.kind === 'healthz') {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('ok');
        return;
      }
      const { c } = target(r);
      if (r.kind !== 'containerLogs') throw new HttpError(400, 'Upgrade request required');
      const q = url.searchParams;
      const opts: LogOptions = {
        follow: bool(q, 'follow'),
        tailLines: int(q, 'tailLines'),
        sinceSeconds: int(q, 'sinceSeconds'),
        sinceTime: q.get('sinceTime') || undefined,
        timestamps: bool(q, 'timestamps'),
        limitBytes: int(q, 'limitBytes'),
      };
      const previous = bool(q, 'previous');
      const path = previous ? c!.previousLogPath : c!.logPath;
      const id = previous ? c!.previousId : c!.id;
      if (!path || !id) throw new HttpError(400, `previous terminated container "${r.container}" in pod "${r.pod}" not found`);
      const ac = new AbortController();
      res.on('close', () => ac.abort());
      let started = false;
      const start = () => {
        if (started) return;
        started = true;
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
        res.flushHeaders();
      };
      if (opts.follow) start();
      await streamLog(
        path,
        opts,
        {
          write: (s) => (start(), res.write(s)),
          drained: () => new Promise((resolve) => (res.writableNeedDrain && !res.destroyed ? res.once('drain', resolve).once('close', resolve) : resolve())),
        },
        ac.signal,
        async () => (await o.runtime.containerStatus(id).catch(() => undefined))?.state === 'CONTAINER_RUNNING',
      ).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') throw new HttpError(404, `log file for container "${r.container}" in pod "${r.pod}" not found`);
        throw e;
      });
      start();
      res.end();
    })().catch((e) => {
      const he = e instanceof HttpError ? e : new HttpError(500, (e as Error).message);
      if (res.headersSent) return void res.destroy();
      res.writeHead(he.code, { 'Content-Type': 'application/json' });
      res.end(statusBody(he));
    });
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    try {
      authorize(req);
      const url = new URL(req.url ?? '/', 'https://x');
      const r = route(url.pathname);
      if (!r || r.kind === 'healthz' || r.kind === 'containerLogs') throw new HttpError(404, 'the server could not find the requested resource');
      const { t, c } = target(r);
      const upgrade = (req.headers.upgrade ?? '').toLowerCase();
      (socket as Socket).setNoDelay?.(true);
      if (r.kind === 'portForward') {
        const url2 = () => o.runtime.portForward(t.sandboxId, []);
        if (upgrade === 'websocket') {
          if (!headerList(req.headers['sec-websocket-protocol']).includes(WS_PORTFORWARD_PROTOCOL)) throw new HttpError(400, `port-forward over WebSocket needs the ${WS_PORTFORWARD_PROTOCOL} subprotocol`);
          req.headers['sec-websocket-protocol'] = PORTFORWARD_TOKEN;
          wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
            // Backpressure through the WebSocket's own socket.
            const raw = socket as Duplex & { writableNeedDrain?: boolean };
            const session = new SpdySession({
              role: 'server',
              transport: {
                write: (b) => {
                  if (ws.readyState !== ws.OPEN) return true;
                  ws.send(b, { binary: true });
                  return !raw.writableNeedDrain;
                },
                end: () => ws.close(1000),
                pause: () => ws.pause(),
                resume: () => ws.resume(),
              },
            });
            raw.on('drain', () => session.emit('drain'));
            ws.on('message', (m: Buffer) => session.feed(Buffer.isBuffer(m) ? m : Buffer.from(m as ArrayBuffer)));
            ws.on('close', () => session.transportClosed());
            ws.on('error', () => ws.terminate());
            relayPortForward(session, url2);
          });
          return;
        }
        if (upgrade !== 'spdy/3.1') throw new HttpError(400, 'unsupported upgrade protocol');
        const proto = negotiate(headerList(req.headers['x-stream-protocol-version']), [SPDY_PORTFORWARD_PROTOCOL]);
        if (!proto) throw new HttpError(403, 'unable to upgrade: unable to negotiate protocol: client supports ' + headerList(req.headers['x-stream-protocol-version']).join(', '));
        const session = spdyOverSocket(socket, head, proto);
        relayPortForward(session, url2);
        return;
      }
      const kind = r.kind;
      const opts = commandOptions(url.searchParams, kind);
      if (upgrade !== 'websocket' && upgrade !== 'spdy/3.1') throw new HttpError(400, 'unsupported upgrade protocol');
      const offered = headerList(req.headers['x-stream-protocol-version']);
      const proto = upgrade === 'spdy/3.1' ? negotiate(offered, SPDY_COMMAND_PROTOCOLS) : undefined;
      if (upgrade === 'spdy/3.1' && !proto) throw new HttpError(403, `unable to upgrade: unable to negotiate protocol: client supports ${offered.join(', ')}, server supports ${SPDY_COMMAND_PROTOCOLS.join(', ')}`);
      // As upstream, the runtime is asked first: a container that is not running is refused before
      // the upgrade (so `kubectl run -i` falls back to its logs) instead of streaming nothing.
      const id = c!.id;
      (kind === 'exec' ? o.runtime.exec(id, opts.command, opts) : o.runtime.attach(id, opts)).then(
        (runtimeURL) => {
          if (socket.destroyed) return;
          if (upgrade === 'websocket') {
            wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
              const client = websocketCommandClient(ws, ws.protocol || 'channel.k8s.io', socket);
              void runCommand(client, kind, id, opts, runtimeURL);
            });
            return;
          }
          const session = spdyOverSocket(socket, head, proto!);
          spdyCommandClient(session, proto!, opts).then(
            (client) => runCommand(client, kind, id, opts, runtimeURL),
            () => session.destroy(),
          );
        },
        (e: Error & { details?: string }) => rejectSocket(socket, new HttpError(500, e.details || e.message)),
      );
    } catch (e) {
      rejectSocket(socket, e instanceof HttpError ? e : new HttpError(500, (e as Error).message));
    }
  };

  const server = https.createServer({ key: tls.key, cert: tls.cert, ca: o.clientCA, requestCert: true, rejectUnauthorized: false }, onRequest);
  server.on('upgrade', onUpgrade);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        for (const c of wss.clients) c.terminate();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Answers a SPDY upgrade with 101 and runs a server session on the socket. */
function spdyOverSocket(socket: Duplex, head: Buffer, protocol: string): SpdySession {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
  const session = new SpdySession({ role: 'server', transport: socketTransport(socket) });
  attachSocket(session, socket, head);
  return session;
}
