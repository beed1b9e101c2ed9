/**
 * SQLite storage backend benchmark: durable creates/s with N concurrent callers, list of 10,000 keys,
 * and watch fan-out latency. Prints medians of several runs.
 *
 * The last section is the storage share of bench/scheduler/api.ts' per-pod budget: CPU per durable
 * write for its mix (a pod create, its binding as an update of the same key, a ~900-byte event).
 *
 *   node --import tsx bench/storage/sqlite-bench.ts [--pod-mix-only]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBackend } from '../../src/storage/sqlite/sqlite-backend.js';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;
};

/** A pod-like JSON object of about 1.5 KB. */
function podJson(i: number): string {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `web-${i}`,
      namespace: 'default',
      uid: `6f1d7a3e-0000-4000-8000-${String(i).padStart(12, '0')}`,
      labels: { app: 'web', tier: 'frontend', 'pod-template-hash': '5d8f7c9b6' },
      annotations: { 'kubernetes.io/created-by': 'bench', note: 'x'.repeat(300) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f7c9b6', uid: 'abc', controller: true }],
    },
    spec: {
      containers: [
        {
          name: 'web',
          image: 'registry.local/web:1.2.3',
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
          env: Array.from({ length: 6 }, (_, k) => ({ name: `ENV_${k}`, value: `value-${k}-${'v'.repeat(20)}` })),
        },
      ],
      nodeName: 'node-1',
      restartPolicy: 'Always',
    },
    status: { phase: 'Running', podIP: '10.42.0.17', conditions: [{ type: 'Ready', status: 'True' }] },
  };
  return JSON.stringify(pod);
}

async function withDb<T>(fn: (b: SqliteBackend) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'k8ts-bench-'));
  const b = SqliteBackend.open({ path: join(dir, 'db.sqlite') });
  try {
    return await fn(b);
  } finally {
    await b.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function createsPerSecond(callers: number, total: number): Promise<number> {
  return withDb(async (b) => {
    const value = podJson(0);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: callers }, async () => {
        for (let i = next++; i < total; i = next++) await b.create(`/registry/pods/default/web-${i}`, value);
      }),
    );
    return total / ((performance.now() - t0) / 1000);
  });
}

