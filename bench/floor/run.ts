/**
 * Floors: what Node itself costs on this machine for the two things the API server's hardest
 * targets are made of, measured with nothing of k8ts in the way.
 *
 *   1. One HTTPS request/response with a pod-sized JSON body on a keep-alive connection: a
 *      minimal node:https server (JSON.parse the body, JSON.stringify a reply), against node:https
 *      clients and against a raw HTTP/1.1-over-TLS client (what client/http1.ts does); then the
 *      same raw client against a minimal HTTP/1.1 server written over node:tls, which is what a
 *      server without node:http's parser objects and streams could cost.
 *   2. One watch event written to 500 TLS sockets: a minimal node:tls server writing one framed
 *      chunk to each connection, 200 times, 20 ms apart, read by bench/api/c-watcher.c's epoll
 *      clients (4 processes), as in bench/api/run.ts --c-watchers.
 *
 * CPU is user+system of each process, per request or per event.
 * Usage: node --import tsx bench/floor/run.ts [--requests 20000] [--watchers 500] [--events 200]
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCA, issueCertificate } from '../../src/base/pki.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const role = process.argv[2];
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

/** Child: a minimal HTTPS server (request/response floor). */
function httpsServer(dir: string): void {
  const srv = https.createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')), keepAliveTimeout: 65_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const o = JSON.parse(Buffer.concat(chunks).toString());
      o.metadata.resourceVersion = '1';
      const b = JSON.stringify(o);
      res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
      res.end(b);
    });
  });
  srv.listen(0, '127.0.0.1', () => process.send!({ port: (srv.address() as { port: number }).port }));
  process.on('message', (m) => {
    if (m === 'cpu') process.send!({ cpu: process.cpuUsage() });
  });
}

/** Child: the same reply from a minimal HTTP/1.1 server over node:tls (Content-Length bodies only). */
function leanServer(dir: string): void {
  const srv = tls.createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')) }, (sock) => {
    let buf: Buffer | undefined;
    sock.on('data', (d: Buffer) => {
      let b: Buffer = buf ? Buffer.concat([buf, d]) : d;
      buf = b;
      for (;;) {
        const end: number = b.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = b.toString('latin1', 0, end).split('\r\n');
        const headers: Record<string, string> = {};
        for (let i = 1; i < lines.length; i++) {
          const c = lines[i]!.indexOf(':');
          headers[lines[i]!.slice(0, c).toLowerCase()] = lines[i]!.slice(c + 1).trim();
        }
        const len = Number(headers['content-length'] ?? 0);
        if (b.length < end + 4 + len) return;
        const o = JSON.parse(b.toString('utf8', end + 4, end + 4 + len));
        o.metadata.resourceVersion = '1';
        const reply = JSON.stringify(o);
        sock.write(`HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(reply)}\r\nDate: ${new Date().toUTCString()}\r\n\r\n${reply}`);
        if (b.length === end + 4 + len) {
          buf = undefined;
          return;
        }
        b = b.subarray(end + 4 + len);
        buf = b;
      }
    });
    sock.on('error', () => undefined);
  });
  srv.listen(0, '127.0.0.1', () => process.send!({ port: (srv.address() as { port: number }).port }));
  process.on('message', (m) => {
    if (m === 'cpu') process.send!({ cpu: process.cpuUsage() });
  });
}

/** Child: a minimal TLS server that, once `n` clients have sent their request, writes `events` chunks to all of them. */
function fanoutServer(dir: string, n: number, events: number): void {
  const socks: tls.TLSSocket[] = [];
  const srv = tls.createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')), ca: readFileSync(join(dir, 'ca.crt')), requestCert: true }, (s) => {
    s.setNoDelay(true);
    s.on('error', () => undefined);
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
      socks.push(s);
      if (socks.length === n) setTimeout(run, 500);
    });
  });
  srv.listen(0, '127.0.0.1', () => process.send!({ port: (srv.address() as { port: number }).port }));
  const pad = 'x'.repeat(900);
  const run = () => {
    let i = 0;
    const loop: number[] = [];
    const cpu0 = process.cpuUsage();
    const tick = () => {
      const line = JSON.stringify({ type: 'ADDED', object: { kind: 'Pod', metadata: { name: `w-${i}` }, pad } }) + '\n';
      const n = Buffer.byteLength(line);
      const chunk = Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), Buffer.from(line), Buffer.from('\r\n')]);
      const t0 = performance.now();
      for (const s of socks) s.write(chunk);
      loop.push(performance.now() - t0);
      if (++i < events) setTimeout(tick, 20);
      else setTimeout(() => process.send!({ cpuMs: cpuMs(process.cpuUsage(cpu0)), loop }), 200);
    };
    tick();
  };
}

function pki(): string {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-floor-'));
  return dir;
}

