/**
 * Child process for the kill -9 durability test: opens the database given as argv[2] and creates keys
 * from argv[3] concurrent writers as fast as it can, printing each key once its create is acknowledged.
 * It never exits on its own; the test kills it with SIGKILL.
 */
import { SqliteBackend } from '../sqlite-backend.js';

const path = process.argv[2];
if (!path) throw new Error('usage: write-until-killed.ts <db path> [writers]');
const writers = Number(process.argv[3] ?? 16);
const backend = SqliteBackend.open({ path });
const value = JSON.stringify({ kind: 'ConfigMap', data: { pad: 'x'.repeat(1400) } });

await Promise.all(
  Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; ; i++) {
      const kv = await backend.create(`/kill/${w}/${i}`, value);
      // Writes to a pipe are synchronous on Linux, so a printed line was acknowledged before it left.
      process.stdout.write(`${kv.key} ${kv.modRevision}\n`);
    }
  }),
);
