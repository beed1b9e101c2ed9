/**
 * A small SPDY/3.1 implementation: the framing kubectl's exec/attach (SPDY fallback) and
 * port-forward speak, and containerd's CRI stream server accepts. Both roles: the server side
 * answers streams the peer opens, the client side opens them. No flow control is enforced:
 * Kubernetes' SPDY library (spdystream) neither sends nor honours WINDOW_UPDATE.
 *
 * Header blocks are one zlib stream per direction, primed with the SPDY/3 dictionary. Incoming
 * blocks are inflated with node:zlib (asynchronously, so frames are handled in order through a
 * queue); outgoing blocks are written as zlib stored (uncompressed) blocks, which every inflater
 * reads and which need no compressor state.
 */
import { EventEmitter } from 'node:events';
import zlib from 'node:zlib';

// The SPDY/3 header dictionary: length-prefixed header names and values, then a raw tail.
const DICT_WORDS = [
  'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding', 'accept-language',
  'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection', 'content-base', 'content-encoding',
  'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type', 'date', 'etag',
  'expect', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer',
  'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via', 'warning',
  'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url', 'public', 'set-cookie',
  'keep-alive', 'origin',
];
const DICT_TAIL =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized' +
  '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,' +
  'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

function buildDictionary(): Buffer {
  const parts: Buffer[] = [];
  for (const w of DICT_WORDS) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(w.length);
    parts.push(len, Buffer.from(w, 'latin1'));
  }
  parts.push(Buffer.from(DICT_TAIL, 'latin1'));
  return Buffer.concat(parts);
}

/** The 1423-byte SPDY/3 zlib dictionary. */
export const SPDY_DICTIONARY: Buffer = buildDictionary();

/** Adler-32, as zlib computes it (for the dictionary id in the zlib header). */
export function adler32(b: Buffer): number {
  let a = 1;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    a = (a + b[i]!) % 65521;
    s = (s + a) % 65521;
  }
  return ((s << 16) | a) >>> 0;
}

/** Header name → values (names lower case; several values travel joined by NUL). */
export type SpdyHeaders = Record<string, string[]>;

export const FrameType = { SYN_STREAM: 1, SYN_REPLY: 2, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, HEADERS: 8, WINDOW_UPDATE: 9 } as const;
export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;
/** RST_STREAM status codes used here. */
export const RstStatus = { PROTOCOL_ERROR: 1, INVALID_STREAM: 2, REFUSED_STREAM: 3, CANCEL: 5, INTERNAL_ERROR: 6 } as const;

/** One decoded frame. Header blocks are still compressed in `block` (decoded by the session). */
export type RawFrame =
  | { control: false; streamId: number; flags: number; data: Buffer }
  | { control: true; type: number; flags: number; payload: Buffer };

