/**
 * A lean HTTP/1.1 client connection pool for the REST client's plain requests (not watches or
 * streams): keep-alive connections over TLS (or TCP), one request at a time on each, a
 * Content-Length or chunked response read whole. node:https spends about three times the CPU of
 * this per request on its general machinery (agents, IncomingMessage streams, header objects), and
 * every component's requests go through here.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface Http1PoolOptions {
  host: string;
  port: number;
  /** TLS options (secure context, verification); absent for plain TCP. */
  tls?: { secureContext: tls.SecureContext; rejectUnauthorized: boolean };
  maxSockets: number;
}

export interface Http1Response {
  status: number;
  body: Buffer;
}

/** An error of the connection, with `reusedSocket` when it happened on a pooled connection before any response byte. */
export interface Http1Error extends NodeJS.ErrnoException {
  staleConnection?: boolean;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

interface Pending {
  resolve(r: Http1Response): void;
  reject(e: Error): void;
}

/**
 * Reads one response at a time off a socket. Body bytes are kept as the pieces they arrived in
 * and joined once, so a large list costs one copy, not one per piece.
 */
class ResponseParser {
  /** Bytes not yet consumed: the head while it is incomplete, then (chunked) the unparsed rest. */
  private buf: Buffer | undefined;
  private inBody = false;
  status = 0;
  private contentLength = -1;
  private chunked = false;
  closeAfter = false;
  private pieces: Buffer[] = [];
  private received = 0;
  /** Chunked: data bytes (and the CRLF after them) still owed by the current chunk. */
  private chunkLeft = 0;
  /** Bytes of a response seen (so a failure after them is not a stale connection). */
  started = false;
  /** The response to a HEAD request has headers only, whatever its Content-Length says. */
  headOnly = false;

  reset(): void {
    this.buf = undefined;
    this.inBody = false;
    this.status = 0;
    this.contentLength = -1;
    this.chunked = false;
    this.closeAfter = false;
    this.pieces = [];
    this.received = 0;
    this.chunkLeft = 0;
    this.started = false;
  }

  /** Feed bytes; returns the body once the response is complete, undefined while more is needed. Throws on a malformed response. */
  push(data: Buffer): Buffer | undefined {
    this.started = true;
    if (!this.inBody) {
      const buf = this.buf ? Buffer.concat([this.buf, data]) : data;
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (buf.length > 64 * 1024) throw protocolError('response headers too large');
        this.buf = buf;
        return undefined;
      }
      this.parseHead(buf.toString('latin1', 0, end));
      const rest = buf.subarray(end + 4);
      if (this.status >= 100 && this.status < 200) {
        // An interim response (100 Continue): the real one follows.
        this.reset();
        this.started = true;
        return rest.length ? this.push(rest) : undefined;
      }
      this.inBody = true;
      this.buf = undefined;
      if (this.headOnly || (!this.chunked && this.contentLength < 0 && (this.status === 204 || this.status === 304))) {
        if (rest.length) throw protocolError('unexpected bytes after the response');
        return Buffer.alloc(0);
      }
      data = rest;
    }
    if (this.chunked) return this.readChunked(data);
    if (data.length) {
      this.pieces.push(data);
      this.received += data.length;
    }
    if (this.contentLength < 0) {
      // No length: the body runs to the connection's close.
      this.closeAfter = true;
      return undefined;
    }
    if (this.received < this.contentLength) return undefined;
    if (this.received > this.contentLength) throw protocolError('unexpected bytes after the response');
    return this.joined();
  }

  /** The connection ended: a response read to its close is complete now. */
  end(): Buffer | undefined {
    if (this.inBody && !this.chunked && this.contentLength < 0) return this.joined();
    return undefined;
  }

