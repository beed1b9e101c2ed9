/**
 * Test-only: a real k8ts server (src/app/server.ts: RBAC, escalation checks, access reviews, the
 * bootstrap policy) without controllers, with an admin client and clients for any user.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueCertificate } from '../../../base/pki.js';
import { startServer } from '../../../app/server.js';
import { RestClient } from '../../../client/rest-client.js';

export interface RBACTestServer {
  url: string;
  /** A system:masters client. */
  admin: RestClient;
  /** A client with a certificate for `user` in `groups` (system:authenticated is added by the server). */
  clientFor(user: string, groups?: string[]): Promise<RestClient>;
  stop(): Promise<void>;
}

/** Start the server; the bootstrap policy is reconciled and the RBAC caches synced once it returns. */
export async function startRBACTestServer(): Promise<RBACTestServer> {
  const server = await startServer({ storagePath: ':memory:', controllers: false });
  const tls = join(server.dataDir, 'tls');
  const ca = { cert: server.ca, key: readFileSync(join(tls, 'ca.key'), 'utf8') };
  const clients: RestClient[] = [];
  const mk = (c: RestClient) => (clients.push(c), c);
  const admin = mk(new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key, userAgent: 'rbac-test' }));
  return {
    url: server.url,
    admin,
    async clientFor(user, groups = []) {
      const kp = await issueCertificate(ca, { commonName: user, organizations: groups, usage: 'client' });
      return mk(new RestClient({ server: server.url, ca: server.ca, cert: kp.cert, key: kp.key, userAgent: 'rbac-test' }));
    },
    async stop() {
      for (const c of clients) c.close();
      await server.stop();
    },
  };
}
