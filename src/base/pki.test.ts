import { strict as assert } from 'node:assert';
import { X509Certificate, webcrypto } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import * as tls from 'node:tls';
import * as der from './der.js';
import { expiresWithin, generateCA, issueCertificate } from './pki.js';

test('DER lengths, integers, OIDs and times are encoded as X.690 requires', () => {
  const cases: [string, Buffer, string][] = [
    ['a short length is one byte', der.octetString(Buffer.alloc(3)), '0403000000'],
    ['a 200-byte length uses the long form', der.octetString(Buffer.alloc(200)).subarray(0, 3), '0481c8'],
    ['a 300-byte length uses two length bytes', der.octetString(Buffer.alloc(300)).subarray(0, 4), '0482012c'],
    ['an integer with its top bit set gets a leading zero', der.unsignedInteger(Buffer.from([0x80])), '02020080'],
    ['leading zero bytes of an integer are dropped', der.unsignedInteger(Buffer.from([0, 0, 5])), '020105'],
    ['the ecdsa-with-SHA256 OID', der.oid('1.2.840.10045.4.3.2'), '06082a8648ce3d040302'],
    ['a date before 2050 is a UTCTime', der.time(new Date('2026-11-26T07:33:16.500Z')), '170d3236313132363037333331365a'],
    ['a date from 2050 is a GeneralizedTime', der.time(new Date('2050-01-01T00:00:00Z')), '180f32303530303130313030303030305a'],
  ];
  for (const [name, got, want] of cases) assert.equal(got.toString('hex'), want, name);
  assert.equal(der.oidString(der.oid('2.5.29.17').subarray(2)), '2.5.29.17');
  assert.throws(() => der.readElement(Buffer.from([0x30, 0x05, 0x00]), 0), /truncated/);
});

test('a leaf certificate is signed by the CA and carries the subject, groups, usages and SANs asked for', async () => {
  const ca = await generateCA('k8ts-ca@1');
  const caCert = new X509Certificate(ca.cert);
  assert.equal(caCert.ca, true);
  assert.equal(caCert.subject, 'CN=k8ts-ca@1');
  const leaf = await issueCertificate(ca, {
    commonName: 'system:node:n1',
    organizations: ['system:nodes', 'team:a'],
    dnsNames: ['localhost', 'kubernetes.default.svc'],
    ips: ['127.0.0.1', '::1', 'fd00:10::2'],
    usage: 'both',
  });
  const cert = new X509Certificate(leaf.cert);
  assert.equal(cert.ca, false);
  assert.ok(cert.checkIssued(caCert), 'the issuer name matches the CA subject');
  assert.ok(cert.verify(caCert.publicKey), 'the signature verifies with the CA key');
  assert.equal(cert.subject, 'O=system:nodes\nO=team:a\nCN=system:node:n1');
  assert.equal(cert.subjectAltName, 'DNS:localhost, DNS:kubernetes.default.svc, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:FD00:10:0:0:0:0:0:2');
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(leaf.key)));
  assert.equal(expiresWithin(leaf.cert, 300), false);
  assert.equal(expiresWithin(leaf.cert, 400), true);
  const client = await issueCertificate(ca, { commonName: 'alice', usage: 'client' });
  assert.deepEqual(new X509Certificate(client.cert).keyUsage, ['1.3.6.1.5.5.7.3.2']);
});

test('a TLS server with an issued certificate is trusted by a client with the CA, and a client certificate is verified', async () => {
  const ca = await generateCA('k8ts-ca@2');
  const serving = await issueCertificate(ca, { commonName: 'k8ts-apiserver', dnsNames: ['localhost'], ips: ['127.0.0.1'], usage: 'server' });
  const admin = await issueCertificate(ca, { commonName: 'system:admin', organizations: ['system:masters'], usage: 'client' });
  const server = tls.createServer({ cert: serving.cert, key: serving.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (s) => {
    const peer = s.getPeerCertificate();
    s.end(`${peer.subject.CN}/${peer.subject.O}`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const port = (server.address() as AddressInfo).port;
    const sock = tls.connect({ host: '127.0.0.1', port, ca: ca.cert, cert: admin.cert, key: admin.key });
    let got = '';
    sock.on('data', (d) => (got += d));
    await once(sock, 'end');
    assert.equal(got, 'system:admin/system:masters');
  } finally {
    server.close();
  }
});

test('certificates are issued from a CA that an older k8ts made with @peculiar/x509', async () => {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const old = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=k8ts-ca@old', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86400_000), signingAlgorithm: alg, keys,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
  });
  const key = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as any), 'PRIVATE KEY');
  const ca = { cert: old.toString('pem'), key };
  const leaf = new X509Certificate((await issueCertificate(ca, { commonName: 'x', usage: 'client' })).cert);
  const caCert = new X509Certificate(ca.cert);
  assert.ok(leaf.checkIssued(caCert));
  assert.ok(leaf.verify(caCert.publicKey));
  const aki = new x509.X509Certificate(leaf.raw).getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId;
  const ski = old.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
  assert.equal(aki, ski, 'the authority key identifier names the CA key');
});
