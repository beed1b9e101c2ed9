// The same acceptance suite with the oldest and newest kubectl we support.
import { existsSync } from 'node:fs';
import { kubectlBinary } from './helpers.js';
import { kubectlSuite } from './kubectl-suite.js';

for (const v of ['1.27', '1.33']) {
  const bin = kubectlBinary(v);
  if (!existsSync(bin)) {
    // Loud: this machine lacks that client, so the suite for it cannot run.
    console.error(`!!! SKIPPING kubectl ${v} acceptance suite: ${bin} is not installed on this machine`);
    continue;
  }
  kubectlSuite(v, bin);
}
