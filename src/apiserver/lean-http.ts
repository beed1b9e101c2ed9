/**
 * A lean HTTP/1.1 front for the API server's TLS listener. Plain requests (a method with or
 * without a Content-Length body of modest size, answered in one piece) are parsed here and
 * served through small request and response objects that offer what the API server's handlers
 * use of node:http's. Everything else goes to node:http with the rest of its connection, the
 * bytes already read given back first: watches and other streamed responses, the kubelet
 * proxy, logs, exec, attach and port-forward upgrades, chunked or large bodies, `Expect`,
 * HTTP/1.0, HEAD and OPTIONS, repeated headers, and anything malformed (node:http then answers
 * 400 or 431 as it always has).
 *
 * node:http's parser objects and streams cost about 14 µs of CPU per request on this machine
 * (bench/floor/run.ts: 50 against 36 µs for a minimal server), and a pod's scheduling makes
 * three requests.
 */
import { EventEmitter } from 'node:events';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';

/** Larger bodies go to node:http, which streams them and lets the handler enforce its limit. */
const maxLeanBody = 1024 * 1024;
/** node:http's default maxHeaderSize: a longer head goes to node:http, which answers 431. */
const maxHead = 16 * 1024;
/** Pipelined bytes held while a request is served; beyond this the socket is paused until its answer. */
const maxHeld = maxHead + maxLeanBody;
const CRLFCRLF = Buffer.from('\r\n\r\n');
/** Paths whose responses stream, or whose connection is taken over, stay with node:http (as do escaped ones). */
const streamedPath = /\/(?:proxy|log|exec|attach|portforward|watch)(?:\/|$)|%/;

/** Whether a request target is served here: not a watch, not a streamed or taken-over path. */
function plainTarget(target: string): boolean {
  const q = target.indexOf('?');
  if (streamedPath.test(q < 0 ? target : target.slice(0, q))) return false;
  if (q < 0) return true;
  const query = target.slice(q + 1);
  // The API server's rule (watch=true or watch=1), on the decoded parameters.
  if (!/watch|%/i.test(query)) return true;
  const w = new URLSearchParams(query).get('watch');
  return w !== 'true' && w !== '1';
}
const requestLine = /^(GET|POST|PUT|PATCH|DELETE) (\/[!-~]*) HTTP\/1\.1$/;
/** A header line as node:http's strict parser takes it: a token, a colon, a value without control characters. */
const headerLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[\t ]*([^\x00-\x08\x0a-\x1f\x7f]*?)[\t ]*$/;
const badHeaderValue = /[\r\n\0]/;

/** The request as the handlers see it: the IncomingMessage fields they read, with the body already in. */
export class LeanRequest extends EventEmitter {
  readonly httpVersion = '1.1';
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor = 1;
  readonly complete = true;
  constructor(
    readonly socket: TLSSocket,
    readonly method: string,
    readonly url: string,
    readonly headers: Record<string, string>,
    readonly rawHeaders: string[],
    /** The whole body (readBody takes it from here). */
    readonly leanBody: Buffer,
  ) {
    super();
  }
  get connection(): TLSSocket {
    return this.socket;
  }
  /** Each header's values, as node:http's headersDistinct (names are unique here). */
  get headersDistinct(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(this.headers)) out[k] = [v];
    return out;
  }
  resume(): this {
    return this;
  }
}

