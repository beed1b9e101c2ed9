/**
 * The control plane's composition root: data dir and certificates, storage, the API server,
 * bootstrap objects, and the controllers, started in order behind readiness gates.
 */
import { mkdirSync, existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync, renameSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import https from 'node:https';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { generateCA, issueCertificate, type KeyPairPEM } from '../base/pki.js';
import { logger } from '../base/log.js';
import { Histogram, Registry } from '../base/metrics.js';
import { SqliteBackend } from '../storage/sqlite/sqlite-backend.js';
import type { Backend } from '../storage/interface.js';
import { instrumentBackend } from '../storage/instrumented.js';
import { APIServer } from '../apiserver/apiserver.js';
import { LeanFront } from '../apiserver/lean-http.js';
import { BearerAuthenticator, parseTokenFile, TokenAuthenticator, UnionAuthenticator, X509Authenticator } from '../apiserver/auth/authenticator.js';
import { StoreCaches } from '../apiserver/auth/store-cache.js';
import { ServiceAccountTokens } from '../apiserver/auth/serviceaccount/tokens.js';
import { serviceAccountTokenSubresource } from '../apiserver/registry/core/serviceaccounts/token.js';
import { selfSubjectReviewResource, tokenReviewResource } from '../apiserver/registry/authentication/reviews.js';
import { builtinStrategies } from '../apiserver/registry/index.js';
import { builtinSubresources } from '../apiserver/registry/subresources.js';
import { selectorParsers } from '../apiserver/selectors.js';
import { admissionChain, type AdmissionPlugin } from '../apiserver/admission/index.js';
import { namespaceLifecycle } from '../apiserver/admission/namespace-lifecycle.js';
import { serviceAccount } from '../apiserver/admission/service-account.js';
import { priority } from '../apiserver/admission/priority.js';
import { defaultTolerationSeconds } from '../apiserver/admission/default-toleration-seconds.js';
import { defaultStorageClass } from '../apiserver/admission/default-storage-class.js';
import { storageObjectInUseProtection } from '../apiserver/admission/storage-object-in-use-protection.js';
import { persistentVolumeClaimResize } from '../apiserver/admission/persistent-volume-claim-resize.js';
import { podSecurity, type PodSecurityOptions } from '../apiserver/admission/pod-security/index.js';
import { limitRanger } from '../apiserver/admission/limit-ranger.js';
import { csrRequestor } from '../apiserver/admission/csr-requestor.js';
import { nodeRestriction } from '../apiserver/admission/node-restriction.js';
import { rbacEscalation } from '../apiserver/admission/rbac-escalation.js';
import { privilegedGroupsAuthorizer, UnionAuthorizer, type Authorizer, type RuleResolver } from '../apiserver/auth/authorizer.js';
import { RBACAuthorizer } from '../apiserver/auth/rbac/rbac-authorizer.js';
import { bootstrapPolicy, reconcileBootstrapPolicy } from '../apiserver/auth/rbac/bootstrap-policy.js';
import { ruleAllows, rulesOf } from '../apiserver/auth/rbac/rules.js';
import { NodeAuthorizer } from '../apiserver/auth/node/node-authorizer.js';
import { accessReviewResources } from '../apiserver/registry/authorization/reviews.js';
import { resourceQuota } from '../apiserver/admission/resource-quota/index.js';
import { loadOpenAPI } from '../apiserver/openapi/provider.js';
import { loadPatcher } from '../apiserver/patcher.js';
import { bootstrapObjects } from './bootstrap.js';
import { ServerLeaseReconciler } from './kubernetes-endpoints.js';
import { RestClient } from '../client/rest-client.js';
import { NamespaceController } from '../controllers/namespace/namespace-controller.js';
import { StatusError } from '../api/errors.js';
import { nthAddress, nthSubnet } from '../api/net.js';

// For the CLI, which may not import api/ and should not load the kubelet's modules to get it.
export { nthAddress };
// For the CLI's flags: a small module, where control-plane.js would load every controller before start.
export { zoneEvictionFromFlags } from '../controllers/nodelifecycle/zones.js';
import type { AgentOptions, RunningAgent } from './agent.js';
import type { ControlPlaneOptions } from './control-plane.js';

const log = logger('server');

export interface ServerOptions {
  /** Where certificates, the database, the kubeconfig and the token live. Default: a new temporary directory. */
  dataDir?: string;
  /** 0 picks a free port. Default 6443 for the CLI, 0 for the library. */
  port?: number;
  bindAddress?: string;
  /** Extra SANs for the serving certificate. */
  tlsSANs?: string[];
  /** `:memory:` keeps the store in memory (tests); default `<dataDir>/db/state.db`. */
  storagePath?: string;
  /** With etcd: the cluster's join token, to join servers that already bootstrapped it (shares their CA). */
  token?: string;
  /**
   * With etcd and `token`: the URL of a server of the cluster being joined (k3s's `--server`).
   * Joining fails unless that server's certificate is signed by the CA the store holds and the
   * token is accepted there, so a server never joins the wrong cluster by a mistyped endpoint.
   */
  joinServer?: string;
  /** Store objects in an etcd cluster instead of embedded SQLite. */
  etcd?: { endpoints: string[]; prefix?: string; tls?: { ca: string; cert?: string; key?: string } };
  serviceCIDR?: string;
  nodePortRange?: [number, number];
  /** Run the controller manager (namespace, replicaset, deployment, garbage collector). Default true. */
  controllers?: boolean;
  /** Run the scheduler. Default: as `controllers`. */
  scheduler?: boolean;
  /** Node lifecycle: how long a node may stay silent before it is marked Unknown (default 40 s). */
  nodeMonitorGracePeriodMs?: number;
  /** Node lifecycle: zone-aware eviction rates (upstream's --node-eviction-rate and friends). */
  zoneEviction?: ControlPlaneOptions['zoneEviction'];
  /** Seconds pods tolerate a not-ready node before eviction (default 300). */
  defaultNotReadyTolerationSeconds?: number;
  /** Seconds pods tolerate an unreachable node before eviction (default 300). */
  defaultUnreachableTolerationSeconds?: number;
  /** The pod range nodes' ranges are carved from. Default 10.42.0.0/16. */
  clusterCIDR?: string;
  /** LoadBalancer addresses of the built-in local provider (default 127.0.100.0/24); false runs no cloud controller. */
  loadBalancerPool?: string | false;
  /**
   * Run a node agent (containerd, CNI, kubelet) in this process, as `k8ts server` does unless
   * --disable-agent. Default false for the library. Its state lives in DATA_DIR/agent.
   */
  agent?: boolean | Omit<Partial<AgentOptions>, 'client' | 'ca'>;
  /** Remove the data dir on stop (default: only when it was a temporary one). */
  removeDataDirOnStop?: boolean;
  /** Pod Security admission's cluster defaults and exemptions (upstream's PodSecurityConfiguration). */
  podSecurity?: PodSecurityOptions;
  /** Upstream's --admission-control-config-file (its PodSecurity configuration is read). */
  admissionControlConfigFile?: string;
  /** Upstream's --encryption-provider-config: an EncryptionConfiguration file (secrets at rest). */
  encryptionProviderConfig?: string;
  /** Upstream's --audit-policy-file and --audit-log-path (`-` for stdout). */
  auditPolicyFile?: string;
  auditLogPath?: string;
  /**
   * Authorization: 'Node,RBAC' (default; upstream's --authorization-mode) checks every request;
   * 'AlwaysAllow' lets every authenticated user do anything.
   */
  authorizationMode?: 'Node,RBAC' | 'AlwaysAllow';
  /** Upstream's --token-auth-file: CSV `token,user,uid,"group1,group2"`. */
  tokenAuthFile?: string;
  /** Service account token issuer (upstream's --service-account-issuer). */
  serviceAccountIssuer?: string;
  /**
   * The address pods reach this server at, written to the `kubernetes` Service's endpoints
   * (upstream's --advertise-address). Default: the node agent's address, else the bind address
   * unless it is loopback or a wildcard (then no endpoint is advertised).
   */
  advertiseAddress?: string;
  /** The API server identity lease's duration and renewal interval (tests; defaults 15 s and 5 s). */
  serverLease?: { durationSeconds?: number; renewIntervalMs?: number };
  /** Audiences tokens are for when none is named (upstream's --api-audiences; default the issuer). */
  apiAudiences?: string[];
}

export interface RunningServer {
  url: string;
  port: number;
  dataDir: string;
  kubeconfigPath: string;
  /** The admin kubeconfig as an object (clusters, users, contexts). */
  kubeconfig: Record<string, any>;
  /** The kubeconfig as YAML text. */
  kubeconfigYAML: string;
  /** The in-process node agent, when one runs. */
  agent?: RunningAgent;
  /** The agent join token. */
  token: string;
  ca: string;
  adminCert: KeyPairPEM;
  apiserver: APIServer;
  /** Graceful stop: in-flight requests finish, watches close, the store closes. */
  stop(): Promise<void>;
}

interface PKI {
  ca: KeyPairPEM;
  serving: KeyPairPEM;
  admin: KeyPairPEM;
  controller: KeyPairPEM;
  /** The private key (PEM) that signs service account tokens. */
  serviceAccountKey: string;
}

/** The service account signing key (EC P-256, so tokens are ES256), made once per data dir. */
function loadOrCreateServiceAccountKey(dir: string): string {
  const path = join(dir, 'service-account.key');
  if (existsSync(path)) return readFileSync(path, 'utf8');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  writeAtomic(path, pem);
  return pem;
}

function writeAtomic(path: string, data: string, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}

async function loadOrCreate(dir: string, name: string, make: () => Promise<KeyPairPEM>): Promise<KeyPairPEM> {
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  if (existsSync(crt) && existsSync(key)) return { cert: readFileSync(crt, 'utf8'), key: readFileSync(key, 'utf8') };
  const kp = await make();
  writeAtomic(key, kp.key);
  writeAtomic(crt, kp.cert, 0o644);
  return kp;
}

/** The serving certificate's IP and DNS names, from the configured SANs. */
function certSANs(sans: string[]): { ips: string[]; dns: string[] } {
  const ips = ['127.0.0.1', '::1', ...sans.filter((s) => /^[\d.]+$|:/.test(s))];
  const dns = ['localhost', hostname(), 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', ...sans.filter((s) => !/^[\d.]+$|:/.test(s))];
  return { ips: [...new Set(ips)], dns: [...new Set(dns)] };
}

async function ensurePKI(dir: string, sans: string[]): Promise<PKI> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = await loadOrCreate(dir, 'ca', () => generateCA(`k8ts-ca@${Math.floor(Date.now() / 1000)}`));
  const { ips, dns } = certSANs(sans);
  // The serving certificate is reissued when the wanted SANs change; the CA stays.
  const sanFile = join(dir, 'serving.sans');
  const wanted = JSON.stringify([...new Set([...ips, ...dns])].sort());
  if (existsSync(sanFile) && readFileSync(sanFile, 'utf8') !== wanted) {
    rmSync(join(dir, 'serving.crt'), { force: true });
  }
  const serving = await loadOrCreate(dir, 'serving', () => issueCertificate(ca, { commonName: 'k8ts-apiserver', dnsNames: [...new Set(dns)], ips: [...new Set(ips)], usage: 'server' }));
  writeAtomic(sanFile, wanted, 0o644);
  const admin = await loadOrCreate(dir, 'admin', () => issueCertificate(ca, { commonName: 'system:admin', organizations: ['system:masters'], usage: 'client' }));
  const controller = await loadOrCreate(dir, 'controller-manager', () =>
    issueCertificate(ca, { commonName: 'system:kube-controller-manager', organizations: ['system:masters'], usage: 'client' }),
  );
  return { ca, serving, admin, controller, serviceAccountKey: loadOrCreateServiceAccountKey(dir) };
}

function kubeconfigFor(url: string, ca: string, user: KeyPairPEM): { obj: Record<string, any>; yaml: string } {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const obj = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'k8ts', cluster: { server: url, 'certificate-authority-data': b64(ca) } }],
    users: [{ name: 'k8ts-admin', user: { 'client-certificate-data': b64(user.cert), 'client-key-data': b64(user.key) } }],
    contexts: [{ name: 'k8ts', context: { cluster: 'k8ts', user: 'k8ts-admin' } }],
    'current-context': 'k8ts',
    preferences: {},
  };
  // Written by hand: the shape is fixed and loading a YAML library here costs start-up time.
  const yaml = `apiVersion: v1
kind: Config
clusters:
- name: k8ts
  cluster:
    server: ${url}
    certificate-authority-data: ${b64(ca)}
users:
- name: k8ts-admin
  user:
    client-certificate-data: ${b64(user.cert)}
    client-key-data: ${b64(user.key)}
contexts:
- name: k8ts
  context:
    cluster: k8ts
    user: k8ts-admin
current-context: k8ts
preferences: {}
`;
  return { obj, yaml };
}

