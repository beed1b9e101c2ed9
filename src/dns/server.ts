/**
 * The cluster DNS server: UDP and TCP on one port, answering the cluster zone from Service,
 * EndpointSlice and Namespace informers and forwarding everything else upstream. Wire format by
 * dns-packet; record logic in records.ts.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import * as packet from 'dns-packet';
import type { Answer, DecodedPacket, Packet, Question, RecordType } from 'dns-packet';
import { logger } from '../base/log.js';
import { Counter, Histogram, Registry } from '../base/metrics.js';
import { DeletedFinalStateUnknown, SharedInformerFactory, type ResourceEventHandler } from '../client/informer.js';
import type { KObject, RestClient } from '../client/rest-client.js';
import { resources } from '../client/resources.js';
import { Forwarder, parseUpstream, upstreamsFromResolvConf, type Upstream } from './forward.js';
import { lookup, type LookupResult, type Rcode } from './records.js';
import { ServiceIndex } from './service-index.js';

const log = logger('dns');

export interface ClusterDNSOptions {
  /** Used for the Service, EndpointSlice and Namespace informers (unless `informers` is given). */
  client: RestClient;
  /** UDP and TCP on the same port; port 0 picks a free one (the same for both). */
  listen: { host: string; port: number };
  /** Default cluster.local. */
  clusterDomain?: string;
  /** `host`, `host:port` or `[v6]:port`. Default: the nameservers of `resolvConf`, minus this server itself. */
  upstreams?: string[];
  /** Record TTL and negative-caching TTL (SOA minimum), seconds. Default 5, as CoreDNS's kubernetes plugin. */
  ttl?: number;
  /** Share informers with other components (started here if not yet; shutting it down is the caller's). */
  informers?: SharedInformerFactory;
  /** Register the coredns_dns_* metrics here (default: a registry of this server's own, see `metrics`). */
  registry?: Registry;
  /** Where the default upstreams come from. Default /etc/resolv.conf. */
  resolvConf?: string;
  /** SERVFAIL for forwarded names after this long without an upstream answer. Default 2000 ms. */
  forwardTimeoutMs?: number;
  /** How long start waits for the informers before serving anyway (negative answers are SERVFAIL until synced). Default 5000 ms. */
  syncTimeoutMs?: number;
}

export interface ClusterDNS {
  port: number;
  address: string;
  /** The registry holding the coredns_dns_* metrics. */
  metrics: Registry;
  /** The index answers come from (tests, debugging). */
  index: ServiceIndex;
  /** Upstreams in use. */
  upstreams: Upstream[];
  stop(): Promise<void>;
}

const RCODES: Record<Rcode, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
const MAX_UDP = 4096;
/** CoreDNS's request-duration buckets: 0.25 ms doubling 16 times. */
const DURATION_BUCKETS = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i);
const TCP_IDLE_MS = 10_000;

function unwrap(o: KObject | DeletedFinalStateUnknown<KObject>): KObject {
  return o instanceof DeletedFinalStateUnknown ? o.obj : o;
}

/** The largest UDP reply the client accepts: 512, or its EDNS buffer size (capped at 4096). */
function udpLimit(q: DecodedPacket): number {
  const opt = (q.additionals ?? []).find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  return opt?.udpPayloadSize ? Math.min(MAX_UDP, Math.max(512, opt.udpPayloadSize)) : 512;
}

/**
 * Encode, dropping records until the message fits `limit`: first the additional section (no TC,
 * as RFC 2181 9 allows), then answers, setting TC.
 */
export function encodeWithin(p: Packet, limit: number): Buffer {
  if (packet.encodingLength(p) <= limit) return packet.encode(p);
  const opt = (p.additionals ?? []).filter((a) => a.type === 'OPT');
  const q: Packet = { ...p, additionals: opt };
  if (packet.encodingLength(q) <= limit) return packet.encode(q);
  const answers = p.answers ?? [];
  let lo = 0;
  let hi = answers.length;
  // Largest prefix of answers that fits, with authority dropped too.
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (packet.encodingLength({ ...q, answers: answers.slice(0, mid), authorities: [] }) <= limit) lo = mid;
    else hi = mid - 1;
  }
  return packet.encode({ ...q, answers: answers.slice(0, lo), authorities: [], flags: (p.flags ?? 0) | packet.TRUNCATED_RESPONSE });
}

/** A reply with just a header and the question (errors, and answers for names we cannot parse). */
function bareReply(query: Buffer, rcode: Rcode): Buffer | undefined {
  if (query.length < 12) return undefined;
  const out = Buffer.alloc(12);
  query.copy(out, 0, 0, 4);
  // QR set, opcode and RD kept, rcode set; no sections.
  out[2] = (query[2] & 0x79) | 0x80;
  out[3] = RCODES[rcode];
  return out;
}

