/**
 * The seed's walk-through (test/acceptance/seed-flow.sh, a copy of shared/acceptance/seed-flow.sh)
 * against a real single-node `bin/k8ts server` with its in-process agent and a real nginx image
 * built from Debian packages. Steps that belong to work still open are reported, not asserted:
 * ISSUE_STEPS lists what must pass today.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventually } from './helpers.js';
import { ensureTestImage, testImageUnavailable } from './images.js';
import { freePort, missingNodeCapability } from './capabilities.js';

const bin = resolve('bin/k8ts');
const script = resolve('test/acceptance/seed-flow.sh');

/** Steps the node agent (issue 4) makes pass; the rest need Services and load balancers. */
const ISSUE_STEPS = [
  'run nginx prints pod/nginx created',
  'nginx becomes Ready',
  'run server',
  'run client',
  'server Ready',
  'client Ready',
  'exec server -- curl localhost serves nginx',
  'server has a pod IP',
  'describe pod server shows its IP',
  'client reaches server by pod IP',
  "client has its own IP, not server's",
  'each pod has its own hostname',
  're-run server',
  'new server Ready',
  'create deployment frontoffice with 2 replicas',
  'rollout status frontoffice',
  'delete one frontoffice pod',
  'frontoffice heals back to 2 ready',
  'run chat that exits after 2 s',
  'chat is restarted by the kubelet',
  'get pods shows the restarts',
];


function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((res, rej) => {
    const c = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => c.pid && process.kill(c.pid, 'SIGKILL'), timeoutMs);
    c.on('error', rej);
    c.on('close', (code) => {
      clearTimeout(t);
      res({ code: code ?? -1, out });
    });
  });
}

function missing(): string | undefined {
  return missingNodeCapability([{ name: 'nft', pkg: 'nftables' }]) ?? (existsSync('dist/cli/main.js') ? undefined : 'not built (npm run build)');
}

describe('the seed walk-through on a single-node k8ts server', () => {
  let why = missing();
  let server: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let logs = '';
  const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-seed-'));
  const home = mkdtempSync(join(tmpdir(), 'k8ts-seed-home-'));
  const n = 2; // this file's block of addresses (test/kubelet/agent.test.ts has 1)
  let env: NodeJS.ProcessEnv = {};

  before(async () => {
    why ??= await testImageUnavailable('nginx');
    if (why) {
      console.warn(`\n*** SKIPPING the seed walk-through: ${why} ***\n`);
      return;
    }
    const image = await ensureTestImage('nginx');
    const port = await freePort();
    server = spawn(
      bin,
      ['server', '--data-dir', dataDir, '--port', String(port), '--cluster-cidr', `10.${100 + n}.0.0/16`, '--service-cidr', `10.${200 + n}.0.0/16`, '--lb-pool', `127.0.${100 + n}.0/24`, '--pod-bridge', `k8tss${process.pid % 100000}`, '--cleanup-on-exit'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    server.stdout!.on('data', (d) => (logs += d));
    server.stderr!.on('data', (d) => (logs += d));
    exited = new Promise((r) => server!.once('exit', () => r()));
    env = { PATH: process.env.PATH, HOME: home, KUBECONFIG: join(dataDir, 'kubeconfig.yaml') };
    await eventually(async () => (await run('kubectl', ['get', 'nodes', '-o', 'jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}'], env, 10_000)).out === 'True', 60_000, 250).catch((e) => {
      throw new Error(`${(e as Error).message}\n--- server output ---\n${logs.slice(-3000)}`);
    });
    const imported = await run(bin, ['images', 'import', image, '--data-dir', dataDir], env, 120_000);
    assert.equal(imported.code, 0, imported.out);
  });

  after(async () => {
    if (server?.pid && server.exitCode === null) {
      process.kill(server.pid, 'SIGTERM');
      const killer = setTimeout(() => server?.pid && process.kill(server.pid, 'SIGKILL'), 60_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(home, { recursive: true, force: true });
    if (!existsSync(join(dataDir, 'agent'))) rmSync(dataDir, { recursive: true, force: true });
  });

  it('passes the pod, exec, describe, IP, self-healing and Deployment steps', async (t) => {
    if (why) return t.skip(why);
    const r = await run('bash', [script], { ...env, WAIT: '120' }, 900_000);
    const lines = r.out.split('\n');
    const result = new Map<string, string>();
    for (const l of lines) {
      const m = /^(ok  |FAIL) (.*?)(: .*)?$/.exec(l);
      if (m) result.set(ISSUE_STEPS.find((s) => m[2] === s || m[2].startsWith(s + ':')) ?? m[2], l);
    }
    t.diagnostic(r.out);
    const failed = ISSUE_STEPS.filter((s) => !result.get(s)?.startsWith('ok'));
    assert.deepEqual(failed, [], `steps that must pass failed:\n${r.out}\n--- server output (tail) ---\n${logs.slice(-3000)}`);
  });
});
