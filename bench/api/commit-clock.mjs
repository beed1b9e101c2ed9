// Preloaded into a benchmarked `k8ts server` (node --import) by bench/api/run.ts --commit-times:
// records when each SQLite group commit became durable, the moment the store publishes it to
// watchers and answers its writers, so watch latency can be measured from the commit itself.
// Writes "firstRev lastRev epochMs" lines to $K8TS_BENCH_COMMIT_LOG. Bench-only; k8ts has no
// such hook.
import { openSync, writeSync } from 'node:fs';

const path = process.env.K8TS_BENCH_COMMIT_LOG;
if (path) {
  const fd = openSync(path, 'a');
  const { SqliteBackend } = await import(new URL('../../dist/storage/sqlite/sqlite-backend.js', import.meta.url).href);
  const settle = SqliteBackend.prototype.settle;
  if (typeof settle !== 'function') throw new Error('commit-clock: SqliteBackend has no settle() to time');
  SqliteBackend.prototype.settle = function (g) {
    const t = performance.timeOrigin + performance.now();
    writeSync(fd, `${g.firstRev} ${g.result.rev} ${t.toFixed(3)}\n`);
    return settle.call(this, g);
  };
}
