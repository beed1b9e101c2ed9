// The informer over the real RestClient against a tiny scripted HTTP server: the wire forms of a
// watch ERROR event with code 410 and of a 410 response must both lead to a relist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { setLogLevel } from '../base/log.js';
import { DeletedFinalStateUnknown, SharedInformer } from './informer.js';
import { RestClient, type KObject } from './rest-client.js';

setLogLevel('error');

const cm = (name: string, rv: string) => ({ metadata: { namespace: 'ns', name, resourceVersion: rv } });
const gone = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version: 5 (9)', reason: 'Expired', code: 410 };

/** Serves scripted answers to list and watch requests, recording each request URL. */
async function scriptedServer(script: { lists: KObject[]; watches: ((res: http.ServerResponse) => void)[] }) {
  const requests: URL[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    requests.push(url);
    if (url.searchParams.get('watch') === 'true') {
      const next = script.watches.shift();
      if (next) return next(res);
      // Nothing scripted: hold the watch open until the client goes away.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      return;
    }
    const body = script.lists.shift() ?? script.lists.at(-1);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const list = (rv: string, ...items: object[]) => ({ kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: rv }, items });

test('Over HTTP, a watch ERROR event with code 410 and a 410 response both make the informer relist.', async () => {
  const table: { name: string; watch: (res: http.ServerResponse) => void }[] = [
    {
      name: 'ERROR event',
      watch: (res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write(JSON.stringify({ type: 'MODIFIED', object: { ...cm('a', '7'), kind: 'ConfigMap', apiVersion: 'v1' } }) + '\n');
        res.end(JSON.stringify({ type: 'ERROR', object: gone }) + '\n');
      },
    },
    {
      name: '410 response',
      watch: (res) => {
        res.writeHead(410, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(gone));
      },
    },
  ];
  for (const c of table) {
    const srv = await scriptedServer({
      lists: [list('5', cm('a', '3'), cm('b', '4')), list('12', cm('a', '11'), cm('c', '12'))],
      // The first watch is the scripted failure; for the 410 response, the first watch succeeds
      // with nothing and closes, so the second (resumed) one fails.
      watches: c.name === '410 response' ? [(res) => res.writeHead(200).end(), c.watch] : [c.watch],
    });
    const client = new RestClient({ server: srv.url });
    const inf = new SharedInformer({ client, ref: { group: '', version: 'v1', resource: 'configmaps', namespaced: true } }, { namespace: 'ns', backoffInitialMs: 5, backoffMaxMs: 10 });
    const seen: string[] = [];
    inf.addEventHandler({
      onAdd: (o) => seen.push(`add ${o.metadata.name}`),
      onUpdate: (_o, n) => seen.push(`update ${n.metadata.name}@${n.metadata.resourceVersion}`),
      onDelete: (o) => seen.push(o instanceof DeletedFinalStateUnknown ? `tombstone ${o.key}` : `delete ${o.metadata.name}`),
    });
    inf.start();
    const t0 = Date.now();
    while (inf.stats.lists < 2 || !inf.lister.get('ns', 'c')) {
      if (Date.now() - t0 > 3000) assert.fail(`${c.name}: no relist; requests ${srv.requests.map(String).join(' ')}`);
      await sleep(5);
    }
    assert.equal(inf.stats.expired, 1, c.name);
    const paths = srv.requests.map((u) => `${u.pathname} ${u.searchParams.get('watch') ? 'watch rv=' + u.searchParams.get('resourceVersion') : 'list'}`);
    assert.equal(paths[0], '/api/v1/namespaces/ns/configmaps list', c.name);
    assert.equal(paths[1], '/api/v1/namespaces/ns/configmaps watch rv=5', c.name);
    assert.ok(paths.includes('/api/v1/namespaces/ns/configmaps list'), c.name);
    assert.ok(seen.includes('tombstone ns/b'), `${c.name}: ${seen.join(', ')}`);
    assert.ok(seen.includes('add c'), c.name);
    assert.ok(seen.includes('update a@11'), c.name);
    assert.equal(new URL('http://x/?' + srv.requests[1]!.search.slice(1)).searchParams.get('allowWatchBookmarks'), 'true');
    await inf.stop();
    client.close();
    await srv.close();
  }
});