/** Encodes header pairs as a SPDY/3 name/value block (before compression). */
export function encodeHeaderBlock(h: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const entries = Object.entries(h);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(entries.length);
  parts.push(count);
  for (const [name, values] of entries) {
    for (const s of [name.toLowerCase(), values.join('\0')]) {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

/** Decodes an inflated name/value block. */
export function decodeHeaderBlock(b: Buffer): SpdyHeaders {
  const out: SpdyHeaders = {};
  let off = 0;
  const u32 = () => {
    if (off + 4 > b.length) throw new Error('SPDY header block truncated');
    const v = b.readUInt32BE(off);
    off += 4;
    return v;
  };
  const str = () => {
    const n = u32();
    if (off + n > b.length) throw new Error('SPDY header block truncated');
    const s = b.toString('utf8', off, off + n);
    off += n;
    return s;
  };
  const n = u32();
  for (let i = 0; i < n; i++) {
    const name = str().toLowerCase();
    const value = str();
    (out[name] ??= []).push(...value.split('\0'));
  }
  return out;
}

/**
 * The compressing side of one direction: zlib framing with stored blocks. Every block ends the
 * way a sync flush does (an empty stored block), so a reader never waits for more input.
 */
export class HeaderCompressor {
  private started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      this.started = true;
      // CMF 0x78 (deflate, 32K window); FLG with FDICT, FCHECK making the pair a multiple of 31.
      const cmf = 0x78;
      let flg = 0x20;
      flg += 31 - ((cmf * 256 + flg) % 31);
      const id = Buffer.alloc(4);
      id.writeUInt32BE(adler32(SPDY_DICTIONARY));
      parts.push(Buffer.from([cmf, flg]), id);
    }
    for (let off = 0; off < block.length || off === 0; off += 0xffff) {
      const piece = block.subarray(off, off + 0xffff);
      const h = Buffer.alloc(5);
      h[0] = 0; // BFINAL 0, BTYPE 00 (stored), padded to the byte
      h.writeUInt16LE(piece.length, 1);
      h.writeUInt16LE(~piece.length & 0xffff, 3);
      parts.push(h, piece);
      if (block.length === 0) break;
    }
    parts.push(Buffer.from([0, 0, 0, 0xff, 0xff]));
    return Buffer.concat(parts);
  }
}

/** The inflating side of one direction: one zlib stream for the whole connection. */
export class HeaderDecompressor {
  private readonly inflater = zlib.createInflate({ dictionary: SPDY_DICTIONARY });
  private failed: Error | undefined;

  constructor() {
    this.inflater.on('error', (e) => (this.failed = e));
  }

  /** Inflates one frame's header block; calls must not overlap (the session queues them). */
  decompress(block: Buffer): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const onData = (c: Buffer) => chunks.push(c);
      const onError = (e: Error) => {
        this.inflater.off('data', onData);
        reject(e);
      };
      this.inflater.on('data', onData);
      this.inflater.once('error', onError);
      this.inflater.write(block);
      this.inflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.inflater.off('data', onData);
        this.inflater.off('error', onError);
        if (this.failed) reject(this.failed);
        else resolve(Buffer.concat(chunks));
      });
    });
  }

  close(): void {
    this.inflater.destroy();
  }
}

/** Splits a byte stream into frames; keeps partial frames across chunks. */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RawFrame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: RawFrame[] = [];
    while (this.buf.length >= 8) {
      const len = this.buf.readUIntBE(5, 3);
      if (this.buf.length < 8 + len) break;
      const flags = this.buf[4]!;
      const body = this.buf.subarray(8, 8 + len);
      if (this.buf[0]! & 0x80) {
        const version = this.buf.readUInt16BE(0) & 0x7fff;
        if (version !== 3) throw new Error(`unsupported SPDY version ${version}`);
        out.push({ control: true, type: this.buf.readUInt16BE(2), flags, payload: body });
      } else {
        out.push({ control: false, streamId: this.buf.readUInt32BE(0) & 0x7fffffff, flags, data: body });
      }
      this.buf = this.buf.subarray(8 + len);
    }
    return out;
  }
}

/** A control frame: `0x8003`, type, flags, 24-bit length, payload. */
export function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8003, 0);
  h.writeUInt16BE(type, 2);
  h[4] = flags;
  h.writeUIntBE(payload.length, 5, 3);
  return Buffer.concat([h, payload]);
}

/** A data frame. */
export function dataFrame(streamId: number, flags: number, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(streamId & 0x7fffffff, 0);
  h[4] = flags;
  h.writeUIntBE(data.length, 5, 3);
  return Buffer.concat([h, data]);
}

/** The byte transport a session runs over: a socket, or SPDY tunnelled in WebSocket messages. */
export interface SpdyTransport {
  /** Returns false when the transport's buffer is full (the session then emits 'drain' once told). */
  write(b: Buffer): boolean | void;
  /** Ends the transport after pending writes. */
  end(): void;
  /** Stop and restart reading from the peer, for backpressure. */
  pause?(): void;
  resume?(): void;
}

const MAX_DATA = 0xffffff;

