/**
 * Helpers for the acceptance suite: start a fresh k8ts server in-process and run the real
 * kubectl against it with its own HOME (so discovery caches never leak between runs).
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startServer, type RunningServer, type ServerOptions } from '../src/app/server.js';
import { RestClient } from '../src/client/rest-client.js';
import { StatusError } from '../src/api/errors.js';
import { setLogLevel } from '../src/base/log.js';
import { pollUntil } from '../src/base/sleep.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'warn');

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Path of a versioned kubectl (1.27–1.33) from the Google Cloud CLI's bin folder, or the dispatcher. */
export function kubectlBinary(version?: string): string {
  const dispatcher = execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim();
  if (!version) return dispatcher;
  return join(dirname(realpathSync(dispatcher)), `kubectl.${version}`);
}

export interface TestCluster {
  server: RunningServer;
  home: string;
  /** The kubectl binary and the environment it runs with, for long-running commands. */
  kubectlPath: string;
  env: Record<string, string>;
  kubectl(args: string[], opts?: { input?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<KubectlResult>;
  /** Runs kubectl and fails with its stderr unless it exits 0. */
  ok(args: string[], opts?: { input?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<string>;
  writeFile(name: string, text: string): string;
  /** A client with the admin's credentials, closed by stop(). */
  adminClient(): RestClient;
  stop(): Promise<void>;
}

export async function startTestCluster(opts: { kubectl?: string; storagePath?: string; server?: ServerOptions } = {}): Promise<TestCluster> {
  const server = await startServer({ storagePath: opts.storagePath, ...opts.server });
  const home = mkdtempSync(join(tmpdir(), 'k8ts-kubectl-home-'));
  const bin = opts.kubectl ?? kubectlBinary();
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECONFIG: server.kubeconfigPath };
  const kubectl = (args: string[], o: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}) =>
    new Promise<KubectlResult>((resolve, reject) => {
      const child = spawn(bin, args, {
        env: { ...env, ...o.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
      child.stdin.end(o.input ?? '');
    });
  const clients: RestClient[] = [];
  return {
    server,
    home,
    kubectlPath: bin,
    env,
    kubectl,
    async ok(args, o) {
      const r = await kubectl(args, o);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr || r.stdout}`);
      if (/warning/i.test(r.stderr) && !args.includes('--allow-warnings')) {
        throw new Error(`kubectl ${args.join(' ')} printed a warning: ${r.stderr}`);
      }
      return r.stdout;
    },
    writeFile(name, text) {
      const p = join(home, name);
      writeFileSync(p, text);
      return p;
    },
    adminClient() {
      const client = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const cl of clients) cl.close();
      await server.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Poll until `fn` returns a truthy value or the time is up. */
export function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 10_000, stepMs = 100): Promise<T> {
  return pollUntil(fn, { timeoutMs, stepMs });
}

/** Write an EncryptionConfiguration for Secrets (aescbc key `key1` with a random secret, then identity) to `path`. */
export function writeEncryptionConfig(path: string): string {
  writeFileSync(
    path,
    `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: ${randomBytes(32).toString('base64')}
      - identity: {}
`,
  );
  return path;
}

/** The Status error a request was refused with; fails the test when it was not refused. */
export async function refusedWith(p: Promise<unknown>): Promise<StatusError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StatusError) return e;
    throw e;
  }
  throw new Error('the request was not refused');
}