/** The response as the handlers use it: headers, one body, 'finish' and 'close'. */
export class LeanResponse extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  private readonly fields = new Map<string, [string, string | number | readonly string[]]>();
  private readonly chunks: (string | Buffer)[] = [];
  constructor(
    private readonly conn: LeanConnection,
    readonly req: LeanRequest,
    private readonly keepAlive: boolean,
  ) {
    super();
  }
  get socket(): TLSSocket {
    return this.conn.socket;
  }
  setHeader(name: string, value: string | number | readonly string[]): this {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (badHeaderValue.test(String(v))) throw Object.assign(new TypeError(`Invalid character in header content ["${name}"]`), { code: 'ERR_INVALID_CHAR' });
    }
    this.fields.set(name.toLowerCase(), [name, value]);
    return this;
  }
  getHeader(name: string): string | number | readonly string[] | undefined {
    return this.fields.get(name.toLowerCase())?.[1];
  }
  hasHeader(name: string): boolean {
    return this.fields.has(name.toLowerCase());
  }
  removeHeader(name: string): void {
    this.fields.delete(name.toLowerCase());
  }
  writeHead(code: number, a?: string | Record<string, string | number | readonly string[]>, b?: Record<string, string | number | readonly string[]>): this {
    this.statusCode = code;
    const headers = typeof a === 'string' ? b : a;
    if (headers) for (const [k, v] of Object.entries(headers)) if (v !== undefined) this.setHeader(k, v);
    this.headersSent = true;
    return this;
  }
  flushHeaders(): void {
    this.headersSent = true;
  }
  write(chunk: string | Buffer): boolean {
    this.chunks.push(chunk);
    this.headersSent = true;
    return true;
  }
  end(chunk?: string | Buffer | (() => void), cb?: () => void): this {
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
    }
    if (this.writableEnded) return this;
    if (chunk !== undefined && chunk !== null) this.chunks.push(chunk);
    this.writableEnded = true;
    this.headersSent = true;
    this.conn.respond(this.head(), this.chunks, this.keepAlive);
    this.writableFinished = true;
    this.emit('finish');
    cb?.();
    process.nextTick(() => this.emit('close'));
    return this;
  }
  destroy(): this {
    this.conn.socket.destroy();
    return this;
  }

  /** Status line and header block; the body's length is added unless the handler set one. */
  private head(): string {
    const code = this.statusCode;
    let h = `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'unknown'}\r\n`;
    for (const [name, value] of this.fields.values()) {
      if (Array.isArray(value)) for (const v of value) h += `${name}: ${v}\r\n`;
      else h += `${name}: ${value}\r\n`;
    }
    const bodyless = code === 204 || code === 304 || (code >= 100 && code < 200);
    if (!bodyless && !this.fields.has('content-length')) {
      let n = 0;
      for (const c of this.chunks) n += typeof c === 'string' ? Buffer.byteLength(c) : c.length;
      h += `Content-Length: ${n}\r\n`;
    }
    if (bodyless) this.chunks.length = 0;
    h += `Date: ${httpDate()}\r\n`;
    h += this.keepAlive ? `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(this.conn.keepAliveMs / 1000)}\r\n\r\n` : 'Connection: close\r\n\r\n';
    return h;
  }
}

let dateSecond = 0;
let dateText = '';
/** The Date header, made once a second as node:http does. */
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** One connection while the lean front serves it: one request at a time, in order. */
class LeanConnection {
  private buf: Buffer | undefined;
  private busy = false;
  private idleTimer: NodeJS.Timeout | undefined;
  constructor(
    private readonly front: LeanFront,
    readonly socket: TLSSocket,
  ) {
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.once('close', this.onClose);
    this.idle();
  }

  get keepAliveMs(): number {
    return this.front.keepAliveMs;
  }

  get isIdle(): boolean {
    return !this.busy && this.buf === undefined;
  }

  private readonly onData = (d: Buffer): void => {
    this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
    if (!this.busy) this.next();
    else if (this.buf.length > maxHeld) this.socket.pause();
  };
  private readonly onError = (): void => {
    this.socket.destroy();
  };
  private readonly onClose = (): void => {
    this.stopIdle();
    this.front.connections.delete(this);
  };