function loadOrCreateToken(path: string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  // Bootstrap-token shape: [a-z0-9]{6}.[a-z0-9]{16}
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const pick = (n: number) => Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');
  const token = `${pick(6)}.${pick(16)}`;
  writeAtomic(path, token + '\n');
  return token;
}

/**
 * Servers on temporary data dirs (tests, the library) share one PKI per process: issuing
 * certificates is most of a cold start, and such servers keep nothing anyway.
 */
let ephemeralPKI: { sans: string; pki: Promise<PKI> } | undefined;
function seedPKI(dir: string, pki: PKI): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files: [string, KeyPairPEM][] = [['ca', pki.ca], ['serving', pki.serving], ['admin', pki.admin], ['controller-manager', pki.controller]];
  for (const [name, kp] of files) {
    writeAtomic(join(dir, `${name}.key`), kp.key);
    writeAtomic(join(dir, `${name}.crt`), kp.cert, 0o644);
  }
  writeAtomic(join(dir, 'service-account.key'), pki.serviceAccountKey);
}

/** Check that `url` is a server of the cluster whose CA is `caPEM`, and that it accepts `token`. */
async function verifyJoinServer(url: string, caPEM: string, token: string): Promise<void> {
  const client = new RestClient({ server: url, ca: caPEM, token, userAgent: 'k8ts-server-join' });
  try {
    const review = await client.request('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
    const who = review.status?.userInfo?.username;
    if (who !== `system:bootstrap:${token.split('.')[0]}`) throw new Error(`the join token authenticates there as ${who ?? 'nobody'}`);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/self[- ]signed|unable to verify|certificate/i.test(msg)) throw new Error(`--server ${url} is not a server of the cluster in this store: its certificate is not signed by the cluster CA (${msg})`);
    throw new Error(`--server ${url}: cannot join through it: ${msg}`);
  } finally {
    client.close();
  }
}