  private joined(): Buffer {
    return this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces, this.received);
  }

  private parseHead(head: string): void {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) throw protocolError(`malformed status line: ${JSON.stringify(lines[0].slice(0, 80))}`);
    this.status = Number(m[1]);
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') this.contentLength = Number(value);
      else if (name === 'transfer-encoding') this.chunked = value.toLowerCase().includes('chunked');
      else if (name === 'connection') this.closeAfter = value.toLowerCase().includes('close');
    }
    if (this.chunked) this.contentLength = -1;
    if (this.contentLength !== -1 && !(Number.isSafeInteger(this.contentLength) && this.contentLength >= 0)) throw protocolError('bad Content-Length');
    if (lines[0].startsWith('HTTP/1.0')) this.closeAfter = true;
  }

  /** Chunked bodies: size lines are parsed from `buf` (small); chunk data goes to `pieces` as it comes. */
  private readChunked(data: Buffer): Buffer | undefined {
    for (;;) {
      if (this.chunkLeft > 0) {
        if (!data.length) return undefined;
        const take = Math.min(this.chunkLeft, data.length);
        // The last two bytes owed are the CRLF after the data, not body.
        const bodyBytes = Math.max(0, Math.min(take, this.chunkLeft - 2));
        if (bodyBytes > 0) {
          this.pieces.push(data.subarray(0, bodyBytes));
          this.received += bodyBytes;
        }
        this.chunkLeft -= take;
        data = data.subarray(take);
        continue;
      }
      const buf = this.buf ? (data.length ? Buffer.concat([this.buf, data]) : this.buf) : data;
      data = Buffer.alloc(0);
      const eol = buf.indexOf('\r\n', 0, 'latin1');
      if (eol < 0) {
        if (buf.length > 4096) throw protocolError('bad chunk size line');
        this.buf = buf;
        return undefined;
      }
      const size = parseInt(buf.toString('latin1', 0, eol).split(';')[0], 16);
      if (!Number.isSafeInteger(size) || size < 0) throw protocolError('bad chunk size');
      if (size === 0) {
        // Trailers (none expected), then the empty line that ends the message.
        const end = buf.indexOf(CRLFCRLF, eol, 'latin1');
        if (end < 0) {
          this.buf = buf;
          return undefined;
        }
        if (buf.length > end + 4) throw protocolError('unexpected bytes after the response');
        this.buf = undefined;
        return this.joined();
      }
      this.chunkLeft = size + 2;
      this.buf = undefined;
      data = buf.subarray(eol + 2);
    }
  }
}

function closedError(): Error {
  return Object.assign(new Error('client closed'), { code: 'ERR_CLIENT_CLOSED' });
}

function protocolError(msg: string): Http1Error {
  const e: Http1Error = new Error(`HTTP response: ${msg}`);
  e.code = 'HPE_INVALID_RESPONSE';
  return e;
}

class Connection {
  readonly socket: net.Socket;
  private readonly parser = new ResponseParser();
  private pending: Pending | undefined;
  /** Requests completed on this connection. */
  uses = 0;
  closed = false;

  constructor(
    opts: Http1PoolOptions,
    private readonly onIdle: (c: Connection) => void,
    private readonly onGone: (c: Connection) => void,
  ) {
    this.socket = opts.tls
      ? tls.connect({
          host: opts.host,
          port: opts.port,
          secureContext: opts.tls.secureContext,
          rejectUnauthorized: opts.tls.rejectUnauthorized,
          // SNI only for names, as node:https does.
          servername: net.isIP(opts.host) ? undefined : opts.host,
        })
      : net.connect({ host: opts.host, port: opts.port });
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 1000);
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (e) => this.fail(e));
    this.socket.on('close', () => {
      const body = this.pending ? this.parser.end() : undefined;
      if (body) this.finish(body);
      else {
        const e: Http1Error = new Error('socket hang up');
        e.code = 'ECONNRESET';
        this.fail(e);
      }
    });
  }

  send(head: string, body: Buffer | undefined, p: Pending): void {
    this.pending = p;
    this.parser.reset();
    this.parser.headOnly = head.startsWith('HEAD ');
    this.socket.ref();
    if (body?.length) this.socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
    else this.socket.write(head, 'latin1');
  }

  /** Abandon the request in flight (timeout, abort): the connection cannot be reused. */
  abort(e: Error): void {
    const p = this.pending;
    this.pending = undefined;
    this.close();
    p?.reject(e);
  }

  private onData(d: Buffer): void {
    if (!this.pending) {
      // Nothing was asked: a server closing an idle connection may say why; it cannot be reused.
      this.close();
      return;
    }
    let body: Buffer | undefined;
    try {
      body = this.parser.push(d);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    if (body) this.finish(body);
  }

  private finish(body: Buffer): void {
    const p = this.pending!;
    this.pending = undefined;
    this.uses++;
    const status = this.parser.status;
    if (this.parser.closeAfter || this.closed) this.close();
    else {
      this.socket.unref();
      this.onIdle(this);
    }
    p.resolve({ status, body });
  }

  private fail(e: Error): void {
    const p = this.pending;
    this.pending = undefined;
    if (p && !this.parser.started && this.uses > 0) (e as Http1Error).staleConnection = true;
    this.close();
    p?.reject(e);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.onGone(this);
  }
}

