// Build: compile TypeScript to dist/ and generate the OpenAPI schemas from kubernetes-types.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, rmSync } from 'node:fs';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
rmSync('dist', { recursive: true, force: true });
run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
const out = 'generated/openapi/schemas.json';
const src = 'node_modules/kubernetes-types/package.json';
if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs || statSync(out).mtimeMs < statSync('scripts/gen-openapi.ts').mtimeMs || process.env.K8TS_REGEN_OPENAPI) {
  run(process.execPath, ['--import', 'tsx', 'scripts/gen-openapi.ts']);
}