async function writePKI(dir: string): Promise<void> {
  const ca = await generateCA('floor-ca');
  const server = await issueCertificate(ca, { commonName: 'localhost', ips: ['127.0.0.1'], dnsNames: ['localhost'], usage: 'server' });
  const client = await issueCertificate(ca, { commonName: 'client', usage: 'client' });
  for (const [n, kp] of [['ca', ca], ['server', server], ['client', client]] as const) {
    writeFileSync(join(dir, `${n}.key`), kp.key);
    writeFileSync(join(dir, `${n}.crt`), kp.cert);
  }
}

function startChild(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(import.meta.url), args, { execArgv: process.execArgv });
  return new Promise((res, rej) => {
    child.once('message', (m: any) => res({ child, port: m.port }));
    child.once('exit', (c) => rej(new Error(`child exited ${c}`)));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function requestFloor(dir: string, requests: number): Promise<void> {
  const pod = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x', namespace: 'default', labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '100m', memory: '100Mi' } } }], nodeSelector: { pad: 'y'.repeat(600) } } });
  const ca = readFileSync(join(dir, 'ca.crt'));
  for (const mode of ['node:https', 'raw TLS', 'raw TLS client, lean server']) {
    const { child, port } = await startChild([mode.endsWith('lean server') ? 'lean-server' : 'https-server', dir]);
    const serverCpu = () => new Promise<number>((r) => { child.once('message', (m: any) => r(cpuMs(m.cpu))); child.send('cpu'); });
    let post: () => Promise<void>;
    if (mode === 'node:https') {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca });
      post = () => new Promise((res, rej) => {
        const req = https.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/namespaces/default/pods', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(pod) } }, (r) => {
          const c: Buffer[] = [];
          r.on('data', (d: Buffer) => c.push(d));
          r.on('end', () => { JSON.parse(Buffer.concat(c).toString()); res(); });
        });
        req.on('error', rej);
        req.end(pod);
      });
    } else {
      const { Http1Pool } = await import('../../src/client/http1.js');
      const pool = new Http1Pool({ host: '127.0.0.1', port, maxSockets: 64, tls: { secureContext: tls.createSecureContext({ ca }), rejectUnauthorized: true } });
      const body = Buffer.from(pod);
      post = async () => {
        const r = await pool.request('POST', '/api/v1/namespaces/default/pods', 'Content-Type: application/json\r\n', body, { abortError: (n) => new Error(n) });
        JSON.parse(r.body.toString());
      };
    }
    let next = 0;
    const batch = async (n: number) => { next = 0; await Promise.all(Array.from({ length: 64 }, async () => { while (next++ < n) await post(); })); };
    await batch(2000);
    const s0 = await serverCpu();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await batch(requests);
    const wall = performance.now() - t0;
    const s1 = await serverCpu();
    const c1 = cpuMs(process.cpuUsage(c0));
    console.log(`request floor, ${mode.endsWith('lean server') ? mode : `${mode} client`}, 64 keep-alive connections: ${Math.round(requests / (wall / 1000))} req/s; server CPU ${((1000 * (s1 - s0)) / requests).toFixed(0)} µs/request, client CPU ${((1000 * c1) / requests).toFixed(0)} µs/request`);
    child.kill();
  }
}

async function fanoutFloor(dir: string, watchers: number, events: number): Promise<void> {
  const src = resolve('bench/api/c-watcher.c');
  const bin = join(tmpdir(), `k8ts-bench-c-watcher-${createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 12)}`);
  if (!existsSync(bin)) execFileSync('cc', ['-O2', '-pthread', '-o', bin, src, '-lssl', '-lcrypto'], { stdio: 'inherit' });
  const { child, port } = await startChild(['fanout-server', dir, String(watchers), String(events)]);
  const done = new Promise<{ cpuMs: number; loop: number[] }>((r) => child.on('message', (m: any) => m.cpuMs !== undefined && r(m)));
  const clients = Array.from({ length: 4 }, (_, i) => {
    const n = Math.floor(watchers / 4) + (i < watchers % 4 ? 1 : 0);
    return spawn(bin, [String(port), '/watch', String(n), join(dir, 'ca.crt'), join(dir, 'client.crt'), join(dir, 'client.key')], { stdio: ['pipe', 'ignore', 'inherit'] });
  });
  const r = await done;
  for (const c of clients) c.kill();
  child.kill();
  console.log(`fan-out floor, one event to ${watchers} TLS sockets (C epoll readers on the same cores), ${events} events 20 ms apart: server CPU ${(r.cpuMs / events).toFixed(1)} ms/event (${((1000 * r.cpuMs) / events / watchers).toFixed(1)} µs/socket); the write loop's own time, median ${median(r.loop).toFixed(1)} ms`);
}

if (role === 'https-server') httpsServer(process.argv[3]);
else if (role === 'lean-server') leanServer(process.argv[3]);
else if (role === 'fanout-server') fanoutServer(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else {
  const dir = pki();
  try {
    await writePKI(dir);
    await requestFloor(dir, arg('requests', 20000));
    await fanoutFloor(dir, arg('watchers', 500), arg('events', 200));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
