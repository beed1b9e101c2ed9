/**
 * Forwarding of names outside the cluster zone to upstream resolvers, over the protocol the
 * client used. Each exchange has its own connected socket and a fresh random ID, so a refused
 * port (ICMP unreachable) fails at once and the next upstream is tried; the whole exchange is
 * bounded by a deadline so a client gets SERVFAIL quickly when nothing answers.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';

/** An upstream resolver address. */
export interface Upstream {
  host: string;
  port: number;
}

/** Parse `1.2.3.4`, `1.2.3.4:53`, `fd00::1`, `[fd00::1]:53`. Throws on anything else. */
export function parseUpstream(s: string): Upstream {
  const t = s.trim();
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket && net.isIP(bracket[1]) === 6) return { host: bracket[1], port: bracket[2] ? Number(bracket[2]) : 53 };
  if (net.isIP(t)) return { host: t, port: 53 };
  const hp = /^([\d.]+):(\d+)$/.exec(t);
  if (hp && net.isIP(hp[1]) === 4) return { host: hp[1], port: Number(hp[2]) };
  throw new Error(`invalid upstream DNS server ${JSON.stringify(s)}`);
}

/**
 * The nameservers of a resolv.conf text, minus those that are this server itself
 * (`self`: our listen address; only a nameserver on port 53 at that address loops back to us).
 */
export function upstreamsFromResolvConf(text: string, self?: Upstream): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== 'nameserver' || !f[1]) continue;
    const host = f[1].replace(/%.*$/, ''); // drop an IPv6 zone index
    if (!net.isIP(host)) continue;
    if (self && self.port === 53 && (self.host === host || (isUnspecified(self.host) && isLoopback(host)))) continue;
    out.push({ host, port: 53 });
  }
  return out;
}

function isUnspecified(h: string): boolean {
  return h === '0.0.0.0' || h === '::';
}
function isLoopback(h: string): boolean {
  return h.startsWith('127.') || h === '::1';
}

/** One UDP exchange; resolves with the reply (ID already checked), rejects on error or timeout. */
function exchangeUDP(up: Upstream, query: Buffer, id: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIP(up.host) === 6 ? 'udp6' : 'udp4');
    let done = false;
    const finish = (err: Error | undefined, reply?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => finish(Object.assign(new Error(`upstream ${up.host}:${up.port} timed out`), { code: 'ETIMEDOUT' })), timeoutMs);
    sock.on('error', (e) => finish(e));
    sock.on('message', (msg) => {
      // Only a reply to this query: right ID and the QR bit set.
      if (msg.length >= 12 && msg.readUInt16BE(0) === id && msg[2] & 0x80) finish(undefined, msg);
    });
    sock.connect(up.port, up.host, () => sock.send(query, (e) => e && finish(e)));
  });
}

/** One TCP exchange (two-byte length framing, RFC 1035 4.2.2). */
function exchangeTCP(up: Upstream, query: Buffer, id: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: up.host, port: up.port });
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (err: Error | undefined, reply?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => finish(Object.assign(new Error(`upstream ${up.host}:${up.port} timed out`), { code: 'ETIMEDOUT' })), timeoutMs);
    sock.on('error', (e) => finish(e));
    sock.on('close', () => finish(new Error(`upstream ${up.host}:${up.port} closed the connection`)));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (buf.length < n + 2) return;
        const msg = buf.subarray(2, n + 2);
        buf = buf.subarray(n + 2);
        if (msg.length >= 12 && msg.readUInt16BE(0) === id) return finish(undefined, Buffer.from(msg));
      }
    });
  });
}

export interface ForwarderOptions {
  /** The whole exchange, over every upstream tried, ends within this (default 2000 ms). */
  timeoutMs?: number;
  /** An upstream that failed is tried after the others for this long (default 5000 ms). */
  holdDownMs?: number;
}

/** Sends queries to a list of upstreams, healthy ones first, within a deadline. */
export class Forwarder {
  private readonly timeoutMs: number;
  private readonly holdDownMs: number;
  private readonly failedAt = new Map<Upstream, number>();
  /** Counters, for tests and metrics. */
  readonly stats = { requests: 0, failures: 0 };

  constructor(
    readonly upstreams: Upstream[],
    o: ForwarderOptions = {},
  ) {
    this.timeoutMs = o.timeoutMs ?? 2000;
    this.holdDownMs = o.holdDownMs ?? 5000;
  }

  /** Upstreams in the order to try: those not recently failed first, each group in list order. */
  private order(now: number): Upstream[] {
    const ok: Upstream[] = [];
    const bad: Upstream[] = [];
    for (const u of this.upstreams) ((this.failedAt.get(u) ?? -Infinity) + this.holdDownMs > now ? bad : ok).push(u);
    return [...ok, ...bad];
  }

  /**
   * Forward a query (a whole DNS message) and return the upstream's reply with the client's ID.
   * Rejects when no upstream answered in time.
   */
  async exchange(query: Buffer, proto: 'udp' | 'tcp'): Promise<Buffer> {
    this.stats.requests++;
    if (query.length < 12) throw new Error('short DNS message');
    const clientId = query.readUInt16BE(0);
    const deadline = Date.now() + this.timeoutMs;
    const list = this.order(Date.now());
    let lastErr: unknown = new Error('no upstream DNS servers');
    for (let i = 0; i < list.length; i++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      // Share what is left among the upstreams still to try, but give each a fair chance.
      const slice = Math.min(left, Math.max(300, Math.floor(left / (list.length - i))));
      const id = randomInt(0, 0x10000);
      const q = Buffer.from(query);
      q.writeUInt16BE(id, 0);
      try {
        const reply = await (proto === 'tcp' ? exchangeTCP : exchangeUDP)(list[i], q, id, slice);
        this.failedAt.delete(list[i]);
        const out = Buffer.from(reply);
        out.writeUInt16BE(clientId, 0);
        return out;
      } catch (e) {
        this.failedAt.set(list[i], Date.now());
        lastErr = e;
      }
    }
    this.stats.failures++;
    throw lastErr;
  }
}
