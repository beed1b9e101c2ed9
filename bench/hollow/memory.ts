/**
 * Memory of hollow nodes: start N of them against an in-process API server (controllers off), wait
 * until all are registered and have renewed their Lease, and report the RSS and heap growth per
 * node. The figures include the API server's side (the Node and Lease objects it stores and serves).
 *
 *   node --expose-gc --import tsx bench/hollow/memory.ts [count=1000] [heartbeatMs=10000]
 */
import { startServer } from '../../src/app/server.js';
import { setLogLevel } from '../../src/base/log.js';
import { RestClient } from '../../src/client/rest-client.js';
import { startHollowNodes } from '../../src/kubelet/hollow.js';

setLogLevel('error');
const count = Number(process.argv[2] ?? 1000);
const heartbeatMs = Number(process.argv[3] ?? 10_000);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const mb = (n: number) => (n / 1048576).toFixed(1);
const mem = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
};

const server = await startServer({ storagePath: ':memory:', controllers: false });
const client = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key, userAgent: 'hollow-bench' });
await client.list({ group: '', version: 'v1', resource: 'nodes', namespaced: false }, undefined);
const before = mem();
const t0 = Date.now();
const nodes = await startHollowNodes({ client, count, heartbeatMs, maxInFlight: 64 });
const registered = Date.now() - t0;
// Every node must have renewed its lease at least once after registering.
while (!nodes.kubelets.every((k) => k.stats.leaseRenewals >= 2)) await new Promise((r) => setTimeout(r, 200));
const heartbeating = Date.now() - t0;
// One more period of steady state, then measure.
await new Promise((r) => setTimeout(r, heartbeatMs));
const after = mem();
const renewals = nodes.kubelets.reduce((a, k) => a + k.stats.leaseRenewals, 0);
const errors = nodes.kubelets.reduce((a, k) => a + k.stats.errors, 0);
console.log(
  JSON.stringify({
    nodes: count,
    heartbeatMs,
    registeredMs: registered,
    allHeartbeatingMs: heartbeating,
    leaseRenewals: renewals,
    errors,
    rssBeforeMB: mb(before.rss),
    rssAfterMB: mb(after.rss),
    rssPerNodeKB: ((after.rss - before.rss) / count / 1024).toFixed(1),
    heapPerNodeKB: ((after.heap - before.heap) / count / 1024).toFixed(1),
  }),
);
await nodes.stop();
client.close();
await server.stop();
