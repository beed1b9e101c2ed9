/**
 * Test helpers: a tiny upstream DNS server on loopback (UDP and TCP, one port) built with
 * dns-packet, and raw UDP/TCP query functions.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as packet from 'dns-packet';
import type { Answer, DecodedPacket, Packet, RecordType } from 'dns-packet';

export interface FakeUpstream {
  port: number;
  /** Questions seen, as `name type proto`. */
  seen: string[];
  stop(): Promise<void>;
}

/** Answers every A query for a name in `records` (else NXDOMAIN); `delayMs` holds replies back. */
export async function startFakeUpstream(records: Record<string, string>, o: { delayMs?: number; bigTXT?: number } = {}): Promise<FakeUpstream> {
  const seen: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const answer = (q: DecodedPacket, proto: string): Buffer => {
    const question = q.questions![0];
    seen.push(`${question.name} ${question.type} ${proto}`);
    const ip = records[question.name.toLowerCase()];
    const answers: Answer[] = [];
    if (ip && question.type === 'A') answers.push({ type: 'A', name: question.name, ttl: 60, data: ip });
    if (o.bigTXT && question.type === 'TXT') for (let i = 0; i < o.bigTXT; i++) answers.push({ type: 'TXT', name: question.name, ttl: 60, data: `record-${i}-${'x'.repeat(40)}` });
    const flags = packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (ip || answers.length ? 0 : 3);
    const full = packet.encode({ type: 'response', id: q.id, flags, questions: q.questions, answers });
    const opt = (q.additionals ?? []).find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    // Over UDP, a reply larger than the client takes is sent empty with TC, as real servers do.
    if (proto === 'udp' && full.length > Math.max(512, opt?.udpPayloadSize ?? 512)) {
      seen.push(`${question.name} ${question.type} udp-truncated`);
      return packet.encode({ type: 'response', id: q.id, flags: flags | packet.TRUNCATED_RESPONSE, questions: q.questions });
    }
    return full;
  };
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  udp.on('message', (m, rinfo) => {
    const reply = answer(packet.decode(m), 'udp');
    const t = setTimeout(() => {
      timers.delete(t);
      udp.send(reply, rinfo.port, rinfo.address);
    }, o.delayMs ?? 0);
    timers.add(t);
  });
  const tcp = net.createServer((s) => {
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
        const n = buf.readUInt16BE(0);
        const reply = answer(packet.decode(buf.subarray(2, n + 2)), 'tcp');
        buf = buf.subarray(n + 2);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(reply.length);
        s.write(Buffer.concat([len, reply]));
      }
    });
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
  return {
    port,
    seen,
    stop: () => {
      for (const t of timers) clearTimeout(t);
      return Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]).then(() => undefined);
    },
  };
}

/** A UDP port on 127.0.0.1 with nothing listening (bound, read, closed). */
export async function deadPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** Build a query; `udpSize` adds an EDNS OPT record. */
export function query(name: string, type: RecordType, o: { id?: number; udpSize?: number } = {}): Buffer {
  const p: Packet = { type: 'query', id: o.id ?? 4242, flags: packet.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] };
  if (o.udpSize) p.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: o.udpSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as unknown as Answer];
  return packet.encode(p);
}

/** Send one query over UDP to 127.0.0.1:port and decode the reply (with its raw size). */
export function udpQuery(port: number, msg: Buffer, timeoutMs = 3000): Promise<DecodedPacket & { size: number; rcode: string }> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error('udp query timed out'));
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(Object.assign(packet.decode(m), { size: m.length }) as DecodedPacket & { size: number; rcode: string });
    });
    s.send(msg, port, '127.0.0.1');
  });
}

/** Send one query over TCP to 127.0.0.1:port and decode the reply. */
export function tcpQuery(port: number, msg: Buffer, timeoutMs = 3000): Promise<DecodedPacket & { size: number; rcode: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let buf: Buffer = Buffer.alloc(0);
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('tcp query timed out'));
    }, timeoutMs);
    s.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      s.write(Buffer.concat([len, msg]));
    });
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
        clearTimeout(t);
        const m = buf.subarray(2, buf.readUInt16BE(0) + 2);
        s.destroy();
        resolve(Object.assign(packet.decode(m), { size: m.length }) as DecodedPacket & { size: number; rcode: string });
      }
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}
