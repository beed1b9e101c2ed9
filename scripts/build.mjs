// Build: compile TypeScript to dist/ and generate the OpenAPI schemas from kubernetes-types.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, rmSync, readdirSync, mkdirSync, copyFileSync } from 'node:fs';
import { join, dirname } from 'node:path';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
rmSync('dist', { recursive: true, force: true });
run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
// Data files the code reads at run time (protobuf wire facts, the CRI proto) go beside the compiled code.
function copyData(dir) {
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    if (name.isDirectory()) {
      if (name.name !== 'testdata') copyData(p);
    } else if (name.name.endsWith('.json') || name.name.endsWith('.proto')) {
      const out = join('dist', p.slice('src/'.length));
      mkdirSync(dirname(out), { recursive: true });
      copyFileSync(p, out);
    }
  }
}
copyData('src');
const out = 'generated/openapi/schemas.json';
// Regenerate when any input is newer than the output.
const inputs = ['node_modules/kubernetes-types/package.json', 'scripts/gen-openapi.ts', 'src/api/patch/patch-meta.ts'].filter((f) => existsSync(f));
if (!existsSync(out) || inputs.some((f) => statSync(f).mtimeMs > statSync(out).mtimeMs) || process.env.K8TS_REGEN_OPENAPI) {
  run(process.execPath, ['--import', 'tsx', 'scripts/gen-openapi.ts']);
}