/** CPU (user+system, this process: SQLite, the WAL fsyncs in the thread pool, the JavaScript around them) per write of the scheduler bench's mix. */
async function podMixCpu(callers: number, pods: number): Promise<{ usPerWrite: number; userUs: number; sysUs: number; writesPerSec: number }> {
  return withDb(async (b) => {
    const run = async (base: number, n: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: callers }, async () => {
          for (let k = next++; k < n; k = next++) {
            const i = base + k;
            const kv = await b.create(`/registry/pods/bench/pod-${i}`, podJson(i));
            await b.update(kv.key, podJson(i + 1), kv.modRevision);
            await b.create(`/registry/events/bench/pod-${i}.${i.toString(16)}`, podJson(i).slice(0, 900));
          }
        }),
      );
    };
    await run(0, 2000);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await run(1_000_000, pods);
    const c = process.cpuUsage(c0);
    const writes = pods * 3;
    return { usPerWrite: (c.user + c.system) / writes, userUs: c.user / writes, sysUs: c.system / writes, writesPerSec: writes / ((performance.now() - t0) / 1000) };
  });
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} CPUs, value ${podJson(0).length} bytes`);
  if (process.argv.includes('--pod-mix-only')) return podMix();

  console.log('\nDurable creates/s (WAL, group commit, WAL fsync in the thread pool before acknowledging), median of 3 runs:');
  for (const callers of [1, 16, 64, 256]) {
    const total = callers === 1 ? 2000 : 20_000;
    const runs: number[] = [];
    for (let r = 0; r < 3; r++) runs.push(await createsPerSecond(callers, total));
    console.log(`  ${String(callers).padStart(3)} callers: ${Math.round(median(runs))} creates/s  (runs: ${runs.map(Math.round).join(', ')})`);
  }

  await withDb(async (b) => {
    const N = 10_000;
    for (let i = 0; i < N; i += 1000) {
      await Promise.all(Array.from({ length: 1000 }, (_, k) => b.create(`/registry/pods/default/web-${String(i + k).padStart(5, '0')}`, podJson(i + k))));
    }
    // Other keys around the prefix, so the range must be selective.
    await Promise.all(Array.from({ length: 2000 }, (_, k) => b.create(`/registry/services/default/s-${k}`, podJson(k))));
    const full: number[] = [];
    const paged: number[] = [];
    const pastFull: number[] = [];
    const counts: number[] = [];
    const rev = await b.currentRevision();
    // Make the fixed-revision reads read history, not the current table.
    await b.update('/registry/pods/default/web-00000', podJson(0), 1);
    for (let r = 0; r < 7; r++) {
      let t = performance.now();
      const res = await b.list('/registry/pods/');
      full.push(performance.now() - t);
      if (res.kvs.length !== N) throw new Error(`listed ${res.kvs.length}`);

      t = performance.now();
      let startKey: string | undefined;
      let n = 0;
      for (;;) {
        const page = await b.list('/registry/pods/', { revision: rev, limit: 500, startKey });
        n += page.kvs.length;
        if (!page.more) break;
        startKey = `${page.kvs.at(-1)!.key}\x00`;
      }
      paged.push(performance.now() - t);
      if (n !== N) throw new Error(`paged ${n}`);

      t = performance.now();
      await b.list('/registry/pods/', { revision: rev });
      pastFull.push(performance.now() - t);

      t = performance.now();
      await b.count('/registry/pods/');
      counts.push(performance.now() - t);
    }
    console.log('\nList of 10,000 pods (~1.5 KB each) among 12,000 keys, median of 7:');
    console.log(`  list at current revision:             ${median(full).toFixed(1)} ms`);
    console.log(`  list at a past revision:              ${median(pastFull).toFixed(1)} ms`);
    console.log(`  20 pages of 500 at a past revision:   ${median(paged).toFixed(1)} ms`);
    console.log(`  count:                                ${median(counts).toFixed(2)} ms`);
  });

  await withDb(async (b) => {
    const watchers = 100;
    const events = 300;
    let pending = 0;
    let sentAt = 0;
    const lastArrival: number[] = [];
    const perWatcher: number[] = [];
    let done: () => void = () => {};
    for (let w = 0; w < watchers; w++) {
      b.watch('/registry/pods/', { afterRevision: await b.currentRevision() }, {
        onEvents: () => {
          const now = performance.now();
          perWatcher.push(now - sentAt);
          if (--pending === 0) {
            lastArrival.push(now - sentAt);
            done();
          }
        },
        onClose: () => {},
      });
    }
    const acks: number[] = [];
    for (let i = 0; i < events; i++) {
      const arrived = new Promise<void>((r) => (done = r));
      pending = watchers;
      sentAt = performance.now();
      await b.create(`/registry/pods/default/p-${i}`, podJson(i));
      acks.push(performance.now() - sentAt);
      await arrived;
    }
    console.log(`\nWatch fan-out: ${watchers} watchers, ${events} sequential creates (time from create() call):`);
    console.log(`  create acknowledged (durable):  median ${median(acks).toFixed(2)} ms, p99 ${pct(acks, 99).toFixed(2)} ms`);
    console.log(`  event at a watcher:             median ${median(perWatcher).toFixed(2)} ms, p99 ${pct(perWatcher, 99).toFixed(2)} ms`);
    console.log(`  event at all ${watchers} watchers:       median ${median(lastArrival).toFixed(2)} ms, p99 ${pct(lastArrival, 99).toFixed(2)} ms`);
  });
  await podMix();
}

async function podMix(): Promise<void> {
  const runs: Awaited<ReturnType<typeof podMixCpu>>[] = [];
  for (let r = 0; r < 5; r++) runs.push(await podMixCpu(64, 10_000));
  runs.sort((a, b) => a.usPerWrite - b.usPerWrite);
  const m = runs[2]!;
  console.log('\nCPU per durable write, scheduler-bench mix (create pod, bind it, create event; 64 callers, 10,000 pods), median of 5:');
  console.log(`  ${m.usPerWrite.toFixed(1)} µs per write (user ${m.userUs.toFixed(1)}, system ${m.sysUs.toFixed(1)}), ${Math.round(m.writesPerSec)} writes/s  (runs: ${runs.map((r) => r.usPerWrite.toFixed(1)).join(', ')} µs)`);
}

await main();
