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

/**
 * A `bin/k8ts server` process with its own node, plus `extraNodes` nodes in network namespaces
 * (`k8ts node add`), the nginx image imported on every node, then the walk-through.
 */
function seedFlowSuite(title: string, block: number, extraNodes: number): void {
  describe(title, () => {
    let why = missing();
    let server: ChildProcess | undefined;
    let exited: Promise<void> = Promise.resolve();
    let logs = '';
    const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-seed-'));
    const home = mkdtempSync(join(tmpdir(), 'k8ts-seed-home-'));
    // This suite's block of addresses (test/kubelet/agent.test.ts has 1, test/multinode.test.ts its own).
    const cidrs = ['--cluster-cidr', `10.${100 + block}.0.0/16`, '--service-cidr', `10.${200 + block}.0.0/16`];
    const nodeNet = ['--node-network', `10.${30 + block}.0.0/24`];
    const nodeNames = Array.from({ length: extraNodes }, (_, i) => `seed${block}-${i + 1}`);
    let env: NodeJS.ProcessEnv = {};

    before(async () => {
      why ??= await testImageUnavailable('nginx');
      if (why) {
        console.warn(`\n*** SKIPPING ${title}: ${why} ***\n`);
        return;
      }
      const image = await ensureTestImage('nginx');
      const port = await freePort();
      server = spawn(
        bin,
        ['server', '--data-dir', dataDir, '--port', String(port), ...cidrs, ...nodeNet, '--tls-san', `10.${30 + block}.0.1`, '--lb-pool', `127.0.${100 + block}.0/24`, '--pod-bridge', `k8tss${block}${process.pid % 10000}`, '--cleanup-on-exit'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      server.stdout!.on('data', (d) => (logs += d));
      server.stderr!.on('data', (d) => (logs += d));
      exited = new Promise((r) => server!.once('exit', () => r()));
      env = { PATH: process.env.PATH, HOME: home, KUBECONFIG: join(dataDir, 'kubeconfig.yaml') };
      const readyNodes = async () => (await run('kubectl', ['get', 'nodes', '-o', 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}'], env, 10_000)).out.split(' ').filter((x) => x === 'True').length;
      await eventually(async () => (await readyNodes()) >= 1, 60_000, 250).catch((e) => {
        throw new Error(`${(e as Error).message}\n--- server output ---\n${logs.slice(-3000)}`);
      });
      const imported = await run(bin, ['images', 'import', image, '--data-dir', dataDir], env, 300_000);
      assert.equal(imported.code, 0, imported.out);
      if (extraNodes) {
        const bridge = ['--node-bridge', `k8tsn${block}${process.pid % 10000}`];
        const added = await run(bin, ['node', 'add', `seed${block}`, '--count', String(extraNodes), '--server-data-dir', dataDir, ...cidrs, ...nodeNet, ...bridge], env, 180_000);
        assert.equal(added.code, 0, added.out);
        for (const name of nodeNames) {
          const r = await run(bin, ['images', 'import', image, '--data-dir', join(dataDir, 'nodes', name)], env, 300_000);
          assert.equal(r.code, 0, r.out);
        }
        await eventually(async () => (await readyNodes()) === 1 + extraNodes, 120_000, 500);
      }
    });

    after(async () => {
      if (nodeNames.length && server) await run(bin, ['node', 'rm', ...nodeNames, '--server-data-dir', dataDir], env, 180_000);
      if (server?.pid && server.exitCode === null) {
        process.kill(server.pid, 'SIGTERM');
        const killer = setTimeout(() => server?.pid && process.kill(server.pid, 'SIGKILL'), 60_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(home, { recursive: true, force: true });
      if (!existsSync(join(dataDir, 'agent'))) rmSync(dataDir, { recursive: true, force: true });
    });

    it('passes every step', async (t) => {
      if (why) return t.skip(why);
      const r = await run('bash', [script], { ...env, WAIT: '120' }, 900_000);
      t.diagnostic(r.out);
      const failed = r.out.split('\n').filter((l) => l.startsWith('FAIL'));
      assert.deepEqual(failed, [], `steps failed:\n${r.out}\n--- server output (tail) ---\n${logs.slice(-3000)}`);
      assert.match(r.out, /^\d+ passed, 0 failed$/m);
      const steps = new Set(r.out.split('\n').filter((l) => l.startsWith('ok ')).map((l) => l.slice(5)));
      for (const s of ISSUE_STEPS) assert.ok(steps.has(s), `step "${s}" ran and passed`);
    });
  });
}

seedFlowSuite('the seed walk-through on a single-node k8ts server', 2, 0);
seedFlowSuite('the seed walk-through on a two-node k8ts cluster', 4, 1);