/** One SPDY stream. Events: 'data' (Buffer), 'end' (peer FIN), 'reset' (status), 'reply' (headers), 'close'. */
export class SpdyStream extends EventEmitter {
  /** Set once we sent FIN (or reset). */
  localClosed = false;
  /** Set once the peer sent FIN (or reset). */
  remoteClosed = false;
  replied = false;
  private closed = false;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: SpdyHeaders,
  ) {
    super();
  }

  /** First value of a header. */
  header(name: string): string | undefined {
    return this.headers[name.toLowerCase()]?.[0];
  }

  /** SYN_REPLY for a stream the peer opened. */
  reply(headers: SpdyHeaders = {}, fin = false): void {
    if (this.replied) return;
    this.replied = true;
    this.session.sendControl(FrameType.SYN_REPLY, fin ? FLAG_FIN : 0, Buffer.concat([u32(this.id), this.session.compress(headers)]));
    if (fin) this.localFinished();
  }

  /** Sends data; false when the transport is backed up (wait for the session's 'drain'). */
  write(data: Buffer): boolean {
    if (this.localClosed || this.session.destroyed) return true;
    let ok = true;
    for (let off = 0; off < data.length; off += MAX_DATA) ok = this.session.sendRaw(dataFrame(this.id, 0, data.subarray(off, off + MAX_DATA))) && ok;
    return ok;
  }

  /** Sends optional data and FIN. */
  end(data?: Buffer): void {
    if (this.localClosed || this.session.destroyed) return;
    if (data?.length) this.write(data);
    this.session.sendRaw(dataFrame(this.id, FLAG_FIN, Buffer.alloc(0)));
    this.localFinished();
  }

  /** RST_STREAM. */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.closed) return;
    if (!this.session.destroyed) this.session.sendControl(FrameType.RST_STREAM, 0, Buffer.concat([u32(this.id), u32(status)]));
    this.localClosed = this.remoteClosed = true;
    this.finish();
  }

  /** @internal */
  onData(data: Buffer, fin: boolean): void {
    if (this.remoteClosed) return;
    if (data.length) this.emit('data', data);
    if (fin) this.remoteFinished();
  }
  /** @internal */
  remoteFinished(): void {
    if (this.remoteClosed) return;
    this.remoteClosed = true;
    this.emit('end');
    if (this.localClosed) this.finish();
  }
  /** @internal */
  onReset(status: number): void {
    if (this.closed) return;
    this.localClosed = this.remoteClosed = true;
    this.emit('reset', status);
    this.finish();
  }
  /** @internal */
  finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.session.forget(this.id);
    this.emit('close');
  }
  private localFinished(): void {
    this.localClosed = true;
    if (this.remoteClosed) this.finish();
  }
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

/** Options of {@link SpdySession}. */
export interface SpdySessionOptions {
  role: 'client' | 'server';
  transport: SpdyTransport;
}

/**
 * A SPDY/3.1 session over a byte transport. Feed it the bytes read; it emits 'stream' for streams
 * the peer opens, 'goaway', 'error', 'close' once {@link destroy} ran, and 'drain' when the
 * transport's owner reports that a full buffer emptied.
 */
