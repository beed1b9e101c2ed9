/**
 * Authorization overhead: the same load as a system:masters admin (allowed before RBAC is
 * consulted) and as a user whose access comes from an RBAC RoleBinding among 500 others, against
 * one `bin/k8ts server` process. Runs alternate (admin, user, admin, user...) so the VM's noise
 * hits both alike; medians of the rounds are compared.
 * Usage: node --import tsx bench/api/rbac.ts [--rounds N] [--seconds S]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import https from 'node:https';
import { issueCertificate } from '../../src/base/pki.js';
import { freePort } from '../../src/base/ports.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const rounds = arg('--rounds', 5);
const seconds = arg('--seconds', 4);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function request(agent: https.Agent, port: number, method: string, path: string, body?: unknown): Promise<number> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((res, rej) => {
    const r = https.request({ host: '127.0.0.1', port, method, path, agent, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {} }, (m) => {
      m.resume();
      m.on('end', () => res(m.statusCode ?? 0));
    });
    r.on('error', rej);
    r.end(payload);
  });
}

/** Requests/s of `concurrency` keep-alive clients doing `op` for `ms`. */
async function throughput(op: (i: number) => Promise<number>, want: number, concurrency: number, ms: number): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const code = await op(n++);
        if (code !== want) throw new Error(`unexpected ${code}`);
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-bench-rbac-'));
  const port = await freePort();
  const proc = spawn(resolve('bin/k8ts'), ['server', '--data-dir', dataDir, '--port', String(port), '--disable-agent', '--disable-scheduler', '--disable-controller-manager'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, K8TS_LOG_LEVEL: 'warn' },
  });
  try {
    const probe = new https.Agent({ rejectUnauthorized: false });
    for (let i = 0; ; i++) {
      const ok = await request(probe, port, 'GET', '/readyz').then((c) => c === 200, () => false);
      if (ok) break;
      if (i > 400) throw new Error('server not ready');
      await new Promise((r) => setTimeout(r, 25));
    }
    const tls = join(dataDir, 'tls');
    const ca = { cert: readFileSync(join(tls, 'ca.crt'), 'utf8'), key: readFileSync(join(tls, 'ca.key'), 'utf8') };
    const admin = new https.Agent({ keepAlive: true, maxSockets: 64, ca: ca.cert, cert: readFileSync(join(tls, 'admin.crt'), 'utf8'), key: readFileSync(join(tls, 'admin.key'), 'utf8') });
    const userKP = await issueCertificate(ca, { commonName: 'bench-user', organizations: ['bench-team'], usage: 'client' });
    const user = new https.Agent({ keepAlive: true, maxSockets: 64, ca: ca.cert, cert: userKP.cert, key: userKP.key });
    // The user's access: `edit` through a group RoleBinding in its namespace, among 500 other bindings.
    for (const ns of ['bench', ...Array.from({ length: 50 }, (_, i) => `other-${i}`)]) {
      await request(admin, port, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    }
    for (let i = 0; i < 500; i++) {
      const ns = `other-${i % 50}`;
      await request(admin, port, 'POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
        metadata: { name: `rb-${i}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: i % 2 ? 'view' : 'edit' },
        subjects: [{ kind: 'User', name: `someone-${i}` }],
      });
    }
    const code = await request(admin, port, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/bench/rolebindings', {
      metadata: { name: 'team-edit' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
      subjects: [{ kind: 'Group', name: 'bench-team' }],
    });
    if (code !== 201) throw new Error(`rolebinding: ${code}`);
    await new Promise((r) => setTimeout(r, 300));
    const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { k: 'v' } });
    await request(admin, port, 'POST', '/api/v1/namespaces/bench/configmaps', cm('target'));
    const results: Record<string, number[]> = { 'get admin': [], 'get user': [], 'create admin': [], 'create user': [] };
    let serial = 0;
    // ABBA order, reads before writes: whoever runs right after a write phase pays for its
    // checkpoints, so neither identity may always be second.
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? ([['user', user], ['admin', admin]] as const) : ([['admin', admin], ['user', user]] as const);
      for (const [who, agent] of order) {
        results[`get ${who}`].push(await throughput(() => request(agent, port, 'GET', '/api/v1/namespaces/bench/configmaps/target'), 200, 32, seconds * 1000));
      }
      for (const [who, agent] of order) {
        results[`create ${who}`].push(await throughput(() => request(agent, port, 'POST', '/api/v1/namespaces/bench/configmaps', cm(`c-${serial++}`)), 201, 32, seconds * 1000));
      }
    }
    const out: Record<string, unknown> = { rounds, seconds };
    for (const [k, xs] of Object.entries(results)) out[k] = Math.round(median(xs));
    out.rounds_raw = Object.fromEntries(Object.entries(results).map(([k, xs]) => [k, xs.map(Math.round)]));
    for (const op of ['get', 'create']) {
      const a = median(results[`${op} admin`]);
      const u = median(results[`${op} user`]);
      out[`${op} throughput loss with RBAC`] = `${(((a - u) / a) * 100).toFixed(1)} %`;
    }
    console.log(JSON.stringify(out, null, 2));
    admin.destroy();
    user.destroy();
  } finally {
    process.kill(proc.pid!, 'SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