  /** Serve the next complete request in the buffer, or hand the connection to node:http. */
  private next(): void {
    const buf = this.buf;
    if (!buf) return;
    const end = buf.indexOf(CRLFCRLF);
    if (end < 0) {
      if (buf.length > maxHead) this.handOff();
      return;
    }
    if (end > maxHead) return this.handOff();
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    const m = requestLine.exec(lines[0]!);
    if (!m || !plainTarget(m[2]!)) return this.handOff();
    const headers: Record<string, string> = {};
    const rawHeaders: string[] = [];
    for (let i = 1; i < lines.length; i++) {
      // A folded line, a bad name or value, a repeated header: node:http's to judge or join.
      const h = headerLine.exec(lines[i]!);
      if (!h) return this.handOff();
      const name = h[1]!;
      const lower = name.toLowerCase();
      if (lower in headers) return this.handOff();
      headers[lower] = h[2]!;
      rawHeaders.push(name, h[2]!);
    }
    if (headers.host === undefined || headers['transfer-encoding'] !== undefined || headers.expect !== undefined || headers.upgrade !== undefined) return this.handOff();
    const cl = headers['content-length'];
    if (cl !== undefined && !/^\d{1,8}$/.test(cl)) return this.handOff();
    const len = cl === undefined ? 0 : Number(cl);
    if (len > maxLeanBody) return this.handOff();
    if (buf.length < end + 4 + len) return;
    const body = buf.subarray(end + 4, end + 4 + len);
    this.buf = buf.length > end + 4 + len ? buf.subarray(end + 4 + len) : undefined;
    this.busy = true;
    this.stopIdle();
    const keepAlive = !/(?:^|,)\s*close\s*(?:,|$)/i.test(headers.connection ?? '');
    const req = new LeanRequest(this.socket, m[1]!, m[2]!, headers, rawHeaders, body);
    const res = new LeanResponse(this, req, keepAlive);
    this.front.handle(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  }

  /** Write one response; then the next request, or wait for one. */
  respond(head: string, chunks: (string | Buffer)[], keepAlive: boolean): void {
    const s = this.socket;
    if (!s.destroyed) {
      if (chunks.length === 0) s.write(head, 'latin1');
      else if (chunks.length === 1 && typeof chunks[0] === 'string') s.write(head + chunks[0]);
      else {
        s.cork();
        s.write(head, 'latin1');
        for (const c of chunks) s.write(c);
        s.uncork();
      }
      if (!keepAlive) s.end();
    }
    this.busy = false;
    if (!keepAlive || s.destroyed) return;
    if (s.isPaused()) s.resume();
    // The next request may already be here (pipelined), but only after this tick's handlers ran.
    if (this.buf) process.nextTick(() => !this.busy && this.next());
    else this.idle();
  }

  /** node:http takes the connection, with the bytes not yet served put back in front. */
  private handOff(): void {
    this.stopIdle();
    this.front.connections.delete(this);
    const s = this.socket;
    s.off('data', this.onData);
    s.off('error', this.onError);
    s.off('close', this.onClose);
    s.pause();
    if (this.buf) s.unshift(this.buf);
    this.buf = undefined;
    this.front.handOff(s);
    s.resume();
  }

  /** An idle kept-alive connection is closed after node:http's keepAliveTimeout. */
  private idle(): void {
    this.stopIdle();
    this.idleTimer = setTimeout(() => this.socket.destroy(), this.front.keepAliveMs);
    this.idleTimer.unref();
  }
  private stopIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Put the lean front before an https.Server's node:http handling: its TLS connections come here
 * first, and node:http gets those (or the rest of those) that are not plain.
 */
export class LeanFront {
  readonly connections = new Set<LeanConnection>();
  readonly keepAliveMs: number;
  private readonly nodeListeners: ((socket: TLSSocket) => void)[];
  constructor(
    private readonly server: HttpsServer,
    readonly handle: Handler,
  ) {
    this.keepAliveMs = server.keepAliveTimeout || 65_000;
    this.nodeListeners = server.listeners('secureConnection') as ((socket: TLSSocket) => void)[];
    server.removeAllListeners('secureConnection');
    server.on('secureConnection', (socket: TLSSocket) => this.connections.add(new LeanConnection(this, socket)));
  }

  handOff(socket: TLSSocket): void {
    for (const l of this.nodeListeners) l.call(this.server, socket);
  }

  /** With the server's closeIdleConnections: idle connections served here end now. */
  closeIdle(): void {
    for (const c of [...this.connections]) if (c.isIdle) c.close();
  }
  /** With the server's closeAllConnections. */
  closeAll(): void {
    for (const c of [...this.connections]) c.close();
  }
}
