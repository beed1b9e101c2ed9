/**
 * How long `startServer()` from the library takes: the first call in a process (loading, issuing
 * the temporary PKI) and the following ones. Usage: node --import tsx bench/api/library-start.ts
 */
import { setLogLevel } from '../../src/base/log.js';

setLogLevel('warn');
const t0 = performance.now();
const { startServer } = await import('../../dist/index.js');
const imported = performance.now() - t0;
const times: number[] = [];
for (let i = 0; i < 7; i++) {
  const a = performance.now();
  const s = await startServer({ storagePath: ':memory:', controllers: false });
  times.push(performance.now() - a);
  await s.stop();
}
const rest = times.slice(1).sort((a, b) => a - b);
console.log(`import ${imported.toFixed(0)} ms; first startServer ${times[0].toFixed(0)} ms; next ones median ${rest[Math.floor(rest.length / 2)].toFixed(1)} ms`);
