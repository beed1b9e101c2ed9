// Enforces one-way imports between the top-level folders of src/ (see docs/ARCHITECTURE.md).
// A file in folder A may import only the folders listed for A. Components (controllers/*,
// scheduler, kubelet, proxy, dns) reach the cluster through client/, never through each other.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';

const allowed = {
  base: ['base'],
  api: ['base', 'api'],
  storage: ['base', 'api', 'storage'],
  apiserver: ['base', 'api', 'storage', 'apiserver'],
  client: ['base', 'api', 'client'],
  controllers: ['base', 'api', 'client', 'controllers'],
  scheduler: ['base', 'api', 'client', 'scheduler'],
  kubelet: ['base', 'api', 'client', 'kubelet'],
  proxy: ['base', 'api', 'client', 'proxy'],
  dns: ['base', 'api', 'client', 'dns'],
  app: ['base', 'api', 'storage', 'apiserver', 'client', 'controllers', 'scheduler', 'kubelet', 'proxy', 'dns', 'app'],
  cli: ['base', 'cli', 'app', 'apiserver', 'client', 'kubelet'],
  'index.ts': ['app', 'api'],
};

const root = resolve('src');
const bad = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.includes(`${sep}testdata${sep}`)) check(p);
  }
}
function top(p) {
  return relative(root, p).split(sep)[0];
}
function check(file) {
  const from = top(file);
  const rules = allowed[from];
  if (!rules) {
    bad.push(`${relative('.', file)}: folder src/${from} has no layering rule in scripts/lint-imports.mjs`);
    return;
  }
  const text = readFileSync(file, 'utf8');
  const re = /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;
  let m;
  while ((m = re.exec(text))) {
    const spec = m[1] ?? m[2];
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(root + sep)) continue;
    const to = top(target);
    if (!rules.includes(to)) bad.push(`${relative('.', file)}: src/${from} may not import src/${to} (${spec})`);
    // Controllers are independent of each other.
    if (from === 'controllers' && to === 'controllers') {
      const a = relative(root, file).split(sep)[1];
      const b = relative(root, target).split(sep)[1];
      if (a !== b && b !== 'common' && !b.endsWith('.ts')) bad.push(`${relative('.', file)}: controller ${a} may not import controller ${b}`);
    }
  }
}
walk(root);
if (bad.length) {
  console.error(bad.join('\n'));
  console.error(`\n${bad.length} layering violation(s)`);
  process.exit(1);
}
console.log('imports: one-way layering holds');
