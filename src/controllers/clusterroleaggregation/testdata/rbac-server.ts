/**
 * Test-only: an in-process API server with RBAC wired as the real server should wire it (the
 * four kinds, the RBAC authorizer behind system:masters, escalation admission, access reviews,
 * the bootstrap policy), until the lead wires them into src/app.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { generateCA, issueCertificate, type KeyPairPEM } from '../../../base/pki.js';
import { SqliteBackend } from '../../../storage/sqlite/sqlite-backend.js';
import { APIServer } from '../../../apiserver/apiserver.js';
import { X509Authenticator } from '../../../apiserver/auth/authenticator.js';
import { UnionAuthorizer, privilegedGroupsAuthorizer, type Authorizer, type RuleResolver } from '../../../apiserver/auth/authorizer.js';
import { RBACAuthorizer } from '../../../apiserver/auth/rbac/rbac-authorizer.js';
import { reconcileBootstrapPolicy } from '../../../apiserver/auth/rbac/bootstrap-policy.js';
import { builtinStrategies } from '../../../apiserver/registry/index.js';
import { rbacStrategies } from '../../../apiserver/registry/rbac/index.js';
import { accessReviewResources } from '../../../apiserver/registry/authorization/reviews.js';
import { builtinSubresources } from '../../../apiserver/registry/subresources.js';
import { selectorParsers } from '../../../apiserver/selectors.js';
import { loadPatcher } from '../../../apiserver/patcher.js';
import { admissionChain, defaultPlugins } from '../../../apiserver/admission/index.js';
import { rbacEscalation } from '../../../apiserver/admission/rbac-escalation.js';
import { RestClient } from '../../../client/rest-client.js';

export interface RBACTestServer {
  url: string;
  /** A system:masters client. */
  admin: RestClient;
  /** A client with a certificate for `user` in `groups` (system:authenticated is added by the server). */
  clientFor(user: string, groups?: string[]): Promise<RestClient>;
  rbac: RBACAuthorizer;
  stop(): Promise<void>;
}

let sharedCA: Promise<{ ca: KeyPairPEM; serving: KeyPairPEM; admin: KeyPairPEM }> | undefined;

/** Start the server with the bootstrap policy reconciled and the RBAC caches synced. */
export async function startRBACTestServer(): Promise<RBACTestServer> {
  sharedCA ??= (async () => {
    const ca = await generateCA('rbac-test-ca');
    return {
      ca,
      serving: await issueCertificate(ca, { commonName: 'k8ts-apiserver', ips: ['127.0.0.1'], dnsNames: ['localhost'], usage: 'server' }),
      admin: await issueCertificate(ca, { commonName: 'admin', organizations: ['system:masters'], usage: 'client' }),
    };
  })();
  const pki = await sharedCA;
  const backend = SqliteBackend.open({ path: ':memory:' });
  // The RBAC authorizer reads the server's own stores, which exist only once the server does.
  let chain: UnionAuthorizer | undefined;
  const authorizer: Authorizer & RuleResolver = {
    authorize: (a) => chain!.authorize(a),
    rulesFor: (u, ns) => chain!.rulesFor(u, ns),
  };
  const strategies = [...builtinStrategies({ serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 32767] }), ...rbacStrategies()];
  const apiserver: APIServer = new APIServer({
    backend,
    strategies,
    authenticator: new X509Authenticator(),
    authorizer,
    subresources: builtinSubresources(),
    virtualResources: accessReviewResources(),
    externalAddress: '127.0.0.1:0',
    patcher: () => loadPatcher(),
    extensions: { admit: admissionChain((g, r) => apiserver.store(g, r), [...defaultPlugins, rbacEscalation(authorizer)]) },
  });
  apiserver.selectors = selectorParsers;
  const lookup = (g: string, r: string) => apiserver.store(g, r);
  const rbac = new RBACAuthorizer(lookup);
  chain = new UnionAuthorizer([privilegedGroupsAuthorizer, rbac]);
  await reconcileBootstrapPolicy(lookup);
  rbac.start();
  await rbac.synced;
  const server = https.createServer({ key: pki.serving.key, cert: pki.serving.cert, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: false }, apiserver.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: RestClient[] = [];
  const mk = (c: RestClient) => (clients.push(c), c);
  const admin = mk(new RestClient({ server: url, ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key, userAgent: 'rbac-test' }));
  return {
    url,
    admin,
    rbac,
    async clientFor(user, groups = []) {
      const kp = await issueCertificate(pki.ca, { commonName: user, organizations: groups, usage: 'client' });
      return mk(new RestClient({ server: url, ca: pki.ca.cert, cert: kp.cert, key: kp.key, userAgent: 'rbac-test' }));
    },
    async stop() {
      rbac.stop();
      for (const c of clients) c.close();
      apiserver.shutdown();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await backend.close();
    },
  };
}
