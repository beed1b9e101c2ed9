import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { parseCSR } from './pkcs10.js';

async function csr(alg: 'ecdsa' | 'rsa' | 'ed25519', name: string): Promise<string> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const params =
    alg === 'ecdsa' ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
    : alg === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
    : { name: 'Ed25519' };
  const keys = (await webcrypto.subtle.generateKey(params as any, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const req = await x509.Pkcs10CertificateRequestGenerator.create({ name, keys, signingAlgorithm: params as any });
  return req.toString('pem');
}

const cases: { name: string; alg: 'ecdsa' | 'rsa' | 'ed25519' }[] = [
  { name: 'an ECDSA P-256 request', alg: 'ecdsa' },
  { name: 'an RSA request', alg: 'rsa' },
  { name: 'an Ed25519 request', alg: 'ed25519' },
];
for (const c of cases) {
  test(`${c.name} parses with its subject, and fails once its signed bytes change`, async () => {
    const pem = await csr(c.alg, 'CN=system:node:n1, O=system:nodes, O=extra');
    const got = parseCSR(pem);
    assert.deepEqual(got.subject, { CN: ['system:node:n1'], O: ['system:nodes', 'extra'] });
    // Flip one byte inside the subject (the signed part) without breaking the DER.
    const der = Buffer.from(pem.split('\n').filter((l) => l && !l.startsWith('-----')).join(''), 'base64');
    const at = der.indexOf(Buffer.from('system:node:n1'));
    der[at] = 'S'.charCodeAt(0);
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    assert.throws(() => parseCSR(tampered), /signature verification failure/);
  });
}

test('text that is not a CERTIFICATE REQUEST block is refused', () => {
  assert.throws(() => parseCSR('hello'), /PEM block type must be CERTIFICATE REQUEST/);
  assert.throws(() => parseCSR('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), /PEM block type must be CERTIFICATE REQUEST/);
  assert.throws(() => parseCSR('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'), /structure error/);
});
