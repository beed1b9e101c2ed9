/**
 * Certificates for the cluster: a CA, serving certificates and client certificates, as PEM.
 * ECDSA P-256 keys, because they are generated in milliseconds and every kubectl accepts them.
 */
import { X509Certificate, createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIPv4 } from 'node:net';
import * as der from './der.js';

export interface KeyPairPEM {
  cert: string;
  key: string;
}

const OID = {
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

function newKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function pem(label: string, body: Uint8Array): string {
  const b64 = Buffer.from(body).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Random positive 128-bit serial, as RFC 5280 asks (at most 20 octets, unpredictable). */
function serial(): Buffer {
  const b = randomBytes(16);
  b[0]! &= 0x7f;
  return der.unsignedInteger(b);
}

/** A Name of one RDN per attribute: O values, then CN, in the order Go's crypto/x509 writes them. */
function name(commonName: string, organizations: string[] = []): Buffer {
  const rdn = (type: string, value: string) => der.set(der.sequence(der.oid(type), der.utf8String(value)));
  return der.sequence(...organizations.map((o) => rdn(OID.organization, o)), rdn(OID.commonName, commonName));
}

function extension(id: string, critical: boolean, value: Uint8Array): Buffer {
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** keyUsage bits (bit 0 = digitalSignature is the top bit), with DER's trailing-zero rule. */
function keyUsage(bits: number[]): Buffer {
  let v = 0;
  for (const b of bits) v |= 0x80 >> b;
  const unused = Math.min(7, 7 - Math.max(...bits));
  return der.tlv(0x03, Buffer.from([unused, v]));
}

/** The subjectPublicKey bits of a key, which key identifiers hash (RFC 5280 §4.2.1.2, method 1). */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const [, bits] = der.children(spki, der.readElement(spki, 0));
  return createHash('sha1').update(spki.subarray(bits!.contentStart + 1, bits!.end)).digest();
}

function validity(days: number): Buffer {
  const notBefore = new Date(Date.now() - 60_000);
  return der.sequence(der.time(notBefore), der.time(new Date(notBefore.getTime() + days * 86400_000)));
}

function signed(tbs: Buffer, signer: KeyObject): string {
  const alg = der.sequence(der.oid(OID.ecdsaWithSHA256));
  return pem('CERTIFICATE', der.sequence(tbs, alg, der.bitString(sign('sha256', tbs, signer))));
}

function tbsCertificate(issuer: Buffer, subject: Buffer, days: number, publicKey: KeyObject, extensions: Buffer[]): Buffer {
  return der.sequence(
    der.explicit(0, der.smallInteger(2)),
    serial(),
    der.sequence(der.oid(OID.ecdsaWithSHA256)),
    issuer,
    validity(days),
    subject,
    publicKey.export({ format: 'der', type: 'spki' }),
    der.explicit(3, der.sequence(...extensions)),
  );
}

/** A self-signed CA valid for 10 years. */
export async function generateCA(commonName: string): Promise<KeyPairPEM> {
  const { privateKey, publicKey } = newKey();
  const subject = name(commonName);
  const tbs = tbsCertificate(subject, subject, 10 * 365, publicKey, [
    extension(OID.basicConstraints, true, der.sequence(der.boolean(true))),
    extension(OID.keyUsage, true, keyUsage([0, 5, 6])),
    extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(publicKey))),
  ]);
  return { cert: signed(tbs, privateKey), key: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string };
}

/** The CA certificate's subject Name as encoded, and its subject key identifier (or the key's hash). */
function issuerOf(caPEM: string): { subject: Buffer; keyId: Buffer } {
  const cert = new X509Certificate(caPEM);
  const raw = cert.raw;
  const [tbs] = der.children(raw, der.readElement(raw, 0));
  const fields = der.children(raw, tbs!);
  const at = fields[0]!.tag === 0xa0 ? 1 : 0; // the version is optional
  const subject = fields[at + 4]!;
  let keyId: Buffer | undefined;
  const exts = fields.find((f) => f.tag === 0xa3);
  if (exts) {
    for (const ext of der.children(raw, der.children(raw, exts)[0]!)) {
      const [id, ...rest] = der.children(raw, ext);
      if (der.oidString(raw.subarray(id!.contentStart, id!.end)) !== OID.subjectKeyIdentifier) continue;
      const value = rest[rest.length - 1]!;
      const inner = der.readElement(raw, value.contentStart);
      keyId = Buffer.from(raw.subarray(inner.contentStart, inner.end));
    }
  }
  return { subject: Buffer.from(raw.subarray(subject.start, subject.end)), keyId: keyId ?? keyIdentifier(cert.publicKey) };
}

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  // Expand "::" and write eight 16-bit groups.
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
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
  const issuer = issuerOf(ca.cert);
  const { privateKey, publicKey } = newKey();
  const eku: Buffer[] = [];
  if (opts.usage !== 'client') eku.push(der.oid(OID.serverAuth));
  if (opts.usage !== 'server') eku.push(der.oid(OID.clientAuth));
  const extensions = [
    extension(OID.basicConstraints, true, der.sequence()),
    extension(OID.keyUsage, true, keyUsage([0, 2])),
    extension(OID.extKeyUsage, false, der.sequence(...eku)),
    extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, issuer.keyId))),
  ];
  const san = [...(opts.dnsNames ?? []).map((d) => der.implicit(2, Buffer.from(d, 'ascii'))), ...(opts.ips ?? []).map((ip) => der.implicit(7, ipBytes(ip)))];
  if (san.length) extensions.push(extension(OID.subjectAltName, false, der.sequence(...san)));
  const tbs = tbsCertificate(issuer.subject, name(opts.commonName, opts.organizations), opts.validDays ?? 365, publicKey, extensions);
  return { cert: signed(tbs, createPrivateKey(ca.key)), key: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string };
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