/** The first address of the Service range, which the `kubernetes` Service takes (10.43.0.1). */
function firstServiceIP(cidr: string): string {
  return nthAddress(cidr, 1);
}

/** The n-th address of the Service range (10 is the cluster DNS, as kube-dns's 10.43.0.10). */
function nthServiceIP(cidr: string, nth: number): string {
  return nthAddress(cidr, nth);
}

/** Start the API server (and controllers) in-process. */
export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const t0 = performance.now();
  // Where start-up time goes, for `K8TS_LOG_LEVEL=debug`.
  const phase = (name: string) => log.debug('start-up phase done', { phase: name, ms: Math.round(performance.now() - t0) });
  const temporary = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'k8ts-'));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const tlsDir = join(dataDir, 'tls');
  const metrics = new Registry();
  const storageLatency = metrics.register(
    new Histogram('apiserver_storage_request_duration_seconds', 'Storage request latency in seconds, by operation.', ['operation'], [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]),
  );
  let storagePath = opts.storagePath;
  if (!storagePath) {
    mkdirSync(join(dataDir, 'db'), { recursive: true });
    storagePath = join(dataDir, 'db', 'state.db');
  }
  const rawBackend: Backend = opts.etcd
    ? await (await import('../storage/etcd/etcd-backend.js')).EtcdBackend.open({ ...opts.etcd, compactIntervalMs: 5 * 60_000, compactKeepRevisions: 10_000 })
    : SqliteBackend.open({ path: storagePath, compactIntervalMs: 5 * 60_000, compactKeepRevisions: 10_000 });
  // Encryption sits under everything that reads or writes the store, so no plaintext reaches it.
  let encrypted = rawBackend;
  if (opts.encryptionProviderConfig) {
    try {
      // Loaded only when configured: start-up time matters.
      const { encryptingBackend, loadEncryptionConfig } = await import('../storage/encryption/index.js');
      encrypted = encryptingBackend(rawBackend, loadEncryptionConfig(opts.encryptionProviderConfig));
    } catch (e) {
      await rawBackend.close().catch(() => undefined);
      throw e;
    }
  }
  const backend = instrumentBackend(encrypted, (op, s) => storageLatency.observe({ operation: op }, s));
  phase('store opened');

  let pki: PKI;
  let token: string;
  // Pods reach the API server at the kubernetes Service's address and at the server node's address.
  const serviceCIDRForSANs = opts.serviceCIDR ?? '10.43.0.0/16';
  const agentOpts = opts.agent && opts.agent !== true ? opts.agent : {};
  const podSANs = opts.agent ? [firstServiceIP(serviceCIDRForSANs), agentOpts.nodeIP ?? nthAddress(nthSubnet(opts.clusterCIDR ?? '10.42.0.0/16', 24, 0), 1)] : [firstServiceIP(serviceCIDRForSANs)];
  opts = { ...opts, tlsSANs: [...new Set([...(opts.tlsSANs ?? []), ...podSANs])] };
  const sans = JSON.stringify(opts.tlsSANs ?? []);
  if (opts.etcd) {
    // Servers sharing a store share the CA, client certificates and token (bootstrap-data.ts).
    const { sharedSecrets } = await import('./bootstrap-data.js');
    const tokenFile = join(dataDir, 'token');
    const known = opts.token ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined);
    const shared = await sharedSecrets(backend, known, async () => {
      const local = await ensurePKI(tlsDir, opts.tlsSANs ?? []);
      return { ca: local.ca, admin: local.admin, controller: local.controller, serviceAccountKey: local.serviceAccountKey, token: known ?? loadOrCreateToken(tokenFile) };
    }).catch(async (e) => {
      await backend.close().catch(() => undefined);
      if (temporary) rmSync(dataDir, { recursive: true, force: true });
      throw e;
    });
    token = shared.token;
    if (opts.joinServer) {
      await verifyJoinServer(opts.joinServer, shared.ca.cert, token).catch(async (e) => {
        await backend.close().catch(() => undefined);
        if (temporary) rmSync(dataDir, { recursive: true, force: true });
        throw e;
      });
    }
    writeAtomic(tokenFile, token + '\n');
    mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
    if (!existsSync(join(tlsDir, 'ca.crt')) || readFileSync(join(tlsDir, 'ca.crt'), 'utf8') !== shared.ca.cert) {
      // A different CA than this dir had: its serving certificate must be reissued too.
      rmSync(join(tlsDir, 'serving.crt'), { force: true });
    }
    for (const [name, kp] of [['ca', shared.ca], ['admin', shared.admin], ['controller-manager', shared.controller]] as const) {
      writeAtomic(join(tlsDir, `${name}.key`), kp.key);
      writeAtomic(join(tlsDir, `${name}.crt`), kp.cert, 0o644);
    }
    // Every server signs and accepts the same service account tokens.
    if (shared.serviceAccountKey) writeAtomic(join(tlsDir, 'service-account.key'), shared.serviceAccountKey);
    pki = await ensurePKI(tlsDir, opts.tlsSANs ?? []);
  } else if (temporary) {
    if (ephemeralPKI?.sans !== sans) {
      const seedDir = mkdtempSync(join(tmpdir(), 'k8ts-pki-'));
      ephemeralPKI = { sans, pki: ensurePKI(seedDir, opts.tlsSANs ?? []).finally(() => rmSync(seedDir, { recursive: true, force: true })) };
    }
    pki = await ephemeralPKI.pki;
    seedPKI(tlsDir, pki);
    token = loadOrCreateToken(join(dataDir, 'token'));
  } else {
    pki = await ensurePKI(tlsDir, opts.tlsSANs ?? []);
    token = loadOrCreateToken(join(dataDir, 'token'));
  }

  phase('certificates');
  const staticTokens = new TokenAuthenticator();
  // The join token only lets a node ask for its own credentials (TLS bootstrap), as upstream's bootstrap tokens.
  staticTokens.add(token, { username: `system:bootstrap:${token.split('.')[0]}`, groups: ['system:bootstrappers'] });
  if (opts.tokenAuthFile) for (const t of parseTokenFile(readFileSync(opts.tokenAuthFile, 'utf8'))) staticTokens.add(t.token, t.user);
  const strategies = builtinStrategies({
    serviceCIDR: opts.serviceCIDR ?? '10.43.0.0/16',
    nodePortRange: opts.nodePortRange ?? [30000, 32767],
  });
  // Caches of the API server's own stores (tokens' objects, authorization), made on first use.
  const caches = new StoreCaches((g, r) => apiserver.store(g, r));
  const serviceAccountTokens = new ServiceAccountTokens({
    signingKey: pki.serviceAccountKey,
    issuer: opts.serviceAccountIssuer,
    apiAudiences: opts.apiAudiences,
    caches: (g, r) => caches.get(g, r),
  });
  const bearer = new BearerAuthenticator([staticTokens, serviceAccountTokens]);
  // The API server's identity towards kubelets (exec, attach, port-forward, logs).
  const kubeletClient = await loadOrCreate(tlsDir, 'apiserver-kubelet-client', () =>
    issueCertificate(pki.ca, { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'], usage: 'client' }),
  );
  const subresources = [...builtinSubresources({ kubeletClient }), serviceAccountTokenSubresource(serviceAccountTokens)];
  // Authorization reads the API server's own stores, which exist once it does: a delegate until then.
  let authz: (Authorizer & RuleResolver) | undefined;
  const authorizing = opts.authorizationMode !== 'AlwaysAllow';
  const authorizer: (Authorizer & RuleResolver) | undefined = authorizing
    ? {
        authorize: (a) => (authz ? authz.authorize(a) : { decision: 'noOpinion', reason: 'authorizer not ready' }),
        rulesFor: (u, ns) => (authz ? authz.rulesFor(u, ns) : { resourceRules: [], nonResourceRules: [], incomplete: true }),
      }
    : undefined;
  const admissionPlugins: AdmissionPlugin[] = [
    namespaceLifecycle,
    csrRequestor,
    limitRanger,
    serviceAccount,
    nodeRestriction,
    priority,
    defaultTolerationSeconds({ notReadySeconds: opts.defaultNotReadyTolerationSeconds, unreachableSeconds: opts.defaultUnreachableTolerationSeconds }),
    // Upstream's order after DefaultTolerationSeconds: DefaultStorageClass, StorageObjectInUseProtection, PersistentVolumeClaimResize.
    defaultStorageClass,
    storageObjectInUseProtection,
    persistentVolumeClaimResize,
    podSecurity(opts.podSecurity ?? (opts.admissionControlConfigFile ? (await import('../apiserver/admission/config.js')).loadAdmissionConfig(opts.admissionControlConfigFile).podSecurity : undefined)),
    ...(authorizer ? [rbacEscalation(authorizer)] : []),
    // Last: a refusal after it would leave a charge only the quota controller corrects.
    resourceQuota,
  ];
  const audit = opts.auditLogPath ? (await import('../apiserver/audit/index.js')).createAuditSink({ policyPath: opts.auditPolicyFile, logPath: opts.auditLogPath }) : undefined;
  const apiserver: APIServer = new APIServer({
    audit,
    backend,
    strategies,
    authenticator: new UnionAuthenticator([new X509Authenticator(), bearer]),
    authorizer,
    subresources,
    virtualResources: [tokenReviewResource(bearer), selfSubjectReviewResource(), ...accessReviewResources()],
    externalAddress: `${opts.bindAddress && opts.bindAddress !== '0.0.0.0' ? opts.bindAddress : '127.0.0.1'}:${opts.port ?? 0}`,
    extensions: { admit: admissionChain((g, r) => apiserver.store(g, r), admissionPlugins, (g, r) => caches.get(g, r)) },
    openapi: () => loadOpenAPI(strategies, subresources),
    patcher: () => loadPatcher(),
    metrics,
  });
  apiserver.selectors = selectorParsers;
  const lookup = (g: string, r: string) => apiserver.store(g, r);
  let rbac: RBACAuthorizer | undefined;
  let nodeAuthz: NodeAuthorizer | undefined;
  if (authorizing) {
    rbac = new RBACAuthorizer(lookup);
    // Nodes get the system:node role's rules, narrowed to their own pods' objects (upstream's node authorizer).
    const nodeRules = rulesOf(bootstrapPolicy().clusterRoles.find((r) => r.metadata.name === 'system:node'));
    nodeAuthz = new NodeAuthorizer(lookup, { nodeRules: (a) => nodeRules.some((r) => ruleAllows(a, r)) });
    authz = new UnionAuthorizer([privilegedGroupsAuthorizer, nodeAuthz, rbac]);
  }

  // Plain requests are parsed by the lean front; node:http gets the rest (K8TS_NODE_HTTP=1: all).
  const fronts = new Map<https.Server, LeanFront>();
  const newHTTPSServer = (o: { legacyClients?: boolean } = {}) => {
    const srv = https.createServer(
      {
        key: pki.serving.key,
        cert: pki.serving.cert,
        // Minimal TLS stacks in pods (busybox's wget) send no signature_algorithms, so TLS 1.2
        // falls back to SHA-1 handshake signatures, which Go's TLS (upstream) accepts and OpenSSL's
        // default security level refuses.
        ...(o.legacyClients ? { ciphers: `${tls.DEFAULT_CIPHERS}:@SECLEVEL=0` } : {}),
        ca: pki.ca.cert,
        requestCert: true,
        rejectUnauthorized: false,
        keepAliveTimeout: 65_000,
      },
      apiserver.handle,
    );
    srv.on('upgrade', apiserver.handleUpgrade);
    srv.on('tlsClientError', (e, sock) => log.debug('TLS handshake failed', { from: sock.remoteAddress, err: e.message }));
    srv.headersTimeout = 60_000;
    srv.requestTimeout = 0;
    if (!process.env.K8TS_NODE_HTTP) fronts.set(srv, new LeanFront(srv, apiserver.handle));
    return srv;
  };
  const server = newHTTPSServer();
  const extraListeners: https.Server[] = [];
  const bind = opts.bindAddress ?? '127.0.0.1';
  // A failure from here on must not leave the store open or the port bound.
  const abort = async (e: unknown): Promise<never> => {
    server.close();
    server.closeAllConnections();
    fronts.get(server)?.closeAll();
    await backend.close().catch(() => undefined);
    if (temporary) rmSync(dataDir, { recursive: true, force: true });
    throw e;
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, bind, () => resolve());
  }).catch(abort);
  const port = (server.address() as AddressInfo).port;
  const host = bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind.includes(':') ? `[${bind}]` : bind;
  const url = `https://${host}:${port}`;
  phase('listening');

  let bootstrapped = false;
  apiserver.addReadyCheck({ name: 'bootstrap-objects', check: () => bootstrapped });
  await bootstrapObjects(apiserver, firstServiceIP(opts.serviceCIDR ?? '10.43.0.0/16'), nthServiceIP(opts.serviceCIDR ?? '10.43.0.0/16', 10), pki.ca.cert).catch(abort);
  phase('bootstrap objects');
  if (rbac && nodeAuthz) {
    // The default roles and bindings, then caches of them, before anything is served as ready.
    await reconcileBootstrapPolicy(lookup).catch(abort);
    phase('bootstrap RBAC policy');
    rbac.start();
    // The node authorizer starts with the first request from a node.
    nodeAuthz.lazy();
    await rbac.synced;
    phase('RBAC caches synced');
  }

  // The kubeconfig is written before /readyz reports ok.
  const kc = kubeconfigFor(url, pki.ca.cert, pki.admin);
  const kubeconfigPath = join(dataDir, 'kubeconfig.yaml');
  writeAtomic(kubeconfigPath, kc.yaml);
  bootstrapped = true;

  const stoppers: (() => Promise<void> | void)[] = [];
  // Each in-process component has its own identity, as upstream's do: RBAC and the node
  // authorizer grant each only what it needs.
  const componentClient = async (file: string, commonName: string, organizations: string[], userAgent: string) => {
    const kp = await loadOrCreate(tlsDir, file, () => issueCertificate(pki.ca, { commonName, organizations, usage: 'client' }));
    const c = new RestClient({ server: url, ca: pki.ca.cert, cert: kp.cert, key: kp.key, userAgent });
    stoppers.push(() => c.close());
    return c;
  };
  const runControllers = opts.controllers !== false;
  const runScheduler = opts.scheduler ?? runControllers;
  if (runControllers || runScheduler) {
    const controllerManager = await componentClient('kube-controller-manager', 'system:kube-controller-manager', [], 'k8ts-controller-manager');
    const clients = {
      scheduler: await componentClient('kube-scheduler', 'system:kube-scheduler', [], 'k8ts-scheduler'),
      controllerManager,
      cloudController: await componentClient('cloud-controller', 'system:k8ts-cloud-controller', [], 'k8ts-cloud-controller'),
    };
    // Loaded only when used: the controllers and scheduler are most of the code, and start-up time matters.
    const { startControlPlane } = await import('./control-plane.js');
    const cp = startControlPlane(clients, { caPEM: pki.ca.cert, ca: pki.ca, scheduler: runScheduler, controllers: runControllers, nodeMonitorGracePeriodMs: opts.nodeMonitorGracePeriodMs, zoneEviction: opts.zoneEviction, clusterCIDR: opts.clusterCIDR, cloudProvider: opts.loadBalancerPool === false ? false : undefined, loadBalancerPool: opts.loadBalancerPool || undefined });
    stoppers.unshift(() => cp.stop());
    if (runControllers) {
      const ns = new NamespaceController(controllerManager);
      ns.start();
      stoppers.unshift(() => ns.stop());
    }
  }
  let agent: RunningAgent | undefined;
  if (opts.agent) {
    const { startAgent, existingPodCIDR } = await import('./agent.js');
    const ao = opts.agent === true ? {} : opts.agent;
    const nodeName = (ao.nodeName ?? hostname()).toLowerCase();
    const client = await componentClient(`kubelet-client-${nodeName}`, `system:node:${nodeName}`, ['system:nodes'], 'k8ts-agent');
    const proxyClient = await componentClient('kube-proxy', 'system:kube-proxy', [], 'k8ts-proxy');
    const dnsClient = await componentClient('k8ts-dns', 'system:k8ts-dns', [], 'k8ts-dns');
    const clusterCIDR = opts.clusterCIDR ?? '10.42.0.0/16';
    const serviceCIDR = opts.serviceCIDR ?? '10.43.0.0/16';
    try {
      agent = await startAgent({
        rootDir: join(dataDir, 'agent'),
        clusterCIDR,
        serviceCIDR,
        clusterDNS: nthServiceIP(serviceCIDR, 10),
        // The server's own node takes the cluster's first range, so its address is known at once.
        podCIDR: ao.nodeIP ? undefined : ((await existingPodCIDR(client, nodeName)) ?? nthSubnet(clusterCIDR, 24, 0)),
        ...ao,
        nodeName,
        client,
        proxyClient,
        dnsClient,
        ca: pki.ca.cert,
      });
    } catch (e) {
      for (const st of [...stoppers]) await st();
      return abort(e);
    }
    const a = agent;
    stoppers.unshift(async () => {
      // A throwaway server takes its pods, network and state with it (unmounting before the dir goes).
      const gone = opts.removeDataDirOnStop ?? temporary;
      await a.stop({ removePods: gone, removeState: gone });
    });
  }
  // Pods reach the API server through the kubernetes Service: at the node's address when the
  // server listens only on loopback (a second listener there), else at the bound address.
  const loopbackBind = bind.startsWith('127.') || bind === '::1' || bind === 'localhost';
  const advertise = agent ? agent.nodeIP : loopbackBind || bind === '0.0.0.0' || bind === '::' ? undefined : bind;
  if (agent && loopbackBind) {
    const extra = newHTTPSServer({ legacyClients: true });
    const ok = await new Promise<boolean>((resolve) => {
      extra.once('error', (e) => {
        log.warn('cannot listen on the node address for pods', { address: `${agent!.nodeIP}:${port}`, err: String(e) });
        resolve(false);
      });
      extra.listen(port, agent!.nodeIP, () => resolve(true));
    });
    if (ok) extraListeners.push(extra);
  }
  // Every server keeps an identity lease holding its advertised address; the endpoints are the
  // union of the live leases' addresses (upstream's lease endpoint reconciler).
  const advertised = opts.advertiseAddress ?? (advertise && (!agent || !loopbackBind || extraListeners.length) ? advertise : undefined);
  const loopbackClient = await componentClient('apiserver-loopback', 'system:apiserver', ['system:masters'], 'k8ts-apiserver');
  if (agent) {
    // As k3s: the server's own node carries the control-plane role (the ROLES column of `kubectl
    // get nodes`). The server sets it: node agents may not give themselves node-role labels.
    const roleLabel = { metadata: { labels: { 'node-role.kubernetes.io/control-plane': 'true' } } };
    await loopbackClient
      .send('PATCH', `/api/v1/nodes/${encodeURIComponent(agent.nodeName)}`, roleLabel, { contentType: 'application/merge-patch+json' })
      .catch((e) => log.warn('cannot label the server node as control plane', { node: agent!.nodeName, err: String(e) }));
  }
  const leaseReconciler = new ServerLeaseReconciler({
    client: loopbackClient,
    identity: `${hostname()}\0${resolve(dataDir)}`,
    advertise: advertised ? { ip: advertised, port } : undefined,
    leaseDurationSeconds: opts.serverLease?.durationSeconds,
    renewIntervalMs: opts.serverLease?.renewIntervalMs,
  });
  // Servers that share a store, or publish an address, are listed before they report ready; a
  // lone server's lease (seen only by `datastore import`) follows in the background, as start-up
  // time matters most for throwaway library servers.
  const leaseStarted = leaseReconciler.start();
  if (opts.etcd || advertised) await leaseStarted;
  else leaseStarted.catch((e) => log.warn('the server identity lease could not be written', { err: String(e) }));
  stoppers.unshift(() => leaseReconciler.stop());
  log.info('k8ts server ready', { url, dataDir, kubeconfig: kubeconfigPath, startupMs: Math.round(performance.now() - t0) });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      apiserver.shutdown();
      for (const s of stoppers) await s();
      await Promise.all(
        [server, ...extraListeners].map(
          (srv) =>
            new Promise<void>((resolve) => {
              srv.close(() => resolve());
              srv.closeIdleConnections();
              fronts.get(srv)?.closeIdle();
              // In-flight requests get a bounded time to finish.
              setTimeout(() => {
                srv.closeAllConnections();
                fronts.get(srv)?.closeAll();
              }, 5000).unref();
            }),
        ),
      );
      caches.stop();
      rbac?.stop();
      nodeAuthz?.stop();
      await audit?.close();
      await backend.close();
      if (opts.removeDataDirOnStop ?? temporary) rmSync(dataDir, { recursive: true, force: true });
    })());

  return { url, port, dataDir, kubeconfigPath, kubeconfig: kc.obj, kubeconfigYAML: kc.yaml, token, ca: pki.ca.cert, adminCert: pki.admin, apiserver, agent, stop };
}

export { StatusError };
