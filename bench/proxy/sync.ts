/**
 * Proxy sync cost for many Services: render time, and the time the kernel takes to apply a full
 * replacement and an in-place update (one endpoint changed), for nftables and iptables, each in
 * a private network namespace. `--e2e` also runs the real proxy against an in-process API server
 * holding the same Services and EndpointSlices, and reports its first sync and a forced resync.
 * Needs root. Usage: node --import tsx bench/proxy/sync.ts [--services 1000] [--endpoints 2] [--rounds 5] [--e2e]
 *   [--changes 100] [--min-sync 250] [--gap 300] [--burst 50]  (e2e: EndpointSlice updates timed one by
 *   one, the proxy's minimum sync interval, the pause in ms between one update being applied and the
 *   next, then how many updates are sent at once)
 */
import { spawnSync } from 'node:child_process';
import { startServer } from '../../src/app/server.js';
import { setLogLevel } from '../../src/base/log.js';
import { RestClient, resources } from '../../src/client/index.js';
import { iptablesChains, iptablesJumps, renderIptablesCleanup, renderIptablesRestore } from '../../src/proxy/iptables.js';
import { nftSnapshot, renderNftCleanup, renderNftRuleset } from '../../src/proxy/nftables.js';
import { startProxy } from '../../src/proxy/proxy.js';
import type { ProxyState, ServicePortState } from '../../src/proxy/state.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('services', 1000);
const E = arg('endpoints', 2);
const ROUNDS = arg('rounds', 5);
const CHANGES = arg('changes', 100);
// The agent's setting (src/app/agent.ts).
const MIN_SYNC = arg('min-sync', 250);
// Longer than the minimum interval: separate changes, each synced at once. Shorter ones make a
// sustained stream the token bucket paces (one sync per interval on average).
const GAP = arg('gap', 300);
const BURST = arg('burst', 50);
const ip = (base: number, i: number) => `10.${base}.${(i >> 8) & 255}.${i & 255}`;

