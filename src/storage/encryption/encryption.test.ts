import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Backend, ConflictError, type WatchEvent } from '../interface.js';
import { SqliteBackend } from '../sqlite/sqlite-backend.js';
import { runBackendConformance } from '../testing/conformance.js';
import { encryptingBackend, EncryptionError, loadEncryptionConfig, parseEncryptionConfig, transformerLookup, type EncryptionConfig } from './index.js';

const k16 = randomBytes(16).toString('base64');
const k32a = randomBytes(32).toString('base64');
const k32b = randomBytes(32).toString('base64');

/** An EncryptionConfiguration with one resources entry. */
function yamlConfig(resources: string[], providers: string): string {
  return `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [${resources.map((r) => JSON.stringify(r)).join(', ')}]
    providers:
${providers
  .trim()
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
`;
}
const provider = {
  aescbc: (name: string, secret: string) => `- aescbc:\n    keys:\n      - name: ${name}\n        secret: ${secret}`,
  aesgcm: (name: string, secret: string) => `- aesgcm:\n    keys:\n      - name: ${name}\n        secret: ${secret}`,
  secretbox: (name: string, secret: string) => `- secretbox:\n    keys:\n      - name: ${name}\n        secret: ${secret}`,
  identity: () => `- identity: {}`,
};

