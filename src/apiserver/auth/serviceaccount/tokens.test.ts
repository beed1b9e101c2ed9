import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SqliteBackend } from '../../../storage/sqlite/sqlite-backend.js';
import type { Backend } from '../../../storage/interface.js';
import { Store } from '../../registry/generic/store.js';
import { serviceAccountStrategy } from '../../registry/core/serviceaccounts/strategy.js';
import { podStrategy } from '../../registry/core/pods/strategy.js';
import { StoreCaches } from '../store-cache.js';
import { pollUntil } from '../../../base/sleep.js';
import { JWTSigner, JWTVerifier } from './jwt.js';
import { ServiceAccountTokens } from './tokens.js';

const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const rsaKey = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

describe('JWT signing and verification', () => {
  for (const [alg, make] of [['ES256', ecKey], ['RS256', rsaKey]] as const) {
    it(`verifies an ${alg} token signed with the key and rejects it under another key or when altered`, () => {
      const signer = new JWTSigner(make());
      assert.equal(signer.alg, alg);
      const t = signer.sign({ sub: 'x', exp: 1 });
      assert.deepEqual(new JWTVerifier([signer.publicKey]).verify(t), { sub: 'x', exp: 1 });
      assert.equal(new JWTVerifier([new JWTSigner(make()).publicKey]).verify(t), undefined);
      const [h, , s] = t.split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ sub: 'admin', exp: 1 })).toString('base64url')}.${s}`;
      assert.equal(new JWTVerifier([signer.publicKey]).verify(forged), undefined);
      assert.equal(new JWTVerifier([signer.publicKey]).verify('not.a.token'), undefined);
    });
  }
});

describe('ServiceAccountTokens', () => {
  let backend: Backend;
  let sas: Store;
  let pods: Store;
  let caches: StoreCaches;
  let now = Date.now();
  let tokens: ServiceAccountTokens;
  before(async () => {
    backend = SqliteBackend.open({ path: ':memory:' });
    sas = new Store(serviceAccountStrategy(), backend);
    pods = new Store(podStrategy(), backend);
    caches = new StoreCaches((g, r) => (r === 'serviceaccounts' ? sas : r === 'pods' ? pods : undefined));
    tokens = new ServiceAccountTokens({ signingKey: ecKey(), caches: (g, r) => caches.get(g, r), now: () => now });
  });
  after(async () => {
    caches.stop();
    await backend.close();
  });

  it('authenticates a token as its service account until the account is deleted', async () => {
    const sa = await sas.create('ns1', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot' } });
    const { token, expirationTimestamp } = tokens.issue({ namespace: 'ns1', serviceAccount: { name: 'robot', uid: sa.metadata.uid }, audiences: tokens.apiAudiences, expirationSeconds: 3600 });
    assert.equal(Date.parse(expirationTimestamp), Math.floor(now / 1000) * 1000 + 3600_000);
    const r = await pollUntil(() => tokens.authenticateToken(token), { timeoutMs: 5000 });
    assert.equal(r.user.username, 'system:serviceaccount:ns1:robot');
    assert.equal(r.user.uid, sa.metadata.uid);
    assert.deepEqual(r.user.groups, ['system:serviceaccounts', 'system:serviceaccounts:ns1', 'system:authenticated']);
    await sas.delete({ namespace: 'ns1', name: 'robot' });
    await pollUntil(async () => (await tokens.authenticateToken(token)) === undefined, { timeoutMs: 5000 });
    // A new account of the same name is a different uid: the old token stays dead.
    await sas.create('ns1', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot' } });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await tokens.authenticateToken(token), undefined);
  });

  it('rejects expired tokens and tokens for another audience', async () => {
    const sa = await sas.create('ns2', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'a' } });
    const t = tokens.issue({ namespace: 'ns2', serviceAccount: { name: 'a', uid: sa.metadata.uid }, audiences: ['vault'], expirationSeconds: 600 });
    await pollUntil(() => tokens.authenticateToken(t.token, ['vault']), { timeoutMs: 5000 });
    assert.equal(await tokens.authenticateToken(t.token), undefined, 'not valid for the API server audience');
    assert.deepEqual((await tokens.authenticateToken(t.token, ['x', 'vault']))?.audiences, ['vault']);
    const saved = now;
    now += 601_000;
    assert.equal(await tokens.authenticateToken(t.token, ['vault']), undefined);
    now = saved;
  });

  it('binds a token to a pod: it names the pod and dies with it', async () => {
    const sa = await sas.create('ns3', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
    const pod = await pods.create('ns3', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [{ name: 'c', image: 'x' }] } });
    const t = tokens.issue({ namespace: 'ns3', serviceAccount: { name: 'default', uid: sa.metadata.uid }, audiences: tokens.apiAudiences, expirationSeconds: 3600, bound: { kind: 'Pod', name: 'web', uid: pod.metadata.uid }, node: { name: 'n1' } });
    const r = await pollUntil(() => tokens.authenticateToken(t.token), { timeoutMs: 5000 });
    assert.deepEqual(r.user.extra?.['authentication.kubernetes.io/pod-name'], ['web']);
    assert.deepEqual(r.user.extra?.['authentication.kubernetes.io/node-name'], ['n1']);
    await pods.delete({ namespace: 'ns3', name: 'web' });
    await pollUntil(async () => (await tokens.authenticateToken(t.token)) === undefined, { timeoutMs: 5000 });
  });

  it('ignores tokens that are not JWTs or not signed by the cluster', async () => {
    assert.equal(await tokens.authenticateToken('abcdef.0123456789abcdef'), undefined);
    const other = new ServiceAccountTokens({ signingKey: ecKey(), caches: (g, r) => caches.get(g, r) });
    const sa = await sas.create('ns4', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'a' } });
    const t = other.issue({ namespace: 'ns4', serviceAccount: { name: 'a', uid: sa.metadata.uid }, audiences: other.apiAudiences, expirationSeconds: 3600 });
    assert.equal(await tokens.authenticateToken(t.token), undefined);
  });
});
