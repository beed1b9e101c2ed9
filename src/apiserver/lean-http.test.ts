import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { generateCA, issueCertificate } from '../base/pki.js';
import { readBody } from './endpoints/negotiation.js';
import { LeanFront, LeanRequest } from './lean-http.js';

/** An https.Server with the lean front: every answer says which layer served it, the method, path and body. */
async function serve(): Promise<{ port: number; ca: string; front: LeanFront; close(): Promise<void> }> {
  const ca = await generateCA('lean-ca');
  const cert = await issueCertificate(ca, { commonName: 'localhost', ips: ['127.0.0.1'], usage: 'server' });
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    readBody(req).then(async (body) => {
      if (req.url === '/slow') await new Promise((r) => setTimeout(r, 50));
      const layer = req instanceof LeanRequest ? 'lean' : 'node';
      if (req.url === '/inject') {
        try {
          res.setHeader('Warning', 'a\r\nX-Evil: 1');
        } catch (e) {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end((e as NodeJS.ErrnoException).code);
          return;
        }
      }
      res.writeHead(req.url === '/none' ? 204 : 200, { 'Content-Type': 'text/plain', 'X-Layer': layer });
      res.end(req.url === '/none' ? undefined : `${layer} ${req.method} ${req.url} ${body.toString()}`);
    });
  };
  const srv = https.createServer({ key: cert.key, cert: cert.cert, keepAliveTimeout: 65_000 }, handle);
  srv.on('upgrade', (req: IncomingMessage, sock, head: Buffer) => {
    sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n');
    sock.write(`upgraded ${req.url} ${head.toString()}`);
    sock.end();
  });
  const front = new LeanFront(srv, handle);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as AddressInfo).port,
    ca: ca.cert,
    front,
    close: () =>
      new Promise<void>((r) => {
        srv.close(() => r());
        srv.closeAllConnections();
        front.closeAll();
      }),
  };
}

/** A raw TLS connection: send bytes, collect what comes back until `until` matches or the connection ends. */
async function connect(port: number, ca: string) {
  const sock = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  await new Promise<void>((r, j) => sock.once('secureConnect', r).once('error', j));
  let got = '';
  let ended = false;
  sock.on('data', (d) => (got += d.toString('latin1')));
  sock.on('end', () => (ended = true));
  sock.on('close', () => (ended = true));
  return {
    sock,
    async exchange(bytes: string, until: RegExp): Promise<string> {
      got = '';
      sock.write(bytes);
      for (let i = 0; i < 200 && !until.test(got) && !ended; i++) await new Promise((r) => setTimeout(r, 10));
      return got;
    },
    ended: () => ended,
  };
}

/** The answers' bodies in a stream of responses (node:http's may be chunked). */
const bodies = (text: string) => [...text.matchAll(/(?:lean|node) (?:GET|POST|PUT|PATCH|DELETE) [^\r]*?(?=\r\n|HTTP\/1\.1|$)/g)].map((m) => m[0]);