/** Start the cluster DNS server; resolves once it listens (and the informers synced, or `syncTimeoutMs` passed). */
export async function startClusterDNS(o: ClusterDNSOptions): Promise<ClusterDNS> {
  const zone = (o.clusterDomain ?? 'cluster.local').toLowerCase().replace(/\.$/, '');
  const ttl = o.ttl ?? 5;
  const index = new ServiceIndex();
  const registry = o.registry ?? new Registry();
  const requests = registry.register(new Counter('coredns_dns_requests_total', 'Counter of DNS requests made per zone, protocol and family.', ['server', 'zone', 'proto', 'family', 'type']));
  const responses = registry.register(new Counter('coredns_dns_responses_total', 'Counter of response status codes.', ['server', 'zone', 'rcode']));
  const duration = registry.register(new Histogram('coredns_dns_request_duration_seconds', 'Histogram of the time (in seconds) each request took per zone.', ['server', 'zone', 'type'], DURATION_BUCKETS));
  const forwards = registry.register(new Counter('k8ts_dns_forward_requests_total', 'Queries forwarded upstream, by result (ok: an upstream answered; failed: none did in time).', ['result']));

  // Informers first, so the first answers are complete.
  const ownFactory = !o.informers;
  const factory = o.informers ?? new SharedInformerFactory(o.client);
  const svcInf = factory.forResource(resources.services);
  const sliceInf = factory.forResource(resources.endpointslices);
  const nsInf = factory.forResource(resources.namespaces);
  const handler = (set: (x: KObject) => void, del: (x: KObject) => void): ResourceEventHandler<KObject> => ({
    onAdd: (x) => set(x),
    onUpdate: (_old, x) => set(x),
    onDelete: (x) => del(unwrap(x)),
  });
  const regs = [
    svcInf.addEventHandler(handler((x) => index.setService(x), (x) => index.deleteService(x))),
    sliceInf.addEventHandler(handler((x) => index.setEndpointSlice(x), (x) => index.deleteEndpointSlice(x))),
    nsInf.addEventHandler(handler((x) => index.setNamespace(x), (x) => index.deleteNamespace(x))),
  ];
  factory.start();
  const syncTimeoutMs = o.syncTimeoutMs ?? 5000;
  const synced = await Promise.all([svcInf, sliceInf, nsInf].map((i) => i.waitForSync({ timeoutMs: syncTimeoutMs })));
  if (!synced.every(Boolean)) log.warn('starting with unsynced Kubernetes API', { timeoutMs: syncTimeoutMs });
  const isSynced = () => regs.every((r) => r.hasSynced());

  // Sockets: UDP first (port 0 picks), then TCP on the same port; retry when TCP finds it taken.
  const family = net.isIP(o.listen.host) === 6 ? 'udp6' : 'udp4';
  let udp!: dgram.Socket;
  let tcp!: net.Server;
  for (let attempt = 0; ; attempt++) {
    udp = dgram.createSocket(family);
    await new Promise<void>((res, rej) => {
      udp.once('error', rej);
      udp.bind(o.listen.port, o.listen.host, () => {
        udp.off('error', rej);
        res();
      });
    });
    const port = udp.address().port;
    tcp = net.createServer();
    try {
      await new Promise<void>((res, rej) => {
        tcp.once('error', rej);
        tcp.listen(port, o.listen.host, () => {
          tcp.off('error', rej);
          res();
        });
      });
      break;
    } catch (e) {
      udp.close();
      if (o.listen.port !== 0 || attempt >= 10) {
        for (const r of regs) r.remove();
        if (ownFactory) await factory.shutdown();
        throw e;
      }
    }
  }
  const port = udp.address().port;
  const self: Upstream = { host: o.listen.host, port };
  let upstreamList: Upstream[];
  if (o.upstreams) upstreamList = o.upstreams.map(parseUpstream);
  else {
    let text = '';
    try {
      text = readFileSync(o.resolvConf ?? '/etc/resolv.conf', 'utf8');
    } catch {
      // No resolv.conf: nothing to forward to.
    }
    upstreamList = upstreamsFromResolvConf(text, self);
  }
  const forwarder = new Forwarder(upstreamList, { timeoutMs: o.forwardTimeoutMs ?? 2000 });
  const serverLabel = `dns://${o.listen.host.includes(':') ? `[${o.listen.host}]` : o.listen.host}:${port}`;

  /** Resolve `name`/`type` upstream (for ExternalName targets); the answers, or none on failure. */
  async function chase(name: string, type: RecordType, proto: 'udp' | 'tcp'): Promise<Answer[]> {
    if (!forwarder.upstreams.length) return [];
    try {
      const q = packet.encode({ type: 'query', id: 0, flags: packet.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
      const reply = packet.decode(await forwarder.exchange(q, proto));
      return reply.answers ?? [];
    } catch {
      return [];
    }
  }

  async function handle(buf: Buffer, proto: 'udp' | 'tcp', fam: 4 | 6): Promise<Buffer | undefined> {
    const t0 = process.hrtime.bigint();
    let q: DecodedPacket;
    try {
      q = packet.decode(buf);
    } catch {
      return bareReply(buf, 'FORMERR');
    }
    if (q.type === 'response') return undefined;
    const question: Question | undefined = q.questions?.[0];
    const qtype = question?.type ?? 'A';
    requests.inc({ server: serverLabel, zone: '.', proto, family: String(fam), type: String(qtype) });
    let reply: Buffer | undefined;
    let rcode: Rcode = 'NOERROR';
    const opcode = (q as unknown as { opcode?: string }).opcode;
    if (opcode && opcode !== 'QUERY') reply = bareReply(buf, (rcode = 'NOTIMP'));
    else if (!question || q.questions!.length !== 1) reply = bareReply(buf, (rcode = 'FORMERR'));
    else {
      let r: LookupResult;
      try {
        r = lookup(index, question.name, qtype, { zone, ttl, synced: isSynced() });
      } catch (e) {
        log.error('lookup failed', { name: question.name, type: qtype, err: e as Error });
        r = { rcode: 'SERVFAIL', answers: [], authorities: [], additionals: [], authoritative: false };
      }
      if (r.forward) {
        if (!forwarder.upstreams.length) {
          rcode = 'SERVFAIL';
          reply = bareReplyWithQuestion(q, rcode, false);
        } else {
          try {
            reply = await forwarder.exchange(buf, proto);
            forwards.inc({ result: 'ok' });
            rcode = (['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'] as Rcode[])[reply[3] & 0xf] ?? 'NOERROR';
          } catch (e) {
            forwards.inc({ result: 'failed' });
            log.debug('forward failed', { name: question.name, err: e as Error });
            rcode = 'SERVFAIL';
            reply = bareReplyWithQuestion(q, rcode, false);
          }
        }
      } else {
        if (r.chase) r.answers.push(...(await chase(r.chase.name, r.chase.type, proto)));
        rcode = r.rcode;
        const additionals: Answer[] = [...r.additionals];
        const clientOpt = (q.additionals ?? []).find((a) => a.type === 'OPT');
        if (clientOpt) additionals.push({ type: 'OPT', name: '.', udpPayloadSize: udpLimit(q), extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as unknown as Answer);
        const p: Packet = {
          type: 'response',
          id: q.id,
          flags: (r.authoritative ? packet.AUTHORITATIVE_ANSWER : 0) | (q.flag_rd ? packet.RECURSION_DESIRED : 0) | RCODES[r.rcode],
          questions: [question],
          answers: r.answers,
          authorities: r.authorities,
          additionals,
        };
        reply = encodeWithin(p, proto === 'udp' ? udpLimit(q) : 65535);
      }
    }
    responses.inc({ server: serverLabel, zone: '.', rcode });
    duration.observe({ server: serverLabel, zone: '.', type: String(qtype) }, Number(process.hrtime.bigint() - t0) / 1e9);
    return reply;
  }

  function bareReplyWithQuestion(q: DecodedPacket, rcode: Rcode, aa: boolean): Buffer {
    return packet.encode({
      type: 'response',
      id: q.id,
      flags: (aa ? packet.AUTHORITATIVE_ANSWER : 0) | (q.flag_rd ? packet.RECURSION_DESIRED : 0) | RCODES[rcode],
      questions: q.questions,
    });
  }

  udp.on('message', (msg, rinfo) => {
    handle(msg, 'udp', rinfo.family === 'IPv6' ? 6 : 4).then(
      (reply) => reply && udp.send(reply, rinfo.port, rinfo.address),
      (e) => log.error('udp query failed', { err: e as Error }),
    );
  });
  udp.on('error', (e) => log.error('udp socket error', { err: e }));

  const conns = new Set<net.Socket>();
  tcp.on('connection', (sock) => {
    conns.add(sock);
    sock.setNoDelay(true);
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (buf.length < n + 2) break;
        const msg = buf.subarray(2, n + 2);
        buf = buf.subarray(n + 2);
        handle(Buffer.from(msg), 'tcp', sock.remoteFamily === 'IPv6' ? 6 : 4).then(
          (reply) => {
            if (!reply || sock.destroyed) return;
            const len = Buffer.alloc(2);
            len.writeUInt16BE(reply.length);
            sock.write(Buffer.concat([len, reply]));
          },
          (e) => log.error('tcp query failed', { err: e as Error }),
        );
      }
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => conns.delete(sock));
  });

  log.info('cluster DNS listening', { address: o.listen.host, port, zone, upstreams: upstreamList.map((u) => `${u.host}:${u.port}`) });
  let stopped = false;
  return {
    port,
    address: o.listen.host,
    metrics: registry,
    index,
    upstreams: upstreamList,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const r of regs) r.remove();
      for (const c of conns) c.destroy();
      await Promise.all([new Promise<void>((res) => udp.close(() => res())), new Promise<void>((res) => tcp.close(() => res()))]);
      if (ownFactory) await factory.shutdown();
    },
  };
}