function conformanceWith(name: string, config: EncryptionConfig) {
  runBackendConformance(name, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'k8ts-enc-'));
    const opts = { path: join(dir, 'db.sqlite'), watchBufferLimit: 500, watchRingSize: 64, progressNotifyIntervalMs: 50 };
    let inner = SqliteBackend.open(opts);
    return {
      backend: encryptingBackend(inner, config, { prefix: '' }),
      watchBufferLimit: 500,
      reopen: async () => encryptingBackend((inner = SqliteBackend.open(opts)), config, { prefix: '' }),
      cleanup: async () => {
        await inner.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
}

// The wrapper keeps every Backend behaviour, both passing values through and encrypting all of them.
conformanceWith('encrypting wrapper, identity first', parseEncryptionConfig(yamlConfig(['*.*'], `${provider.identity()}\n${provider.aescbc('k', k32a)}`)));
conformanceWith('encrypting wrapper, aesgcm first', parseEncryptionConfig(yamlConfig(['*.*'], `${provider.aesgcm('k', k32a)}\n${provider.identity()}`)));

const secretValue = JSON.stringify({ kind: 'Secret', data: { password: Buffer.from('hunter2-very-secret').toString('base64') }, stringData: 'TOPSECRET' });

async function rawValues(inner: Backend): Promise<string[]> {
  return (await inner.list('/')).kvs.map((kv) => kv.value);
}

describe('encryption providers', () => {
  const cases = [
    { name: 'aescbc with a 32-byte key', providers: provider.aescbc('key1', k32a), prefix: 'k8s:enc:aescbc:v1:key1:' },
    { name: 'aescbc with a 16-byte key', providers: provider.aescbc('key1', k16), prefix: 'k8s:enc:aescbc:v1:key1:' },
    { name: 'aesgcm with a 16-byte key', providers: provider.aesgcm('gcm', k16), prefix: 'k8s:enc:aesgcm:v1:gcm:' },
    { name: 'aesgcm with a 32-byte key', providers: provider.aesgcm('gcm', k32a), prefix: 'k8s:enc:aesgcm:v1:gcm:' },
    { name: 'secretbox', providers: provider.secretbox('box', k32b), prefix: 'k8s:enc:secretbox:v1:box:' },
  ];
  for (const c of cases) {
    it(`A secret written through ${c.name} reads back unchanged everywhere while the raw store holds only ciphertext with the upstream prefix.`, async () => {
      const inner = SqliteBackend.open({ path: ':memory:' });
      const b = encryptingBackend(inner, parseEncryptionConfig(yamlConfig(['secrets'], c.providers)));
      const key = '/registry/secrets/default/db';
      const events: WatchEvent[] = [];
      const w = b.watch('/registry/secrets/', { afterRevision: await b.currentRevision() }, { onEvents: (e) => void events.push(...e), onClose() {} });

      const created = await b.create(key, secretValue);
      assert.equal(created.value, secretValue);
      assert.equal((await b.get(key)).kv?.value, secretValue);
      assert.deepEqual((await b.list('/registry/secrets/')).kvs.map((kv) => kv.value), [secretValue]);
      const updatedValue = secretValue.replace('TOPSECRET', 'TOPSECRET2');
      const updated = await b.update(key, updatedValue, created.modRevision);
      assert.equal(updated.value, updatedValue);
      // A conflict error carries the current value decrypted.
      const conflict = await b.update(key, secretValue, created.modRevision).then(
        () => assert.fail('expected a conflict'),
        (e: unknown) => e,
      );
      assert.ok(conflict instanceof ConflictError);
      assert.equal(conflict.current.value, updatedValue);

      const raw = (await inner.get(key)).kv!.value;
      assert.ok(raw.startsWith(c.prefix), raw);
      assert.ok(!raw.includes('TOPSECRET') && !raw.includes('hunter2') && !raw.includes('password'), raw);
      for (const v of await rawValues(inner)) assert.ok(!v.includes('TOPSECRET'));

      const deleted = await b.delete(key);
      assert.equal(deleted.value, updatedValue);
      const deadline = Date.now() + 2000;
      while (events.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      w.cancel();
      assert.deepEqual(
        events.map((e) => [e.type, e.kv.value, e.prevKv?.value]),
        [
          ['put', secretValue, undefined],
          ['put', updatedValue, secretValue],
          ['delete', updatedValue, updatedValue],
        ],
      );
      await b.close();
    });
  }

  it('Two writes of the same value produce different ciphertexts, because every write takes a fresh nonce.', async () => {
    const inner = SqliteBackend.open({ path: ':memory:' });
    const b = encryptingBackend(inner, parseEncryptionConfig(yamlConfig(['secrets'], provider.aesgcm('k', k32a))));
    await b.create('/registry/secrets/a/x', 'same');
    await b.create('/registry/secrets/a/y', 'same');
    const [x, y] = await rawValues(inner);
    assert.notEqual(x, y);
    await b.close();
  });

  it('Resources not named in the config are stored as plaintext, and group resources are matched by group.', async () => {
    const inner = SqliteBackend.open({ path: ':memory:' });
    const cfg = parseEncryptionConfig(yamlConfig(['secrets', 'deployments.apps', '*.batch'], provider.aescbc('k', k32a)));
    const b = encryptingBackend(inner, cfg);
    const plain = ['/registry/configmaps/default/c', '/registry/apps/replicasets/default/r', '/other/secrets/default/s', '/registry/k8ts/allocations/serviceips/10.0.0.1'];
    const enc = ['/registry/secrets/default/s', '/registry/apps/deployments/default/d', '/registry/batch/jobs/default/j', '/registry/batch/cronjobs/default/c'];
    for (const k of [...plain, ...enc]) await b.create(k, `v-${k}`);
    for (const k of plain) assert.equal((await inner.get(k)).kv?.value, `v-${k}`, k);
    for (const k of enc) {
      assert.ok((await inner.get(k)).kv?.value.startsWith('k8s:enc:aescbc:v1:k:'), k);
      assert.equal((await b.get(k)).kv?.value, `v-${k}`);
    }
    await b.close();
  });

  it('Storage keys map to resources and groups as the generic store writes them, first matching entry winning.', () => {
    const cfg = parseEncryptionConfig(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets, leases.coordination.k8s.io]
    providers: [{aescbc: {keys: [{name: a, secret: ${k32a}}]}}]
  - resources: ['*.']
    providers: [{secretbox: {keys: [{name: b, secret: ${k32b}}]}}]
  - resources: ['*.*']
    providers: [{aesgcm: {keys: [{name: c, secret: ${k16}}]}}]
`);
    const lookup = transformerLookup(cfg);
    const writer = (key: string) => lookup(key)?.toStorage(key, 'x').split(':').slice(0, 5).join(':');
    const table: [string, string | undefined][] = [
      ['/registry/secrets/ns/s', 'k8s:enc:aescbc:v1:a'],
      ['/registry/coordination.k8s.io/leases/ns/l', 'k8s:enc:aescbc:v1:a'],
      ['/registry/configmaps/ns/c', 'k8s:enc:secretbox:v1:b'],
      ['/registry/namespaces/default', 'k8s:enc:secretbox:v1:b'],
      ['/registry/apps/deployments/ns/d', 'k8s:enc:aesgcm:v1:c'],
      ['/registry/example.com/widgets/ns/w', 'k8s:enc:aesgcm:v1:c'],
      ['/elsewhere/secrets/ns/s', undefined],
    ];
    for (const [key, want] of table) assert.equal(writer(key), want, key);
  });
});

describe('key rotation and identity fallback', () => {
  const key = '/registry/secrets/default/s';

  it('Rotation: data written with key1 stays readable after key2 is added and moved first, and a rewrite switches it to key2.', async () => {
    const inner = SqliteBackend.open({ path: ':memory:' });
    const oldOnly = parseEncryptionConfig(yamlConfig(['secrets'], `- aescbc:\n    keys:\n      - {name: key1, secret: ${k32a}}`));
    const added = parseEncryptionConfig(yamlConfig(['secrets'], `- aescbc:\n    keys:\n      - {name: key1, secret: ${k32a}}\n      - {name: key2, secret: ${k32b}}`));
    const swapped = parseEncryptionConfig(yamlConfig(['secrets'], `- aescbc:\n    keys:\n      - {name: key2, secret: ${k32b}}\n      - {name: key1, secret: ${k32a}}`));
    const newOnly = parseEncryptionConfig(yamlConfig(['secrets'], `- aescbc:\n    keys:\n      - {name: key2, secret: ${k32b}}`));

    await encryptingBackend(inner, oldOnly).create(key, 'one');
    await encryptingBackend(inner, added).create(`${key}2`, 'two');
    assert.match((await inner.get(`${key}2`)).kv!.value, /^k8s:enc:aescbc:v1:key1:/, 'the first key still encrypts');

    const b = encryptingBackend(inner, swapped);
    assert.equal((await b.get(key)).kv?.value, 'one');
    assert.equal((await b.get(`${key}2`)).kv?.value, 'two');
    // Rewrite every secret: it now uses key2.
    for (const kv of (await b.list('/registry/secrets/')).kvs) await b.update(kv.key, kv.value, kv.modRevision);
    for (const kv of (await inner.list('/registry/secrets/')).kvs) assert.match(kv.value, /^k8s:enc:aescbc:v1:key2:/);
    const after = encryptingBackend(inner, newOnly);
    assert.deepEqual((await after.list('/registry/secrets/')).kvs.map((kv) => kv.value), ['one', 'two']);
  });

  it('A value written with a key that was removed fails to read with an error naming its prefix.', async () => {
    const inner = SqliteBackend.open({ path: ':memory:' });
    await encryptingBackend(inner, parseEncryptionConfig(yamlConfig(['secrets'], provider.aescbc('gone', k32a)))).create(key, 'v');
    const b = encryptingBackend(inner, parseEncryptionConfig(yamlConfig(['secrets'], `${provider.aescbc('new', k32b)}\n${provider.identity()}`)));
    await assert.rejects(b.get(key), (e: Error) => e instanceof EncryptionError && /k8s:enc:aescbc:v1:gone:/.test(e.message));
  });

  it('Plaintext written before encryption is read back only when identity is among the providers.', async () => {
    const inner = SqliteBackend.open({ path: ':memory:' });
    await inner.create(key, 'legacy-plaintext');
    const withIdentity = encryptingBackend(inner, parseEncryptionConfig(yamlConfig(['secrets'], `${provider.secretbox('k', k32a)}\n${provider.identity()}`)));
    assert.equal((await withIdentity.get(key)).kv?.value, 'legacy-plaintext');
    const withoutIdentity = encryptingBackend(inner, parseEncryptionConfig(yamlConfig(['secrets'], provider.secretbox('k', k32a))));
    await assert.rejects(withoutIdentity.get(key), (e: Error) => e instanceof EncryptionError && /not encrypted and the identity provider is not configured/.test(e.message));
    await assert.rejects(withoutIdentity.list('/registry/secrets/'), EncryptionError);
  });

  it('With identity first, new writes are stored as plaintext and encrypted values stay readable (decrypting away from encryption).', async () => {
    const inner = SqliteBackend.open({ path: ':memory:' });
    await encryptingBackend(inner, parseEncryptionConfig(yamlConfig(['secrets'], provider.aesgcm('k', k32a)))).create(key, 'sealed');
    const b = encryptingBackend(inner, parseEncryptionConfig(yamlConfig(['secrets'], `${provider.identity()}\n${provider.aesgcm('k', k32a)}`)));
    assert.equal((await b.get(key)).kv?.value, 'sealed');
    await b.create(`${key}-new`, 'open');
    assert.equal((await inner.get(`${key}-new`)).kv?.value, 'open');
  });

  it('A watch that meets an undecryptable value closes with the error instead of delivering it.', async () => {
    const inner = SqliteBackend.open({ path: ':memory:' });
    const b = encryptingBackend(inner, parseEncryptionConfig(yamlConfig(['secrets'], provider.aescbc('k', k32a))));
    let closedWith: Error | undefined;
    const delivered: WatchEvent[] = [];
    b.watch('/registry/secrets/', { afterRevision: 0 }, { onEvents: (e) => void delivered.push(...e), onClose: (e) => (closedWith = e) });
    await inner.create(key, 'plaintext-without-identity');
    const deadline = Date.now() + 2000;
    while (!closedWith && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.ok(closedWith instanceof EncryptionError);
    assert.equal(delivered.length, 0);
  });
});

describe('tampering', () => {
  const key = '/registry/secrets/default/s';
  const flip = (s: string, at: number) => {
    const buf = Buffer.from(s, 'base64');
    buf[at] = buf[at]! ^ 0x01;
    return buf.toString('base64');
  };
  const cases = [
    { name: 'aesgcm ciphertext with a flipped bit', providers: provider.aesgcm('k', k32a), tamper: (b64: string) => flip(b64, 20) },
    { name: 'aesgcm nonce with a flipped bit', providers: provider.aesgcm('k', k32a), tamper: (b64: string) => flip(b64, 0) },
    { name: 'secretbox ciphertext with a flipped bit', providers: provider.secretbox('k', k32a), tamper: (b64: string) => flip(b64, 30) },
    { name: 'aescbc data cut short of a whole block', providers: provider.aescbc('k', k32a), tamper: (b64: string) => Buffer.from(b64, 'base64').subarray(0, 20).toString('base64') },
    { name: 'aesgcm data shorter than a nonce and tag', providers: provider.aesgcm('k', k32a), tamper: () => 'AAAA' },
  ];
  for (const c of cases) {
    it(`Reading ${c.name} fails with an EncryptionError, not a crash or garbage.`, async () => {
      const inner = SqliteBackend.open({ path: ':memory:' });
      const b = encryptingBackend(inner, parseEncryptionConfig(yamlConfig(['secrets'], c.providers)));
      const kv = await b.create(key, secretValue);
      const raw = (await inner.get(key)).kv!.value;
      const prefix = raw.slice(0, raw.lastIndexOf(':') + 1);
      await inner.update(key, prefix + c.tamper(raw.slice(prefix.length)), kv.modRevision);
      await assert.rejects(b.get(key), (e: Error) => e instanceof EncryptionError && /wrong key or tampered data/.test(e.message));
    });
  }

  it('An aesgcm value moved to another key fails to read, because the storage key is authenticated.', async () => {
    const inner = SqliteBackend.open({ path: ':memory:' });
    const b = encryptingBackend(inner, parseEncryptionConfig(yamlConfig(['secrets'], provider.aesgcm('k', k32a))));
    await b.create(key, 'v');
    await inner.create(`${key}-copy`, (await inner.get(key)).kv!.value);
    await assert.rejects(b.get(`${key}-copy`), EncryptionError);
  });
});

describe('EncryptionConfiguration validation', () => {
  const ok = (providers: string, resources = ['secrets']) => yamlConfig(resources, providers);
  const table: { name: string; text: string; error: RegExp }[] = [
    { name: 'a wrong kind', text: ok(provider.identity()).replace('kind: EncryptionConfiguration', 'kind: EncryptionConfig'), error: /kind: must be "EncryptionConfiguration"/ },
    { name: 'a wrong apiVersion', text: ok(provider.identity()).replace('apiserver.config.k8s.io/v1', 'v1'), error: /apiVersion: must be "apiserver.config.k8s.io\/v1"/ },
    { name: 'no resources', text: 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []\n', error: /resources: Required value/ },
    { name: 'an entry without providers', text: ok(provider.identity()).replace(/providers:[\s\S]*/, 'providers: []\n'), error: /resources\[0\]\.providers: Required value/ },
    { name: 'an unknown provider', text: ok('- aesctr:\n    keys: []'), error: /unknown provider "aesctr"/ },
    { name: 'the kms provider', text: ok('- kms:\n    name: x'), error: /kms provider is not supported/ },
    { name: 'two providers in one element', text: ok(`- identity: {}\n  aescbc:\n    keys:\n      - {name: a, secret: ${k32a}}`), error: /more than one provider specified in a single element/ },
    { name: 'an aescbc key of 8 bytes', text: ok(provider.aescbc('a', randomBytes(8).toString('base64'))), error: /got 8, expected one of \[16 24 32\]/ },
    { name: 'an aesgcm key of 20 bytes', text: ok(provider.aesgcm('a', randomBytes(20).toString('base64'))), error: /got 20, expected one of \[16 24 32\]/ },
    { name: 'a secretbox key of 16 bytes', text: ok(provider.secretbox('a', k16)), error: /got 16, expected one of \[32\]/ },
    { name: 'a secret that is not base64', text: ok(provider.aescbc('a', 'not*base64!')), error: /secrets must be base64 encoded/ },
    { name: 'duplicate key names', text: ok(`- aescbc:\n    keys:\n      - {name: a, secret: ${k32a}}\n      - {name: a, secret: ${k32b}}`), error: /Duplicate value: "a"/ },
    { name: 'a key name with a colon', text: ok(provider.aescbc('a:b', k32a)), error: /should not contain ':'/ },
    { name: 'a key without a name', text: ok(`- aescbc:\n    keys:\n      - {secret: ${k32a}}`), error: /name: Required value/ },
    { name: 'a provider without keys', text: ok('- secretbox:\n    keys: []'), error: /secretbox\.keys: Required value/ },
    { name: 'identity with keys', text: ok(`- identity:\n    keys:\n      - {name: a, secret: ${k32a}}`), error: /identity takes no settings/ },
    { name: 'an uppercase resource', text: ok(provider.identity(), ['Secrets']), error: /must be lowercase/ },
    { name: 'a resource listed twice', text: ok(provider.identity(), ['secrets', 'secrets']), error: /Duplicate value: "secrets"/ },
    { name: 'a resource after a wildcard covering it', text: ok(provider.identity(), ['*.apps', 'deployments.apps']), error: /shadowed by the earlier "\*\.apps"/ },
    { name: 'a malformed wildcard', text: ok(provider.identity(), ['secrets.*']), error: /use a resource/ },
    { name: 'a lone star', text: ok(provider.identity(), ['*']), error: /use a resource/ },
    { name: 'text that is not YAML', text: 'a: [', error: /not valid YAML/ },
  ];
  for (const c of table) {
    it(`A config with ${c.name} is rejected with a clear message.`, () => {
      assert.throws(() => parseEncryptionConfig(c.text), (e: Error) => c.error.test(e.message) && !e.message.includes(k32a) && !e.message.includes(k32b));
    });
  }

  it('A full upstream-style config with every provider and wildcards parses into ordered entries.', () => {
    const cfg = parseEncryptionConfig(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
      - configmaps
      - deployments.apps
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: ${k32a}
            - name: key2
              secret: ${k16}
      - aesgcm:
          keys:
            - name: g
              secret: ${k16}
      - secretbox:
          keys:
            - name: s
              secret: ${k32b}
      - identity: {}
  - resources: ['*.apps', '*.']
    providers: [{identity: {}}]
  - resources: ['*.*']
    providers:
      - identity: {}
`);
    assert.deepEqual(
      cfg.resources.map((e) => [e.resources.map((r) => `${r.resource}|${r.group}`), e.providers.map((p) => p.type)]),
      [
        [['secrets|', 'configmaps|', 'deployments|apps'], ['aescbc', 'aesgcm', 'secretbox', 'identity']],
        [['*|apps', '*|'], ['identity']],
        [['*|*'], ['identity']],
      ],
    );
    const first = cfg.resources[0]!.providers[0]!;
    assert.ok(first.type === 'aescbc');
    assert.deepEqual(first.keys.map((k) => [k.name, k.secret.length]), [['key1', 32], ['key2', 16]]);
  });

  it('loadEncryptionConfig reads a file and names it in errors.', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'k8ts-enc-cfg-'));
    try {
      const good = join(dir, 'good.yaml');
      await writeFile(good, yamlConfig(['secrets'], provider.aescbc('k', k32a)));
      assert.equal(loadEncryptionConfig(good).resources[0]!.providers[0]!.type, 'aescbc');
      const bad = join(dir, 'bad.yaml');
      await writeFile(bad, yamlConfig(['secrets'], provider.aescbc('k', k16.slice(0, 8))));
      assert.throws(() => loadEncryptionConfig(bad), (e: Error) => e.message.startsWith(`encryption provider config ${bad}:`));
      assert.throws(() => loadEncryptionConfig(join(dir, 'missing.yaml')), /ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
