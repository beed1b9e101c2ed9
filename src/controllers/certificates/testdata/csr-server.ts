/**
 * Test-only: a bare in-process API server (no authorization) with a fixed bootstrap token and a
 * fake SubjectAccessReview whose answers a test decides, so the CSR approver's decisions can be
 * driven case by case. The real server (src/app/server.ts) wires the same CSR pieces with RBAC.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { generateCA, issueCertificate, type KeyPairPEM } from '../../../base/pki.js';
import { SqliteBackend } from '../../../storage/sqlite/sqlite-backend.js';
import { APIServer, type VirtualResource } from '../../../apiserver/apiserver.js';
import { TokenAuthenticator, UnionAuthenticator, X509Authenticator } from '../../../apiserver/auth/authenticator.js';
import { builtinStrategies } from '../../../apiserver/registry/index.js';
import { builtinSubresources } from '../../../apiserver/registry/subresources.js';
import { selectorParsers } from '../../../apiserver/selectors.js';
import { loadPatcher } from '../../../apiserver/patcher.js';
import { admissionChain, defaultPlugins, type AdmissionPlugin } from '../../../apiserver/admission/index.js';
import { csrRequestor } from '../../../apiserver/admission/csr-requestor.js';
import { RestClient } from '../../../client/rest-client.js';

export interface CSRTestServer {
  url: string;
  ca: KeyPairPEM;
  /** A system:masters client. */
  admin: RestClient;
  /** The bootstrap token: user system:bootstrap:abcdef, group system:bootstrappers. */
  bootstrapToken: string;
  /** A client with a certificate for `user` in `groups`, signed by the cluster CA. */
  clientFor(user: string, groups: string[]): Promise<RestClient>;
  /** SubjectAccessReview specs the fake answered. */
  reviews: any[];
  stop(): Promise<void>;
}

let sharedCA: Promise<{ ca: KeyPairPEM; serving: KeyPairPEM; admin: KeyPairPEM }> | undefined;

/** Start the server. `admission`: extra validating plugins. `sar`: answer SubjectAccessReviews with this decision; absent: the API is not served. */
export async function startCSRTestServer(o: { sar?: (spec: any) => boolean; admission?: AdmissionPlugin[] } = {}): Promise<CSRTestServer> {
  sharedCA ??= (async () => {
    const ca = await generateCA('csr-test-ca');
    return {
      ca,
      serving: await issueCertificate(ca, { commonName: 'k8ts-apiserver', ips: ['127.0.0.1'], dnsNames: ['localhost'], usage: 'server' }),
      admin: await issueCertificate(ca, { commonName: 'admin', organizations: ['system:masters'], usage: 'client' }),
    };
  })();
  const pki = await sharedCA;
  const backend = SqliteBackend.open({ path: ':memory:' });
  const bootstrapToken = 'abcdef.0123456789abcdef';
  const tokens = new TokenAuthenticator();
  tokens.add(bootstrapToken, { username: 'system:bootstrap:abcdef', groups: ['system:bootstrappers'] });
  const reviews: any[] = [];
  const virtualResources: VirtualResource[] = [];
  if (o.sar) {
    const decide = o.sar;
    virtualResources.push({
      info: { group: 'authorization.k8s.io', version: 'v1', resource: 'subjectaccessreviews', singular: 'subjectaccessreview', kind: 'SubjectAccessReview', namespaced: false, verbs: ['create'] },
      async create(ctx) {
        reviews.push(ctx.body.spec);
        return { ...ctx.body, status: { allowed: decide(ctx.body.spec) } };
      },
    });
  }
  const strategies = builtinStrategies({ serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 32767] });
  const apiserver: APIServer = new APIServer({
    backend,
    strategies,
    authenticator: new UnionAuthenticator([new X509Authenticator(), tokens]),
    subresources: builtinSubresources(),
    virtualResources,
    externalAddress: '127.0.0.1:0',
    patcher: () => loadPatcher(),
    extensions: { admit: admissionChain((g, r) => apiserver.store(g, r), [...defaultPlugins, csrRequestor, ...(o.admission ?? [])]) },
  });
  apiserver.selectors = selectorParsers;
  const server = https.createServer({ key: pki.serving.key, cert: pki.serving.cert, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: false }, apiserver.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: RestClient[] = [];
  const mk = (c: RestClient) => (clients.push(c), c);
  const admin = mk(new RestClient({ server: url, ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key, userAgent: 'csr-test' }));
  return {
    url,
    ca: pki.ca,
    admin,
    bootstrapToken,
    reviews,
    async clientFor(user, groups) {
      const kp = await issueCertificate(pki.ca, { commonName: user, organizations: groups, usage: 'client' });
      return mk(new RestClient({ server: url, ca: pki.ca.cert, cert: kp.cert, key: kp.key, userAgent: 'csr-test' }));
    },
    async stop() {
      for (const c of clients) c.close();
      apiserver.shutdown();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await backend.close();
    },
  };
}

/** A PEM PKCS#10 request for a fresh P-256 key, base64 as spec.request carries it. */
export async function makeCSR(o: { cn: string; o?: string[]; dnsNames?: string[]; ips?: string[] }): Promise<string> {
  const { webcrypto } = await import('node:crypto');
  const { x509Lib } = await import('../x509.js');
  const lib = await x509Lib();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const name = [`CN=${o.cn}`, ...(o.o ?? []).map((x) => `O=${x}`)].join(', ');
  const san = [...(o.dnsNames ?? []).map((v) => ({ type: 'dns' as const, value: v })), ...(o.ips ?? []).map((v) => ({ type: 'ip' as const, value: v }))];
  const csr = await lib.Pkcs10CertificateRequestGenerator.create({
    name,
    keys,
    signingAlgorithm: alg,
    extensions: san.length ? [new lib.SubjectAlternativeNameExtension(san)] : [],
  });
  return Buffer.from(csr.toString('pem')).toString('base64');
}