/** Keep-alive connections to one server, at most `maxSockets`, each carrying one request at a time. */
export class Http1Pool {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly waiting: (() => void)[] = [];
  private destroyed = false;
  private readonly hostHeader: string;

  constructor(private readonly opts: Http1PoolOptions) {
    this.hostHeader = `Host: ${net.isIPv6(opts.host) ? `[${opts.host}]` : opts.host}:${opts.port}\r\n`;
  }

  /**
   * Send a request; `headers` are rendered header lines ("Name: value\r\n" each, without Host or
   * Content-Length). `signal` and `timeoutMs` end it with an error whose name is AbortError or
   * TimeoutError (made by `abortError`).
   */
  async request(
    method: string,
    path: string,
    headers: string,
    body: Buffer | undefined,
    opts: { signal?: AbortSignal; timeoutMs?: number; abortError: (name: 'AbortError' | 'TimeoutError') => Error },
  ): Promise<Http1Response> {
    if (this.destroyed) throw closedError();
    const conn = await this.connection(opts);
    const head = `${method} ${path} HTTP/1.1\r\n${this.hostHeader}${headers}${body ? `Content-Length: ${body.length}\r\n` : method === 'GET' || method === 'HEAD' ? '' : 'Content-Length: 0\r\n'}\r\n`;
    return new Promise<Http1Response>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
      };
      if (opts.signal) {
        if (opts.signal.aborted) {
          this.release(conn);
          reject(opts.abortError('AbortError'));
          return;
        }
        onAbort = () => conn.abort(opts.abortError('AbortError'));
        opts.signal.addEventListener('abort', onAbort, { once: true });
      }
      if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) timer = setTimeout(() => conn.abort(opts.abortError('TimeoutError')), opts.timeoutMs);
      conn.send(head, body, {
        resolve: (r) => {
          cleanup();
          resolve(r);
        },
        reject: (e) => {
          cleanup();
          // The server closed a connection that sat idle: the others idle as long are likely closed
          // too (its idle timeout, or a pause in this process), so a retry must not get one of them.
          if ((e as Http1Error).staleConnection) this.dropIdle();
          reject(e);
        },
      });
    });
  }

  /** An idle connection, a new one, or the next to come free when `maxSockets` are busy. */
  private async connection(opts: { signal?: AbortSignal; abortError: (name: 'AbortError') => Error }): Promise<Connection> {
    const signal = opts.signal;
    for (;;) {
      const c = this.idle.pop();
      if (c) {
        if (!c.closed) return c;
        continue;
      }
      if (this.all.size < this.opts.maxSockets) {
        const conn = new Connection(
          this.opts,
          (x) => this.release(x),
          (x) => this.gone(x),
        );
        this.all.add(conn);
        return conn;
      }
      await new Promise<void>((resolve, reject) => {
        const wake = () => resolve();
        this.waiting.push(wake);
        signal?.addEventListener(
          'abort',
          () => {
            // Out of the line, so the next free slot goes to a request still waiting.
            const i = this.waiting.indexOf(wake);
            if (i >= 0) this.waiting.splice(i, 1);
            reject(opts.abortError('AbortError'));
          },
          { once: true },
        );
      });
      if (this.destroyed) throw closedError();
    }
  }

  private release(c: Connection): void {
    if (this.destroyed) {
      c.close();
      return;
    }
    this.idle.push(c);
    this.waiting.shift()?.();
  }

  private dropIdle(): void {
    for (const c of this.idle.splice(0)) c.close();
  }

  private gone(c: Connection): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    // A slot came free: a waiting request may open a connection.
    this.waiting.shift()?.();
  }

  destroy(): void {
    this.destroyed = true;
    for (const c of [...this.all]) c.close();
    for (const w of this.waiting.splice(0)) w();
  }
}