function makeState(shift = 0): ProxyState {
  const services: ServicePortState[] = [];
  for (let i = 0; i < N; i++) {
    services.push({
      namespace: 'bench',
      name: `svc-${i}`,
      portName: 'http',
      protocol: 'tcp',
      clusterIP: ip(96, i + 10),
      port: 80,
      nodePort: i % 4 === 0 ? 30000 + i : 0,
      externalIPs: [],
      loadBalancerIPs: [],
      affinityTimeoutSeconds: i % 10 === 0 ? 10800 : undefined,
      externalPolicyLocal: false,
      internalPolicyLocal: false,
      endpoints: Array.from({ length: E }, (_, k) => ({ ip: ip(244, i * E + k + (i === 0 ? shift : 0) + 2), port: 8080, ready: true, serving: true, terminating: false, local: k === 0 })),
    });
  }
  return { nodeIPs: ['10.77.0.1'], clusterCIDR: '10.244.0.0/16', services };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (f: () => void) => {
  const t = performance.now();
  f();
  return performance.now() - t;
};

if (process.getuid?.() !== 0) {
  console.error('needs root');
  process.exit(1);
}
const ns = `k8ts-np-bench${process.pid}`;
spawnSync('ip', ['netns', 'add', ns]);
const inNs = (cmd: string, args: string[], input: string) => {
  const r = spawnSync('nsenter', [`--net=/var/run/netns/${ns}`, cmd, ...args], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
};
try {
  const a = makeState();
  const b = makeState(1000); // service 0's endpoints moved
  const nftFull = renderNftRuleset(a);
  const nftInc = renderNftRuleset(b, { previous: nftSnapshot(a) });
  console.log(`services=${N} endpoints/service=${E} load=${(await import('node:os')).loadavg()[0].toFixed(1)}`);
  console.log(`nft script: full ${nftFull.split('\n').length} lines, in-place ${nftInc.split('\n').length} lines`);
  console.log(`render (ms): nft full ${median(Array.from({ length: ROUNDS }, () => time(() => renderNftRuleset(a)))).toFixed(1)}, nft in-place ${median(Array.from({ length: ROUNDS }, () => time(() => renderNftRuleset(b, { previous: nftSnapshot(a) })))).toFixed(1)}, iptables ${median(Array.from({ length: ROUNDS }, () => time(() => renderIptablesRestore(a)))).toFixed(1)}`);

  const fullT: number[] = [];
  const incT: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    fullT.push(time(() => inNs('nft', ['-f', '-'], nftFull)));
    incT.push(time(() => inNs('nft', ['-f', '-'], nftInc)));
    inNs('nft', ['-f', '-'], renderNftCleanup());
  }
  console.log(`nft apply (ms, median of ${ROUNDS}): full replace ${median(fullT).toFixed(0)}, in-place update ${median(incT).toFixed(0)}`);

  const iptFull = renderIptablesRestore(a, { addJumps: iptablesJumps() });
  const iptInc = renderIptablesRestore(b, { existing: iptablesChains(a) });
  const iFull: number[] = [];
  const iInc: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    iFull.push(time(() => inNs('iptables-restore', ['--noflush'], iptFull)));
    iInc.push(time(() => inNs('iptables-restore', ['--noflush'], iptInc)));
    inNs('iptables-restore', ['--noflush'], renderIptablesCleanup(iptablesChains(b), iptablesJumps()));
  }
  console.log(`iptables-restore (ms, median of ${ROUNDS}): first ${median(iFull).toFixed(0)}, update ${median(iInc).toFixed(0)} (${iptFull.split('\n').length} lines)`);

  if (process.argv.includes('--e2e')) {
    const server = await startServer({ storagePath: ':memory:', controllers: false, serviceCIDR: '10.96.0.0/12' });
    const client = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key });
    try {
      await client.create(resources.namespaces, undefined, { metadata: { name: 'bench' } });
      const t0 = performance.now();
      const work = a.services.map((s) => async () => {
        await client.create(resources.services, 'bench', { metadata: { name: s.name }, spec: { type: s.nodePort ? 'NodePort' : 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
        await client.create(resources.endpointslices, 'bench', {
          metadata: { name: `${s.name}-x`, labels: { 'kubernetes.io/service-name': s.name } },
          addressType: 'IPv4',
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
          endpoints: s.endpoints.map((e) => ({ addresses: [e.ip], nodeName: e.local ? 'n1' : 'n2' })),
        });
      });
      for (let i = 0; i < work.length; i += 32) await Promise.all(work.slice(i, i + 32).map((w) => w()));
      console.log(`e2e: created ${N} Services + EndpointSlices in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const t1 = performance.now();
      const timings: { stateMs: number; renderMs: number; applyMs: number }[] = [];
      let recording = false;
      const proxy = await startProxy({
        client,
        nodeName: 'n1',
        nodeIPs: ['10.77.0.1'],
        clusterCIDR: '10.244.0.0/16',
        netns: ns,
        minSyncIntervalMs: MIN_SYNC,
        syncPeriodMs: 0,
        onSynced: (t) => recording && timings.push(t),
      });
      console.log(`e2e: startProxy (informer lists + first full sync) ${(performance.now() - t1).toFixed(0)} ms`);
      const syncs: number[] = [];
      for (let r = 0; r < ROUNDS; r++) syncs.push(await (async () => { const t = performance.now(); await proxy.sync(); return performance.now() - t; })());
      console.log(`e2e: proxy.sync() in-place with ${N} services (ms, median of ${ROUNDS}): ${median(syncs).toFixed(0)}`);
      // Network programming latency: EndpointSlice update sent → rules applied (lastState shows it).
      // Each sync makes a new state object, so only new ones are searched (the poll shares the proxy's event loop).
      let seen: unknown;
      const isApplied = (name: string, newIP: string) => {
        const st = proxy.lastState();
        if (st === seen) return false;
        const ok = !!st?.services.some((s) => s.name === name && s.endpoints.some((e) => e.ip === newIP));
        if (ok) seen = st;
        return ok;
      };
      const pcts = (xs: number[]) => {
        const v = [...xs].sort((x, y) => x - y);
        // Nearest-rank percentiles.
        const p = (q: number) => v[Math.min(v.length - 1, Math.ceil((q / 100) * v.length) - 1)].toFixed(0);
        return `p50 ${p(50)}, p90 ${p(90)}, p99 ${p(99)}, max ${v[v.length - 1].toFixed(0)}`;
      };
      const syncCount = () => Number(/kubeproxy_sync_proxy_rules_duration_seconds_count (\d+)/.exec(proxy.metrics.render())?.[1] ?? NaN);
      const lat: number[] = [];
      const writes: number[] = [];
      let serial = 0;
      const change = async (r: number) => {
        const name = a.services[(r * 37) % N].name;
        const newIP = ip(245, ++serial);
        const cur = await client.get(resources.endpointslices, 'bench', `${name}-x`);
        const t = performance.now();
        await client.update(resources.endpointslices, { ...cur, endpoints: [{ addresses: [newIP], nodeName: 'n1' }] });
        return { name, newIP, t, written: performance.now() - t };
      };
      recording = true;
      for (let r = 0; r < CHANGES; r++) {
        const c = await change(r);
        seen = undefined;
        while (!isApplied(c.name, c.newIP)) await new Promise((res) => setTimeout(res, 1));
        lat.push(performance.now() - c.t);
        writes.push(c.written);
        await new Promise((res) => setTimeout(res, GAP)); // separate changes, not a burst
      }
      console.log(`e2e: EndpointSlice update → rules applied, ${lat.length} changes, min sync interval ${MIN_SYNC} ms, ${GAP} ms apart (ms): ${pcts(lat)}`);
      recording = false;
      console.log(`e2e:   of which the API write (update sent → response): ${pcts(writes)}`);
      if (timings.length) for (const k of ['stateMs', 'renderMs', 'applyMs'] as const) console.log(`e2e:   proxy sync ${k.replace('Ms', '')} (ms, ${timings.length} syncs): ${pcts(timings.map((t) => t[k]))}`);
      if (BURST > 0) {
        // Many Services change at once (a rollout): how long until all are programmed, in how many syncs.
        await new Promise((res) => setTimeout(res, 2 * MIN_SYNC));
        const before = syncCount();
        const t0 = performance.now();
        const sent = await Promise.all(Array.from({ length: BURST }, (_, i) => change(1000 + i * 7)));
        const blat: number[] = [];
        for (const c of sent) {
          const ready = () => !!proxy.lastState()?.services.some((s) => s.name === c.name && s.endpoints.some((e) => e.ip === c.newIP));
          while (!ready()) await new Promise((res) => setTimeout(res, 1));
          blat.push(performance.now() - c.t);
        }
        console.log(`e2e: burst of ${BURST} EndpointSlice updates sent at once: all applied in ${(performance.now() - t0).toFixed(0)} ms with ${syncCount() - before} syncs; per update (ms): ${pcts(blat)}`);
      }
      await proxy.stop();
    } finally {
      client.close();
      await server.stop();
    }
  }
} finally {
  spawnSync('ip', ['netns', 'del', ns]);
}
