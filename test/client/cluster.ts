/**
 * A real k8ts API server in-process for the client-machinery tests, and a RestClient for it.
 * Controllers are off so nothing but the test writes to the cluster.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, type RunningServer } from '../../src/app/server.js';
import { setLogLevel } from '../../src/base/log.js';
import { RestClient } from '../../src/client/rest-client.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');

export interface Cluster {
  server: RunningServer;
  dataDir: string;
  /** A fresh admin client (close it, or let stop() do it). */
  client(userAgent?: string): RestClient;
  /** Stop the server and start it again on the same data dir and port. */
  restart(opts?: { storagePath?: string }): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(opts: { storagePath?: string } = {}): Promise<Cluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-client-test-'));
  let server = await startServer({ dataDir, storagePath: opts.storagePath, controllers: false, removeDataDirOnStop: false });
  const clients: RestClient[] = [];
  const c: Cluster = {
    get server() {
      return server;
    },
    dataDir,
    client(userAgent) {
      const rc = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key, userAgent });
      clients.push(rc);
      return rc;
    },
    async restart(o = {}) {
      const port = server.port;
      await server.stop();
      server = await startServer({ dataDir, port, storagePath: o.storagePath ?? opts.storagePath, controllers: false, removeDataDirOnStop: false });
    },
    async stop() {
      for (const rc of clients) rc.close();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return c;
}

/** Poll until `cond` holds; fails with `what` after the timeout. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
