import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SqliteBackend } from '../storage/sqlite/sqlite-backend.js';
import { APIServer } from './apiserver.js';
import { builtinStrategies } from './registry/index.js';

/** A request to the in-process server: status and parsed JSON body. */
function request(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const r = http.request({ host: '127.0.0.1', port, method, path, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {} }, (m) => {
      let text = '';
      m.setEncoding('utf8');
      m.on('data', (c) => (text += c));
      m.on('end', () => resolve({ status: m.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, text }));
    });
    r.on('error', reject);
    r.end(payload);
  });
}

/** Open a watch; collects the parsed event lines (the http client undoes the chunk framing). */
function watch(port: number, path: string): Promise<{ events: any[]; lines: string[]; close(): void }> {
  return new Promise((resolve, reject) => {
    const events: any[] = [];
    const lines: string[] = [];
    let buf = '';
    const r = http.get({ host: '127.0.0.1', port, path }, (m) => {
      m.setEncoding('utf8');
      m.on('data', (c: string) => {
        buf += c;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          lines.push(line);
          events.push(JSON.parse(line));
        }
      });
      m.on('error', () => undefined);
      resolve({ events, lines, close: () => r.destroy() });
    });
    r.on('error', reject);
  });
}

async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('APIServer writes and watch streams', () => {
  let backend: SqliteBackend;
  let server: http.Server;
  let port: number;
  before(async () => {
    backend = SqliteBackend.open({ path: ':memory:' });
    const api = new APIServer({
      backend,
      strategies: builtinStrategies({ serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 32767] }),
      authenticator: { authenticate: () => ({ username: 'admin', groups: ['system:masters'] }) },
      externalAddress: '127.0.0.1:0',
    });
    server = http.createServer(api.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await backend.close();
  });

  it('many writes committed together reach every watcher complete, in revision order, as the objects the server returned', async () => {
    const from = String(await backend.currentRevision());
    const watchers = await Promise.all([0, 1, 2].map(() => watch(port, `/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=${from}`)));
    // Issued together, so the writes share storage commits and each watcher gets them in batches.
    const n = 60;
    const created = await Promise.all(
      Array.from({ length: n }, (_, i) => request(port, 'POST', '/api/v1/namespaces/w/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `c${i}`, labels: { i: String(i) } }, data: { k: `v${i}`, u: 'ÿ € \u0001' } })),
    );
    for (const c of created) assert.equal(c.status, 201, c.text);
    const updated = await request(port, 'PUT', '/api/v1/namespaces/w/configmaps/c0', { ...created[0]!.body, data: { k: 'changed' } });
    assert.equal(updated.status, 200, updated.text);
    for (const w of watchers) await until('all events', () => w.events.length === n + 1);
    const want = [...created.map((c) => ({ type: 'ADDED', object: c.body })), { type: 'MODIFIED', object: updated.body }].sort(
      (a, b) => Number(a.object.metadata.resourceVersion) - Number(b.object.metadata.resourceVersion),
    );
    for (const w of watchers) {
      assert.deepEqual(w.events, want);
      w.close();
    }
    // The response is the stored object: a GET gives the same.
    const got = await request(port, 'GET', '/api/v1/namespaces/w/configmaps/c0');
    assert.deepEqual(got.body, updated.body);
  });

  it('a watch that starts after the writes replays them with the same content', async () => {
    const first = await request(port, 'POST', '/api/v1/namespaces/r/configmaps', { metadata: { name: 'a' }, data: { x: '1' } });
    const w = await watch(port, `/api/v1/namespaces/r/configmaps?watch=true&resourceVersion=${Number(first.body.metadata.resourceVersion) - 1}`);
    await until('the replayed event', () => w.events.length === 1);
    assert.deepEqual(w.events[0], { type: 'ADDED', object: first.body });
    w.close();
  });
});
