// The kubelet server's protocols against a stand-in for containerd's stream server (SPDY, as the
// kubelet dials it): kubectl's WebSocket v5/v4/base64 and SPDY v4 sides, the exit status, stdin
// half-close, resize, port-forward relaying, and who may connect. No root or containerd needed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { generateCA, issueCertificate, type KeyPairPEM } from '../../base/pki.js';
import { startKubeletServer, type KubeletServer } from './kubelet-server.js';
import { SpdySession, type SpdyStream } from './spdy.js';
import { socketTransport } from './runtime-stream.js';

/**
 * A fake runtime stream server. /exec/<cmd>: for "upper", stdout gets stdin upper-cased once
 * stdin ends, then the status (exit 7 when stdin was "fail"); for "resize", stdout gets the
 * resize messages. /portforward: each data stream echoes with a prefix naming its port.
 */
function fakeRuntime(): Promise<{ url: string; close(): void; seen: string[] }> {
  const seen: string[] = [];
  const sockets = new Set<import('node:stream').Duplex>();
  const server = http.createServer((_req, res) => res.writeHead(400).end('upgrade only'));
  server.on('upgrade', (req, socket, head) => {
    const proto = String(req.headers['x-stream-protocol-version'] ?? '');
    seen.push(`${req.url} ${proto}`);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${proto.split(',')[0]}\r\n\r\n`);
    sockets.add(socket);
    const session = new SpdySession({ role: 'server', transport: socketTransport(socket) });
    socket.on('data', (d: Buffer) => session.feed(d));
    socket.on('end', () => session.transportClosed());
    socket.on('close', () => session.transportClosed());
    if (head.length) session.feed(head);
    const streams = new Map<string, SpdyStream>();
    session.on('stream', (s: SpdyStream) => {
      s.reply();
      if (req.url!.startsWith('/portforward')) {
        if (s.header('streamtype') === 'data') {
          s.on('data', (b: Buffer) => s.write(Buffer.concat([Buffer.from(`${s.header('port')}:`), b])));
          s.on('end', () => s.end());
        } else s.on('end', () => s.end());
        return;
      }
      streams.set(s.header('streamtype')!, s);
      const cmd = req.url!.split('/')[2];
      if (cmd === 'upper' && s.header('streamtype') === 'stdin') {
        const parts: Buffer[] = [];
        s.on('data', (b: Buffer) => parts.push(b));
        s.on('end', () => {
          const text = Buffer.concat(parts).toString();
          streams.get('stdout')!.end(Buffer.from(text.toUpperCase()));
          streams.get('stderr')?.end(Buffer.from('to stderr'));
          const status =
            text.trim() === 'fail'
              ? { metadata: {}, status: 'Failure', message: 'x', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '7' }] } }
              : { metadata: {}, status: 'Success' };
          streams.get('error')!.end(Buffer.from(JSON.stringify(status)));
          setTimeout(() => session.destroy(), 20);
        });
      }
      if (cmd === 'resize' && s.header('streamtype') === 'resize') {
        s.on('data', (b: Buffer) => {
          streams.get('stdout')!.end(b);
          streams.get('error')!.end();
          setTimeout(() => session.destroy(), 20);
        });
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        seen,
        close: () => {
          for (const s of sockets) s.destroy();
          server.closeAllConnections();
          server.close();
        },
      });
    }),
  );
}

/** A minimal WebSocket client (masked binary frames out, unmasked frames in) carrying SPDY. */
function rawWebSocketSpdy(port: number, path: string, id: KeyPairPEM): Promise<SpdySession> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port,
      path,
      rejectUnauthorized: false,
      cert: id.cert,
      key: id.key,
      agent: false,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'Sec-WebSocket-Protocol': 'SPDY/3.1+portforward.k8s.io' },
    });
    req.on('response', (res) => reject(new Error(`status ${res.statusCode}`)));
    req.on('error', reject);
    req.on('upgrade', (res, socket, head) => {
      assert.equal(res.headers['sec-websocket-protocol'], 'SPDY/3.1+portforward.k8s.io');
      const send = (payload: Buffer) => {
        const mask = randomBytes(4);
        const len = payload.length;
        const h = len < 126 ? Buffer.from([0x82, 0x80 | len]) : Buffer.from([0x82, 0x80 | 126, len >> 8, len & 255]);
        const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
        socket.write(Buffer.concat([h, mask, body]));
      };
      const session = new SpdySession({ role: 'client', transport: { write: send, end: () => socket.end() } });
      let buf = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          if (buf.length < 2) return;
          let len = buf[1]! & 0x7f;
          let off = 2;
          if (len === 126) [len, off] = [buf.readUInt16BE(2), 4];
          else if (len === 127) [len, off] = [Number(buf.readBigUInt64BE(2)), 10];
          if (buf.length < off + len) return;
          const opcode = buf[0]! & 0x0f;
          if (opcode === 2) session.feed(buf.subarray(off, off + len));
          buf = buf.subarray(off + len);
        }
      };
      socket.on('data', onData);
      socket.on('end', () => session.transportClosed());
      socket.on('close', () => session.transportClosed());
      if (head.length) onData(head);
      resolve(session);
    });
    req.end();
  });
}

describe('the kubelet server against a stand-in runtime', () => {
  let ca: KeyPairPEM;
  let client: KeyPairPEM;
  let stranger: KeyPairPEM;
  let master: KeyPairPEM;
  let runtime: Awaited<ReturnType<typeof fakeRuntime>>;
  let server: KubeletServer;
  const attached: string[] = [];

  before(async () => {
    ca = await generateCA('test-ca');
    client = await issueCertificate(ca, { commonName: 'kube-apiserver-kubelet-client', usage: 'client' });
    stranger = await issueCertificate(ca, { commonName: 'someone', usage: 'client' });
    master = await issueCertificate(ca, { commonName: 'admin', organizations: ['system:masters'], usage: 'client' });
    runtime = await fakeRuntime();
    server = await startKubeletServer({
      host: '127.0.0.1',
      port: 0,
      clientCA: ca.cert,
      runtime: {
        exec: async (_id, cmd) => `${runtime.url}/exec/${cmd[0]}`,
        attach: async (id) => (attached.push(id), `${runtime.url}/exec/upper`),
        portForward: async () => `${runtime.url}/portforward`,
        execSync: async () => ({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 }),
        containerStatus: async (id) => ({ id, state: 'CONTAINER_EXITED', exitCode: 9 }) as any,
      },
      lookup: (ns, pod) => (ns === 'default' && pod === 'p' ? { uid: 'u', sandboxId: 'sb', containers: [{ name: 'c', id: 'cid', logPath: '/nonexistent/0.log' }] } : undefined),
    });
  });

  after(async () => {
    await server?.close();
    runtime?.close();
  });

  const wsExec = (path: string, protocols: string[], id: KeyPairPEM = client) =>
    new WebSocket(`wss://127.0.0.1:${server.port}${path}`, protocols, { rejectUnauthorized: false, cert: id.cert, key: id.key });

  /** Runs a WebSocket session: sends `send` after open, collects channel output until close. */
  const wsSession = (ws: WebSocket, send: (ws: WebSocket) => void) =>
    new Promise<{ channels: Record<number, string>; code: number; protocol: string }>((resolve, reject) => {
      const channels: Record<number, string> = {};
      ws.on('message', (m: Buffer, isBinary) => {
        let ch: number;
        let data: Buffer;
        if (isBinary) [ch, data] = [m[0]!, m.subarray(1)];
        else [ch, data] = [m[0]! - 48, Buffer.from(m.subarray(1).toString(), 'base64')];
        channels[ch] = (channels[ch] ?? '') + data.toString();
      });
      ws.on('open', () => send(ws));
      ws.on('close', (code) => resolve({ channels, code, protocol: ws.protocol }));
      ws.on('error', reject);
    });

  it('runs exec over WebSocket v5: stdin ends with the 255 close signal, and the exit code arrives on channel 3 before a normal close', async () => {
    const r = await wsSession(wsExec('/exec/default/p/c?command=upper&stdin=true&stdout=true&stderr=true', ['v5.channel.k8s.io']), (ws) => {
      ws.send(Buffer.from([0, ...Buffer.from('fail\n')]));
      ws.send(Buffer.from([255, 0]));
    });
    assert.equal(r.protocol, 'v5.channel.k8s.io');
    assert.equal(r.code, 1000);
    assert.equal(r.channels[1], 'FAIL\n');
    assert.equal(r.channels[2], 'to stderr');
    const st = JSON.parse(r.channels[3]!);
    assert.equal(st.reason, 'NonZeroExitCode');
    assert.deepEqual(st.details.causes, [{ reason: 'ExitCode', message: '7' }]);
  });

  it('answers WebSocket pings with pongs', async () => {
    const ws = wsExec('/exec/default/p/c?command=resize&stdout=true&tty=true', ['v5.channel.k8s.io']);
    await new Promise((r) => ws.once('open', r));
    const pong = new Promise<Buffer>((r) => ws.once('pong', r));
    ws.ping(Buffer.from('hb'));
    assert.equal((await pong).toString(), 'hb');
    ws.send(Buffer.from([4, ...Buffer.from('{"Width":80,"Height":24}\n')]));
    await new Promise((r) => ws.once('close', r));
  });

  it('passes the TTY size from the resize channel to the runtime’s resize stream', async () => {
    const r = await wsSession(wsExec('/exec/default/p/c?command=resize&stdout=true&tty=true&stderr=true', ['v4.channel.k8s.io']), (ws) => ws.send(Buffer.from([4, ...Buffer.from('{"Width":100,"Height":30}')])));
    assert.equal(r.protocol, 'v4.channel.k8s.io');
    assert.equal(r.channels[1], '{"Width":100,"Height":30}');
    assert.deepEqual(JSON.parse(r.channels[3]!), { metadata: {}, status: 'Success' });
  });

  it('speaks the base64 variant with text messages', async () => {
    // v4 cannot half-close stdin; closing ends the session, so use the resize command.
    const r = await wsSession(wsExec('/exec/default/p/c?command=resize&stdout=true&tty=true', ['v4.base64.channel.k8s.io']), (ws) => ws.send('4' + Buffer.from('{"Width":1,"Height":2}').toString('base64')));
    assert.equal(r.protocol, 'v4.base64.channel.k8s.io');
    assert.equal(r.channels[1], '{"Width":1,"Height":2}');
  });

  /** A raw SPDY upgrade to the kubelet; returns the session and the 101's headers. */
  const spdyDial = (path: string, protocols: string, id: KeyPairPEM = client) =>
    new Promise<{ session: SpdySession; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: server.port, path, method: 'POST', rejectUnauthorized: false, cert: id.cert, key: id.key, agent: false, headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols } });
      req.on('response', (res) => reject(new Error(`status ${res.statusCode}`)));
      req.on('upgrade', (res, socket, head) => {
        const session = new SpdySession({ role: 'client', transport: socketTransport(socket) });
        socket.on('data', (d: Buffer) => session.feed(d));
        socket.on('end', () => session.transportClosed());
        socket.on('close', () => session.transportClosed());
        if (head.length) session.feed(head);
        resolve({ session, headers: res.headers });
      });
      req.on('error', reject);
      req.end();
    });

  const read = (s: SpdyStream) =>
    new Promise<string>((resolve) => {
      let t = '';
      s.on('data', (b: Buffer) => (t += b));
      s.on('end', () => resolve(t));
      s.on('close', () => resolve(t));
    });

  it('runs exec over SPDY v4 with a half-closed stdin stream, and attach reports the container’s exit code', async () => {
    for (const [path, code] of [
      ['/exec/default/p/c?command=upper&stdin=true&stdout=true&stderr=true', undefined],
      ['/attach/default/p/c?stdin=true&stdout=true&stderr=true', '9'],
    ] as const) {
      const { session, headers } = await spdyDial(path, 'v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io');
      assert.equal(headers['x-stream-protocol-version'], 'v4.channel.k8s.io');
      const error = session.open({ streamtype: ['error'] });
      const stdin = session.open({ streamtype: ['stdin'] });
      const stdout = session.open({ streamtype: ['stdout'] });
      const stderr = session.open({ streamtype: ['stderr'] });
      stdin.end(Buffer.from('hello'));
      const [out, err, status] = await Promise.all([read(stdout), read(stderr), read(error)]);
      assert.equal(out, 'HELLO');
      assert.equal(err, 'to stderr');
      const st = JSON.parse(status);
      if (code) assert.equal(st.details.causes[0].message, code);
      else assert.equal(st.status, 'Success');
      session.goAway();
      session.destroy();
    }
    assert.deepEqual(attached, ['cid']);
  });

  it('relays port-forward streams to the runtime, raw and tunnelled in WebSocket', async () => {
    const { session } = await spdyDial('/portForward/default/p', 'portforward.k8s.io');
    const results: string[] = [];
    for (const [rid, port] of [['0', '80'], ['1', '8080']]) {
      const e = session.open({ streamtype: ['error'], port: [port!], requestid: [rid!] });
      e.end();
      const d = session.open({ streamtype: ['data'], port: [port!], requestid: [rid!] });
      d.end(Buffer.from('ping'));
      results.push(await read(d));
    }
    assert.deepEqual(results, ['80:ping', '8080:ping']);
    session.destroy();

    // `ws` refuses a subprotocol with a '/', as kubectl sends it: a hand-made client frames it.
    const tunnel = await rawWebSocketSpdy(server.port, '/portForward/default/p', client);
    tunnel.open({ streamtype: ['error'], port: ['53'], requestid: ['0'] }).end();
    const d = tunnel.open({ streamtype: ['data'], port: ['53'], requestid: ['0'] });
    d.end(Buffer.from('dns?'));
    assert.equal(await read(d), '53:dns?');
    tunnel.destroy();
    assert.ok(runtime.seen.some((s) => s.startsWith('/portforward portforward.k8s.io')));
  });

  const get = (path: string, id?: KeyPairPEM) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: server.port, path, rejectUnauthorized: false, agent: false, ...(id ? { cert: id.cert, key: id.key } : {}) }, (res) => {
          let t = '';
          res.on('data', (d) => (t += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: t }));
        })
        .on('error', reject);
    });

  it('admits the kubelet-client CN and system:masters, and refuses others with 401 or 403', async () => {
    assert.equal((await get('/healthz')).status, 401);
    assert.equal((await get('/healthz', stranger)).status, 403);
    assert.equal((await get('/healthz', client)).status, 200);
    assert.equal((await get('/healthz', master)).status, 200);
    const other = await generateCA('other-ca');
    const foreign = await issueCertificate(other, { commonName: 'kube-apiserver-kubelet-client', usage: 'client' });
    assert.equal((await get('/healthz', foreign)).status, 401);
  });

  it('answers 404 Status for unknown pods and containers, and 400 for missing streams or commands', async () => {
    const cases: [string, number, RegExp][] = [
      ['/containerLogs/default/nope/c', 404, /pod "nope" not found/],
      ['/containerLogs/default/p/x', 404, /container "x" in pod "p" not found/],
      ['/containerLogs/default/p/c', 404, /log file/],
      ['/exec/default/p/c?command=ls&stdout=true', 400, /Upgrade request required/],
      ['/nothing', 404, /could not find/],
    ];
    for (const [path, code, msg] of cases) {
      const r = await get(path, client);
      assert.equal(r.status, code, `${path}: ${r.body}`);
      assert.match(JSON.parse(r.body).message, msg);
    }
    for (const [path, msg] of [
      ['/exec/default/p/c?stdout=true', /you must specify at least one command for the container/],
      ['/exec/default/p/c?command=ls', /you must specify at least 1 of stdin, stdout, stderr/],
    ] as const) {
      const r = await new Promise<string>((resolve) => {
        const ws = wsExec(path, ['v5.channel.k8s.io']);
        ws.on('unexpected-response', (_req, res) => {
          let t = `${res.statusCode} `;
          res.on('data', (d) => (t += d));
          res.on('end', () => resolve(t));
        });
        ws.on('error', () => undefined);
      });
      assert.match(r, /^400 /);
      assert.match(r, msg);
    }
  });

  it('serves TLS with a self-made certificate when given none', async () => {
    const cert = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false }, () => {
        resolve(s.getPeerCertificate());
        s.end();
      });
      s.on('error', reject);
    });
    assert.match(cert.subjectaltname ?? '', /IP Address:127\.0\.0\.1/);
  });
});
