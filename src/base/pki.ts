/**
 * Certificates for the cluster: a CA, serving certificates and client certificates, as PEM.
 * ECDSA P-256 keys, because they are generated in milliseconds and every kubectl accepts them.
 */
import { webcrypto, X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

// Loaded on first use: only a first start (or a new agent) issues certificates, and the
// library costs start-up time.
let x509: typeof X509;
async function lib(): Promise<typeof X509> {
  if (!x509) {
    await import('reflect-metadata');
    x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  }
  return x509;
}

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface KeyPairPEM {
  cert: string;
  key: string;
}

async function exportKey(key: CryptoKey): Promise<string> {
  const x509 = await lib();
  const der = await webcrypto.subtle.exportKey('pkcs8', key as any);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
  return (await webcrypto.subtle.importKey('pkcs8', der, alg, true, ['sign'])) as unknown as CryptoKey;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString('hex');
}

function escapeDN(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, '\\$1');
}

/** A self-signed CA valid for 10 years. */
export async function generateCA(commonName: string): Promise<KeyPairPEM> {
  const x509 = await lib();
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const now = new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${escapeDN(commonName)}`,
    notBefore: now,
    notAfter: new Date(now.getTime() + 10 * 365 * 86400_000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

export interface LeafOptions {
  commonName: string;
  /** Subject O= values (Kubernetes groups for client certificates). */
  organizations?: string[];
  dnsNames?: string[];
  ips?: string[];
  usage: 'server' | 'client' | 'both';
  validDays?: number;
}

/** A certificate signed by `ca`. */
export async function issueCertificate(ca: KeyPairPEM, opts: LeafOptions): Promise<KeyPairPEM> {
  const x509 = await lib();
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importKey(ca.key);
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const now = new Date(Date.now() - 60_000);
  const name = [`CN=${escapeDN(opts.commonName)}`, ...(opts.organizations ?? []).map((o) => `O=${escapeDN(o)}`)].join(', ');
  const eku: string[] = [];
  if (opts.usage !== 'client') eku.push(x509.ExtendedKeyUsage.serverAuth);
  if (opts.usage !== 'server') eku.push(x509.ExtendedKeyUsage.clientAuth);
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(eku, false),
    await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
  ];
  const san = [...(opts.dnsNames ?? []).map((v) => ({ type: 'dns' as const, value: v })), ...(opts.ips ?? []).map((v) => ({ type: 'ip' as const, value: v }))];
  if (san.length) extensions.push(new x509.SubjectAlternativeNameExtension(san, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: name,
    issuer: caCert.subject,
    notBefore: now,
    notAfter: new Date(now.getTime() + (opts.validDays ?? 365) * 86400_000),
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions,
  });
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

/** The user and groups a client certificate names (CN and O), as Kubernetes reads them. */
export function subjectOf(cert: { subject?: Record<string, string | string[]> }): { user: string; groups: string[] } | undefined {
  const s = cert.subject;
  if (!s) return undefined;
  const cn = Array.isArray(s.CN) ? s.CN[0] : s.CN;
  if (!cn) return undefined;
  const o = s.O === undefined ? [] : Array.isArray(s.O) ? s.O : [s.O];
  return { user: cn, groups: o };
}

/** True when the PEM certificate expires within `days`. */
export function expiresWithin(pem: string, days: number): boolean {
  const c = new X509Certificate(pem);
  return new Date(c.validTo).getTime() - Date.now() < days * 86400_000;
}
