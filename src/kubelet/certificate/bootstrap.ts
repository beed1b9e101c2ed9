/**
 * Kubelet TLS bootstrap (upstream's pkg/kubelet/certificate/bootstrap): with only a bootstrap
 * token, ask the cluster for a client certificate as system:node:<name> through a
 * CertificateSigningRequest, wait for it to be approved and issued, and keep it on disk.
 */
import { createHash, createPrivateKey, X509Certificate, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';
import { StatusError } from '../../api/errors.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';

/** The signer of kubelet client certificates. */
export const kubeletClientSigner = 'kubernetes.io/kube-apiserver-client-kubelet';

/** Options of {@link bootstrapNodeCredentials}. */
export interface BootstrapOptions {
  /** A client authenticated with the bootstrap token. */
  client: RestClient;
  nodeName: string;
  /** Where kubelet-client.crt and kubelet-client.key live. */
  dir: string;
  /** How long to wait for the certificate; default 15 minutes. */
  timeoutMs?: number;
  /** How often to look at the request; default 250 ms. */
  pollMs?: number;
}

let x509: typeof X509 | undefined;
async function lib(): Promise<typeof X509> {
  if (!x509) {
    await import('reflect-metadata');
    const l = await import('@peculiar/x509');
    l.cryptoProvider.set(webcrypto as unknown as Crypto);
    x509 = l;
  }
  return x509;
}

function writeAtomic(path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}

/**
 * True when `cert` belongs to `key`, names the node, and has more than 20% of its lifetime left
 * (upstream's rotation threshold is 70-90%; a bootstrap only needs to avoid handing out an
 * almost-expired pair).
 */
export function usableCredentials(cert: string, key: string, nodeName: string, now = Date.now()): boolean {
  return usableFor(cert, key, `system:node:${nodeName}`, now);
}

function usableFor(cert: string, key: string, commonName: string, now = Date.now()): boolean {
  try {
    const c = new X509Certificate(cert);
    if (!c.checkPrivateKey(createPrivateKey(key))) return false;
    if (!c.subject.split('\n').includes(`CN=${commonName}`)) return false;
    const from = new Date(c.validFrom).getTime();
    const to = new Date(c.validTo).getTime();
    if (now < from || to <= from) return false;
    return to - now > 0.2 * (to - from);
  } catch {
    return false;
  }
}

/** Load the pending key (so a restart reuses its request), or make and keep a new one. */
async function pendingKey(path: string): Promise<{ pem: string; keys: CryptoKeyPair }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256' };
  if (existsSync(path)) {
    try {
      const pem = readFileSync(path, 'utf8');
      const k = createPrivateKey(pem);
      const jwk = k.export({ format: 'jwk' });
      const priv = await webcrypto.subtle.importKey('jwk', jwk, alg, true, ['sign']);
      const pub = await webcrypto.subtle.importKey('jwk', { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, alg, true, ['verify']);
      return { pem, keys: { privateKey: priv, publicKey: pub } as unknown as CryptoKeyPair };
    } catch {
      // Unreadable: start over with a new key.
    }
  }
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as any);
  const pem = (await lib()).PemConverter.encode(der, 'PRIVATE KEY');
  writeAtomic(path, pem, 0o600);
  return { pem, keys };
}

/** The request for `keys` with subject `dn`, PEM then base64 as spec.request carries it. */
async function makeRequest(keys: CryptoKeyPair, dn: string, namePrefix: string): Promise<{ request: string; name: string }> {
  const l = await lib();
  const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' };
  const csr = await l.Pkcs10CertificateRequestGenerator.create({ name: dn, keys, signingAlgorithm });
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey as any));
  // Named after the key, as upstream's digestedName: a restart with the same key finds its request.
  const digest = createHash('sha256').update(spki).update(dn).digest('base64url');
  return { request: Buffer.from(csr.toString('pem')).toString('base64'), name: `${namePrefix}-${digest}` };
}

function condition(csr: KObject, type: string): any {
  return (csr.status?.conditions ?? []).find((c: any) => c?.type === type && c.status === 'True');
}

/**
 * The node's client credentials: the ones in `dir` while still good, else new ones obtained
 * with the bootstrap token through a CertificateSigningRequest. Throws when the request is
 * denied or fails, or on timeout.
 */
export async function bootstrapNodeCredentials(o: BootstrapOptions): Promise<{ cert: string; key: string }> {
  return bootstrapClient(o, { file: 'kubelet-client', commonName: `system:node:${o.nodeName}`, dn: `CN=system:node:${o.nodeName}, O=system:nodes`, signerName: kubeletClientSigner, namePrefix: 'node-csr' });
}

/** The node components k8ts lets a joining node get client certificates for (see the CSR approver). */
export type NodeComponent = 'system:kube-proxy' | 'system:k8ts-dns';

/**
 * Client credentials for a node component (kube-proxy, cluster DNS), obtained the same way with
 * the signer kubernetes.io/kube-apiserver-client: each runs as its own user, not as the node.
 */
export async function bootstrapComponentCredentials(o: Omit<BootstrapOptions, 'nodeName'> & { commonName: NodeComponent }): Promise<{ cert: string; key: string }> {
  const file = o.commonName.replace(/^system:/, '').replace(/[^a-z0-9-]/g, '-');
  return bootstrapClient(o, { file, commonName: o.commonName, dn: `CN=${o.commonName}`, signerName: 'kubernetes.io/kube-apiserver-client', namePrefix: 'component-csr' });
}

async function bootstrapClient(
  o: Omit<BootstrapOptions, 'nodeName'>,
  w: { file: string; commonName: string; dn: string; signerName: string; namePrefix: string },
): Promise<{ cert: string; key: string }> {
  const certPath = join(o.dir, `${w.file}.crt`);
  const keyPath = join(o.dir, `${w.file}.key`);
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    const key = readFileSync(keyPath, 'utf8');
    if (usableFor(cert, key, w.commonName)) return { cert, key };
  }
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const tmpKeyPath = `${keyPath}.pending`;
  const { pem: key, keys } = await pendingKey(tmpKeyPath);
  const { request, name } = await makeRequest(keys, w.dn, w.namePrefix);
  const csrs = resources.certificatesigningrequests;
  try {
    await o.client.create(csrs, undefined, {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name },
      spec: { request, signerName: w.signerName, usages: ['digital signature', 'client auth'] },
    });
  } catch (e) {
    // Made before a restart, with this same key.
    if (!(e instanceof StatusError && e.code === 409)) throw e;
  }
  const deadline = Date.now() + (o.timeoutMs ?? 15 * 60_000);
  for (;;) {
    const csr = await o.client.get(csrs, '', name);
    const denied = condition(csr, 'Denied');
    if (denied) throw new Error(`certificate signing request ${name} was denied: ${denied.reason ?? ''} ${denied.message ?? ''}`.trim());
    const failed = condition(csr, 'Failed');
    if (failed) throw new Error(`certificate signing request ${name} failed: ${failed.reason ?? ''} ${failed.message ?? ''}`.trim());
    if (csr.status?.certificate) {
      const cert = Buffer.from(csr.status.certificate, 'base64').toString('utf8');
      if (!usableFor(cert, key, w.commonName)) throw new Error(`certificate signing request ${name} was issued a certificate that does not match the request`);
      writeAtomic(keyPath, key, 0o600);
      writeAtomic(certPath, cert, 0o600);
      rmSync(tmpKeyPath, { force: true });
      return { cert, key };
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for certificate signing request ${name} to be approved and issued`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 250));
  }
}