export class SpdySession extends EventEmitter {
  destroyed = false;
  goneAway = false;
  private nextId: number;
  private readonly streams = new Map<number, SpdyStream>();
  private readonly parser = new FrameParser();
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly opts: SpdySessionOptions) {
    super();
    this.nextId = opts.role === 'client' ? 1 : 2;
  }

  /** Bytes from the transport. */
  feed(chunk: Buffer): void {
    if (this.destroyed) return;
    let frames: RawFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    for (const f of frames) this.queue = this.queue.then(() => (this.destroyed ? undefined : this.handle(f))).catch((e) => this.fail(e));
  }

  /** Resolves once every frame fed so far was handled. */
  idle(): Promise<void> {
    return this.queue;
  }

  /** Opens a stream (client role). */
  open(headers: SpdyHeaders, opts: { fin?: boolean } = {}): SpdyStream {
    const id = this.nextId;
    this.nextId += 2;
    const s = new SpdyStream(this, id, headers);
    this.streams.set(id, s);
    const payload = Buffer.concat([u32(id), u32(0), Buffer.from([0, 0]), this.compress(headers)]);
    this.sendControl(FrameType.SYN_STREAM, opts.fin ? FLAG_FIN : 0, payload);
    if (opts.fin) s.localClosed = true;
    return s;
  }

  /** GOAWAY with status OK. */
  goAway(): void {
    if (this.destroyed) return;
    this.sendControl(FrameType.GOAWAY, 0, Buffer.concat([u32(0), u32(0)]));
  }

  /** Ends the transport; open streams see 'close'. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const s of [...this.streams.values()]) {
      s.localClosed = s.remoteClosed = true;
      s.finish();
    }
    this.decompressor.close();
    try {
      this.opts.transport.end();
    } catch {
      // already gone
    }
    this.emit('close');
  }

  /** The transport ended (peer closed). */
  transportClosed(): void {
    // Let queued frames finish before the streams are closed.
    void this.queue.then(() => this.destroy());
  }

  /** @internal */
  compress(h: SpdyHeaders): Buffer {
    return this.compressor.compress(encodeHeaderBlock(h));
  }
  /** @internal */
  sendControl(type: number, flags: number, payload: Buffer): void {
    this.sendRaw(controlFrame(type, flags, payload));
  }
  /** @internal */
  sendRaw(b: Buffer): boolean {
    if (this.destroyed) return true;
    return this.opts.transport.write(b) !== false;
  }

  /** Stops reading from the peer (all streams) until {@link resume}. */
  pause(): void {
    this.opts.transport.pause?.();
  }
  resume(): void {
    this.opts.transport.resume?.();
  }
  /** @internal */
  forget(id: number): void {
    this.streams.delete(id);
  }

  private fail(e: Error): void {
    if (this.destroyed) return;
    this.emit('error', e);
    this.destroy();
  }

  private async handle(f: RawFrame): Promise<void> {
    if (!f.control) {
      this.streams.get(f.streamId)?.onData(f.data, (f.flags & FLAG_FIN) !== 0);
      return;
    }
    const p = f.payload;
    switch (f.type) {
      case FrameType.SYN_STREAM: {
        const id = p.readUInt32BE(0) & 0x7fffffff;
        const headers = decodeHeaderBlock(await this.decompressor.decompress(p.subarray(10)));
        if (this.goneAway || this.streams.has(id)) {
          this.sendControl(FrameType.RST_STREAM, 0, Buffer.concat([u32(id), u32(RstStatus.REFUSED_STREAM)]));
          return;
        }
        const s = new SpdyStream(this, id, headers);
        this.streams.set(id, s);
        if (f.flags & FLAG_UNIDIRECTIONAL) s.localClosed = true;
        this.emit('stream', s);
        if (f.flags & FLAG_FIN) s.remoteFinished();
        return;
      }
      case FrameType.SYN_REPLY: {
        const id = p.readUInt32BE(0) & 0x7fffffff;
        const headers = decodeHeaderBlock(await this.decompressor.decompress(p.subarray(4)));
        const s = this.streams.get(id);
        if (!s) return;
        s.replied = true;
        s.emit('reply', headers);
        if (f.flags & FLAG_FIN) s.remoteFinished();
        return;
      }
      case FrameType.HEADERS: {
        const id = p.readUInt32BE(0) & 0x7fffffff;
        await this.decompressor.decompress(p.subarray(4));
        if (f.flags & FLAG_FIN) this.streams.get(id)?.remoteFinished();
        return;
      }
      case FrameType.RST_STREAM:
        this.streams.get(p.readUInt32BE(0) & 0x7fffffff)?.onReset(p.readUInt32BE(4));
        return;
      case FrameType.PING: {
        const id = p.readUInt32BE(0);
        // Answer pings the peer started (their parity differs from ours).
        if ((id & 1) !== (this.opts.role === 'client' ? 1 : 0)) this.sendControl(FrameType.PING, 0, p);
        return;
      }
      case FrameType.GOAWAY:
        this.goneAway = true;
        this.emit('goaway');
        return;
      default:
        // SETTINGS, WINDOW_UPDATE and unknown frames need no answer.
        return;
    }
  }
}
