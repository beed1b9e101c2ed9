/**
 * A small synchronous PKCS#10 reader: enough DER to check that a CSR's PEM decodes, that its
 * signature verifies against its own key, and to read its subject. Validation runs synchronously
 * on every write, so the lazily loaded certificate library is not an option here.
 */
import { createPublicKey, verify } from 'node:crypto';

/** What validation and the table need from a certificate request. */
export interface ParsedCSR {
  /** Subject attributes by short name (CN, O, OU...), in order. */
  subject: Record<string, string[]>;
  /** The SubjectPublicKeyInfo, DER. */
  spki: Buffer;
}

interface Node {
  tag: number;
  /** The whole TLV. */
  raw: Buffer;
  /** The value bytes. */
  body: Buffer;
}

function readNode(buf: Buffer, at: number): { node: Node; next: number } {
  if (at + 2 > buf.length) throw new Error('truncated');
  const tag = buf[at];
  let len = buf[at + 1];
  let off = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || off + n > buf.length) throw new Error('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[off + i];
    off += n;
  }
  if (off + len > buf.length) throw new Error('truncated');
  return { node: { tag, raw: buf.subarray(at, off + len), body: buf.subarray(off, off + len) }, next: off + len };
}

function children(n: Node): Node[] {
  const out: Node[] = [];
  for (let at = 0; at < n.body.length; ) {
    const r = readNode(n.body, at);
    out.push(r.node);
    at = r.next;
  }
  return out;
}

function oid(b: Buffer): string {
  const parts = [Math.floor(b[0] / 40), b[0] % 40];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if (!(b[i] & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

const attrNames: Record<string, string> = { '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.5': 'SERIALNUMBER' };

const sigHashes: Record<string, string | null> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null,
};

/** The DER of the first PEM block, with its type. */
export function pemBlock(pem: string): { type: string; der: Buffer } | undefined {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (!m) return undefined;
  return { type: m[1], der: Buffer.from(m[2].replace(/\s+/g, ''), 'base64') };
}

/**
 * Parse a PEM-encoded PKCS#10 request and check its signature. Throws an Error whose message is
 * the validation detail (upstream's ParseCSR / CheckSignature wording where it has one).
 */
export function parseCSR(pem: string): ParsedCSR {
  const block = pemBlock(pem);
  if (!block || block.type !== 'CERTIFICATE REQUEST') throw new Error('PEM block type must be CERTIFICATE REQUEST');
  let info: Node, alg: Node, sig: Node, subject: Node, spki: Node;
  try {
    const top = readNode(block.der, 0).node;
    [info, alg, sig] = children(top);
    const fields = children(info);
    [, subject, spki] = fields;
    if (top.tag !== 0x30 || info?.tag !== 0x30 || alg?.tag !== 0x30 || sig?.tag !== 0x03 || subject?.tag !== 0x30 || spki?.tag !== 0x30) throw new Error('structure');
  } catch {
    throw new Error('asn1: structure error: the request is not a PKCS#10 certificate request');
  }
  const out: ParsedCSR = { subject: {}, spki: Buffer.from(spki.raw) };
  for (const rdn of children(subject)) {
    for (const atv of children(rdn)) {
      const [o, v] = children(atv);
      if (!o || !v || o.tag !== 0x06) continue;
      const name = attrNames[oid(o.body)] ?? oid(o.body);
      (out.subject[name] ??= []).push(v.body.toString('utf8'));
    }
  }
  const algOid = children(alg)[0];
  const hash = algOid && algOid.tag === 0x06 ? sigHashes[oid(algOid.body)] : undefined;
  if (hash === undefined) throw new Error('x509: cannot verify signature: algorithm unimplemented');
  let ok = false;
  try {
    const key = createPublicKey({ key: out.spki, format: 'der', type: 'spki' });
    // A BIT STRING's first byte counts the unused bits.
    ok = verify(hash, info.raw, key, sig.body.subarray(1));
  } catch {
    ok = false;
  }
  if (!ok) throw new Error('x509: signature verification failure');
  return out;
}
