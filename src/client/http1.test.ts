import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { Http1Pool } from './http1.js';
import { RestClient } from './rest-client.js';

/** A TCP server answering each request (read up to its blank line and body) with `reply(n, request)`'s bytes, possibly in pieces. */
async function scripted(reply: (n: number, req: string, sock: net.Socket) => void): Promise<{ port: number; requests: string[]; connections: () => number; close(): Promise<void> }> {
  const requests: string[] = [];
  let conns = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    conns++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        const req = buf.slice(0, end + 4 + len);
        buf = buf.slice(end + 4 + len);
        requests.push(req);
        reply(requests.length, req, sock);
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    requests,
    connections: () => conns,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

const abortError = (name: 'AbortError' | 'TimeoutError') => Object.assign(new Error(name), { name });

test('http1: Content-Length, chunked (in pieces), interim, HEAD and read-to-close responses, on one kept-alive connection', async () => {
  const s = await scripted((n, _req, sock) => {
    if (n === 1) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
    else if (n === 2) {
      sock.write('HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab');
      setTimeout(() => sock.write('c\r\n4;ext=1\r\ndefg\r\n0\r\n'), 5);
      setTimeout(() => sock.write('\r\n'), 10);
    } else if (n === 3) sock.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n');
    else if (n === 4) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n');
    else if (n === 5) sock.end('HTTP/1.0 200 OK\r\n\r\nuntil close');
  });
  const pool = new Http1Pool({ host: '127.0.0.1', port: s.port, maxSockets: 4 });
  try {
    const r1 = await pool.request('GET', '/a', 'Accept: application/json\r\n', undefined, { abortError });
    assert.deepEqual([r1.status, r1.body.toString()], [200, 'hello']);
    const r2 = await pool.request('POST', '/b', '', Buffer.from('{"x":1}'), { abortError });
    assert.deepEqual([r2.status, r2.body.toString()], [201, 'abcdefg']);
    const r3 = await pool.request('DELETE', '/c', '', undefined, { abortError });
    assert.deepEqual([r3.status, r3.body.length], [204, 0]);
    const head = await pool.request('HEAD', '/h', '', undefined, { abortError });
    assert.deepEqual([head.status, head.body.length], [200, 0], 'a HEAD response has no body, whatever its Content-Length');
    const r4 = await pool.request('GET', '/d', '', undefined, { abortError });
    assert.deepEqual([r4.status, r4.body.toString()], [200, 'until close']);
    assert.equal(s.connections(), 1, 'the first five requests share one connection');
    assert.match(s.requests[0], /^GET \/a HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\nAccept: application\/json\r\n\r\n$/);
    assert.match(s.requests[1], /^POST \/b HTTP\/1\.1\r\nHost: [^\r]+\r\nContent-Length: 7\r\n\r\n\{"x":1\}$/);
    assert.match(s.requests[2], /Content-Length: 0\r\n/, 'a bodiless DELETE says so');
  } finally {
    pool.destroy();
    await s.close();
  }
});

test('http1: at most maxSockets connections; further requests wait for one to come free', async () => {
  const held: net.Socket[] = [];
  const s = await scripted((_n, _req, sock) => {
    held.push(sock);
  });
  const pool = new Http1Pool({ host: '127.0.0.1', port: s.port, maxSockets: 2 });
  try {
    const rs = [0, 1, 2, 3].map((i) => pool.request('GET', `/${i}`, '', undefined, { abortError }));
    while (held.length < 2) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(held.length, 2, 'two in flight, two waiting');
    for (let answered = 0; answered < 4; answered++) {
      while (held.length <= answered) await new Promise((r) => setTimeout(r, 5));
      held[answered].write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    }
    assert.deepEqual((await Promise.all(rs)).map((r) => r.body.toString()), ['ok', 'ok', 'ok', 'ok']);
    assert.equal(s.connections(), 2);
  } finally {
    pool.destroy();
    await s.close();
  }
});

test('http1: timeout and abort end the request and the connection; malformed responses are errors', async () => {
  const s = await scripted((n, _req, sock) => {
    if (n === 3) sock.write('SPDY/3 what\r\n\r\n');
    if (n === 4) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA');
  });
  const pool = new Http1Pool({ host: '127.0.0.1', port: s.port, maxSockets: 4 });
  try {
    await assert.rejects(pool.request('GET', '/slow', '', undefined, { abortError, timeoutMs: 50 }), { name: 'TimeoutError' });
    const ac = new AbortController();
    const p = pool.request('GET', '/abort', '', undefined, { abortError, signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(p, { name: 'AbortError' });
    await assert.rejects(pool.request('GET', '/bad', '', undefined, { abortError }), /malformed status line/);
    await assert.rejects(pool.request('GET', '/extra', '', undefined, { abortError }), /unexpected bytes/);
  } finally {
    pool.destroy();
    await s.close();
  }
});

test('RestClient: a kept-alive connection the server closed while idle is retried once on a new one; Status errors decode', async () => {
  const s = await scripted((n, _req, sock) => {
    if (n === 1) {
      // Answer, then close the connection a moment later, as an idle timeout would.
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}');
      setTimeout(() => sock.destroy(), 20);
    } else if (n === 2) {
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'pods "x" not found', reason: 'NotFound', code: 404 });
      sock.write(`HTTP/1.1 404 Not Found\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    }
  });
  const c = new RestClient({ server: `http://127.0.0.1:${s.port}`, userAgent: 'test-agent', token: 'abc' });
  try {
    assert.deepEqual(await c.request('GET', '/x'), { ok: true });
    await new Promise((r) => setTimeout(r, 60));
    await assert.rejects(c.request('GET', '/api/v1/namespaces/default/pods/x'), (e: any) => e.status?.reason === 'NotFound' && e.code === 404);
    assert.equal(s.connections(), 2);
    assert.match(s.requests[0], /User-Agent: test-agent\r\nAuthorization: Bearer abc\r\n/);
  } finally {
    c.close();
    await s.close();
  }
});

test('RestClient: after a pause in which the server closed every idle connection, the retry goes to a new one', async () => {
  const s = await scripted((n, _req, sock) => {
    sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}');
    // The first three connections are closed soon after their answer, as an idle timeout would.
    if (n <= 3) setTimeout(() => sock.destroy(), 20);
  });
  const c = new RestClient({ server: `http://127.0.0.1:${s.port}`, userAgent: 'test-agent' });
  try {
    await Promise.all([c.request('GET', '/a'), c.request('GET', '/b'), c.request('GET', '/c')]);
    assert.equal(s.connections(), 3);
    // This process is busy while the server closes them, so it has not yet seen them close.
    const until = Date.now() + 150;
    while (Date.now() < until);
    assert.deepEqual(await c.request('GET', '/d'), { ok: true });
    assert.equal(s.connections(), 4, 'one new connection, after one attempt on a closed one');
  } finally {
    c.close();
    await s.close();
  }
});

test('RestClient: an idle pooled connection does not keep the process alive (unref while idle)', async () => {
  const s = await scripted((_n, _req, sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}'));
  try {
    // A process that makes a request and never closes its client must still exit by itself.
    const code = `import { RestClient } from ${JSON.stringify(new URL('./rest-client.ts', import.meta.url).pathname)};
const c = new RestClient({ server: 'http://127.0.0.1:${s.port}' });
await c.request('GET', '/');
console.log('done');`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_TEST_CONTEXT: undefined } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const [exitCode, signal] = await new Promise<[number | null, string | null]>((r) => child.on('exit', (c, sg) => r([c, sg])));
    clearTimeout(timer);
    assert.equal(out.trim(), 'done');
    assert.deepEqual([exitCode, signal], [0, null], 'exited by itself, with the idle connection open');
  } finally {
    await s.close();
  }
});

test('http1: large bodies, by length and chunked, arrive whole', async () => {
  const big = Buffer.alloc(5 * 1024 * 1024, 'a');
  big.write('start', 0);
  big.write('end', big.length - 3);
  const s = await scripted((n, _req, sock) => {
    if (n === 1) {
      sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`);
      for (let i = 0; i < big.length; i += 100_000) sock.write(big.subarray(i, i + 100_000));
    } else {
      sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      for (let i = 0; i < big.length; i += 300_000) {
        const part = big.subarray(i, i + 300_000);
        sock.write(`${part.length.toString(16)}\r\n`);
        sock.write(part);
        sock.write('\r\n');
      }
      sock.write('0\r\n\r\n');
    }
  });
  const pool = new Http1Pool({ host: '127.0.0.1', port: s.port, maxSockets: 1 });
  try {
    const r1 = await pool.request('GET', '/len', '', undefined, { abortError });
    assert.ok(r1.body.equals(big));
    const r2 = await pool.request('GET', '/chunked', '', undefined, { abortError });
    assert.ok(r2.body.equals(big));
  } finally {
    pool.destroy();
    await s.close();
  }
});