test('lean front: plain requests are served by it, in order when pipelined, with their bodies and kept alive', async () => {
  const s = await serve();
  const c = await connect(s.port, s.ca);
  try {
    const one = await c.exchange('GET /api/v1/pods HTTP/1.1\r\nHost: x\r\n\r\n', /lean GET/);
    assert.match(one, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(one, /\r\nX-Layer: lean\r\n/);
    assert.match(one, /\r\nContent-Length: 22\r\n/);
    assert.match(one, /\r\nConnection: keep-alive\r\n/);
    assert.match(one, /\r\nDate: /);
    const two = await c.exchange(
      'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloDELETE /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}',
      /lean DELETE \/b \{\}/,
    );
    assert.deepEqual(bodies(two), ['lean POST /a hello', 'lean DELETE /b {}']);
    // A pipelined request waits for the slow one before it: answers keep the requests' order.
    const ordered = await c.exchange('GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n', /lean GET \/fast/);
    assert.deepEqual(bodies(ordered), ['lean GET /slow ', 'lean GET /fast ']);
    const none = await c.exchange('GET /none HTTP/1.1\r\nHost: x\r\n\r\n', /\r\n\r\n$/);
    assert.match(none, /^HTTP\/1\.1 204 No Content\r\n/);
    assert.doesNotMatch(none, /Content-Length/);
    assert.equal(s.front.connections.size, 1);
  } finally {
    c.sock.destroy();
    await s.close();
  }
});

test('lean front: a body arriving in pieces is waited for; Connection: close ends the connection after the answer', async () => {
  const s = await serve();
  const c = await connect(s.port, s.ca);
  try {
    c.sock.write('PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc');
    await new Promise((r) => setTimeout(r, 30));
    const got = await c.exchange('def', /lean PUT/);
    assert.deepEqual(bodies(got), ['lean PUT /p abcdef']);
    const last = await c.exchange('GET /q HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', /lean GET \/q/);
    assert.match(last, /\r\nConnection: close\r\n/);
    for (let i = 0; i < 100 && !c.ended(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(c.ended(), 'the server closed the connection');
  } finally {
    c.sock.destroy();
    await s.close();
  }
});

test('lean front: watches, proxies, chunked bodies, Expect and malformed requests go to node:http with the rest of the connection', async () => {
  const s = await serve();
  try {
    // A watch after a plain request on the same connection: node:http serves it and what follows.
    const c = await connect(s.port, s.ca);
    const first = await c.exchange('GET /x HTTP/1.1\r\nHost: x\r\n\r\n', /lean GET/);
    assert.match(first, /X-Layer: lean/);
    const rest = await c.exchange('GET /api/v1/pods?watch=true HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n', /node GET \/after/);
    assert.deepEqual(bodies(rest), ['node GET /api/v1/pods?watch=true ', 'node GET /after ']);
    assert.equal(s.front.connections.size, 0, 'the connection left the lean front');
    c.sock.destroy();

    const cases: [string, RegExp][] = [
      ['GET /api/v1/namespaces/d/pods/p/log?follow=true HTTP/1.1\r\nHost: x\r\n\r\n', /node GET \/api\/v1\/namespaces\/d\/pods\/p\/log/],
      ['GET /api/v1/nodes/n/proxy/stats HTTP/1.1\r\nHost: x\r\n\r\n', /node GET \/api\/v1\/nodes\/n\/proxy\/stats/],
      ['GET /api/v1/watch/pods HTTP/1.1\r\nHost: x\r\n\r\n', /node GET \/api\/v1\/watch\/pods/],
      ['GET /api/v1/pods?limit=1&wat%63h=1 HTTP/1.1\r\nHost: x\r\n\r\n', /node GET \/api\/v1\/pods\?limit=1&wat%63h=1/],
      ['GET /api/v1/namespaces/d/pods/p/l%6fg HTTP/1.1\r\nHost: x\r\n\r\n', /node GET \/api\/v1\/namespaces\/d\/pods\/p\/l%6fg/],
      ['POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', /node POST \/c abc/],
      ['POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok', /node POST \/e ok/],
      ['HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 200 OK[\s\S]*X-Layer: node/],
      ['GET /v HTTP/1.0\r\nHost: x\r\n\r\n', /node GET \/v/],
      ['GET /dup HTTP/1.1\r\nHost: x\r\nAccept: a\r\nAccept: b\r\n\r\n', /node GET \/dup/],
      ['BOGUS\r\n\r\n', /^HTTP\/1\.1 400 Bad Request/],
      ['GET /nohost HTTP/1.1\r\n\r\n', /^HTTP\/1\.1 400 Bad Request/],
      ['GET /sp HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n', /^HTTP\/1\.1 400 Bad Request/],
      ['GET /ctl HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n', /^HTTP\/1\.1 400 Bad Request/],
      [`GET /big HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
    ];
    for (const [req, want] of cases) {
      const k = await connect(s.port, s.ca);
      try {
        assert.match(await k.exchange(req, want), want, req.slice(0, 60));
      } finally {
        k.sock.destroy();
      }
    }
  } finally {
    await s.close();
  }
});

test('lean front: an upgrade goes to node:http with its head bytes; a header value with CR LF is refused', async () => {
  const s = await serve();
  try {
    const c = await connect(s.port, s.ca);
    const up = await c.exchange('GET /api/v1/namespaces/d/pods/p/exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nEARLY', /upgraded/);
    assert.match(up, /^HTTP\/1\.1 101 /);
    assert.match(up, /upgraded \/api\/v1\/namespaces\/d\/pods\/p\/exec EARLY/);
    c.sock.destroy();
    const k = await connect(s.port, s.ca);
    const bad = await k.exchange('GET /inject HTTP/1.1\r\nHost: x\r\n\r\n', /ERR_INVALID_CHAR/);
    assert.match(bad, /^HTTP\/1\.1 500 /);
    assert.doesNotMatch(bad, /X-Evil/);
    k.sock.destroy();
  } finally {
    await s.close();
  }
});
