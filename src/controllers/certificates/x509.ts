/**
 * Certificate work the CSR controllers share: reading a PKCS#10 request (subject, key, SANs) and
 * issuing a certificate from it with the cluster CA. The x509 library is loaded on first use.
 */
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

let x509: typeof X509 | undefined;
/** The x509 library, loaded once. */
export async function x509Lib(): Promise<typeof X509> {
  if (!x509) {
    await import('reflect-metadata');
    const lib = await import('@peculiar/x509');
    lib.cryptoProvider.set(webcrypto as unknown as Crypto);
    x509 = lib;
  }
  return x509;
}

function sanOf(lib: typeof X509, r: X509.Pkcs10CertificateRequest): X509.SubjectAlternativeNameExtension | undefined {
  const ext = r.getExtension('2.5.29.17');
  return ext ? new lib.SubjectAlternativeNameExtension(ext.rawData) : undefined;
}

/** A CSR's contents, as the approver and signer check them. */
export interface RequestInfo {
  commonName: string;
  organizations: string[];
  dnsNames: string[];
  ips: string[];
  emails: string[];
  uris: string[];
  request: X509.Pkcs10CertificateRequest;
}

/** Decode `spec.request` (base64 of a PEM CSR) and check its self-signature. */
export async function parseRequest(specRequest: string): Promise<RequestInfo> {
  const lib = await x509Lib();
  const pem = Buffer.from(specRequest, 'base64').toString('utf8');
  const request = new lib.Pkcs10CertificateRequest(pem);
  if (!(await request.verify())) throw new Error('the request signature does not verify');
  const name = request.subjectName;
  const out: RequestInfo = {
    commonName: name.getField('CN')[0] ?? '',
    organizations: name.getField('O'),
    dnsNames: [],
    ips: [],
    emails: [],
    uris: [],
    request,
  };
  const san = sanOf(lib, request);
  for (const n of san?.names.items ?? []) {
    if (n.type === 'dns') out.dnsNames.push(n.value);
    else if (n.type === 'ip') out.ips.push(n.value);
    else if (n.type === 'email') out.emails.push(n.value);
    else if (n.type === 'url') out.uris.push(n.value);
  }
  return out;
}

/** The CA that signs, as PEM. */
export interface SigningCA {
  cert: string;
  key: string;
}

async function importCAKey(pem: string): Promise<{ key: CryptoKey; alg: EcdsaParams | RsaHashedImportParams | Algorithm }> {
  const k = createPrivateKey(pem);
  const der = k.export({ format: 'der', type: 'pkcs8' });
  if (k.asymmetricKeyType === 'ec') {
    const curve = k.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256';
    const hash = curve === 'P-384' ? 'SHA-384' : 'SHA-256';
    const key = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: curve }, false, ['sign']);
    return { key: key as unknown as CryptoKey, alg: { name: 'ECDSA', hash } as EcdsaParams };
  }
  if (k.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const key = await webcrypto.subtle.importKey('pkcs8', der, alg, false, ['sign']);
    return { key: key as unknown as CryptoKey, alg };
  }
  throw new Error(`unsupported CA key type ${k.asymmetricKeyType}`);
}

/** Issue a certificate for the request: its subject, key and SANs; the usages given; valid from `notBefore` to `notAfter`. */
export async function signRequest(ca: SigningCA, req: RequestInfo, usages: string[], notBefore: Date, notAfter: Date): Promise<string> {
  const lib = await x509Lib();
  const caCert = new lib.X509Certificate(ca.cert);
  const { key, alg } = await importCAKey(ca.key);
  const ku: Record<string, number> = {
    'digital signature': lib.KeyUsageFlags.digitalSignature,
    'content commitment': lib.KeyUsageFlags.nonRepudiation,
    'key encipherment': lib.KeyUsageFlags.keyEncipherment,
    'data encipherment': lib.KeyUsageFlags.dataEncipherment,
    'key agreement': lib.KeyUsageFlags.keyAgreement,
    'cert sign': lib.KeyUsageFlags.keyCertSign,
    'crl sign': lib.KeyUsageFlags.cRLSign,
    'encipher only': lib.KeyUsageFlags.encipherOnly,
    'decipher only': lib.KeyUsageFlags.decipherOnly,
  };
  const eku: Record<string, string> = {
    'server auth': lib.ExtendedKeyUsage.serverAuth,
    'client auth': lib.ExtendedKeyUsage.clientAuth,
    'code signing': lib.ExtendedKeyUsage.codeSigning,
    'email protection': lib.ExtendedKeyUsage.emailProtection,
    timestamping: lib.ExtendedKeyUsage.timeStamping,
    'ocsp signing': lib.ExtendedKeyUsage.ocspSigning,
  };
  let flags = 0;
  const ekus: string[] = [];
  for (const u of usages) {
    if (ku[u] !== undefined) flags |= ku[u];
    if (eku[u] !== undefined) ekus.push(eku[u]);
  }
  const extensions: X509.Extension[] = [new lib.BasicConstraintsExtension(false, undefined, true)];
  if (flags) extensions.push(new lib.KeyUsagesExtension(flags, true));
  if (ekus.length) extensions.push(new lib.ExtendedKeyUsageExtension(ekus, false));
  extensions.push(await lib.AuthorityKeyIdentifierExtension.create(caCert, false));
  const san = sanOf(lib, req.request);
  if (san) extensions.push(new lib.SubjectAlternativeNameExtension(san.names.toJSON(), false));
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const cert = await lib.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: req.request.subjectName,
    issuer: caCert.subjectName,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    publicKey: req.request.publicKey,
    signingKey: key,
    extensions,
  });
  return cert.toString('pem');
}
