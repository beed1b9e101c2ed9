import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pullCredentials } from './image-credentials.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const dockerconfigjson = (auths: Record<string, object>) => ({ type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) } });

test('imagePullSecrets are matched to the image registry like upstream keyring lookups', () => {
  const hub = dockerconfigjson({ 'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') } });
  const local = dockerconfigjson({ 'localhost:5000': { username: 'alice', password: 'pw:with:colons' }, 'localhost:5000/team': { username: 'team', password: 't' } });
  const legacy = { type: 'kubernetes.io/dockercfg', data: { '.dockercfg': b64(JSON.stringify({ 'registry.example:443': { auth: b64('bob:b') } })) } };
  const cases: { name: string; image: string; secrets: object[]; want: string[] }[] = [
    { name: 'a short docker hub name uses the hub key', image: 'nginx', secrets: [hub, local], want: ['hubuser'] },
    { name: 'a private registry uses its own key', image: 'localhost:5000/app:1', secrets: [hub, local], want: ['alice'] },
    { name: 'the longest path prefix wins first', image: 'localhost:5000/team/app', secrets: [local], want: ['team', 'alice'] },
    { name: 'a path prefix only matches whole segments', image: 'localhost:5000/teamwork/app', secrets: [local], want: ['alice'] },
    { name: 'the legacy dockercfg format', image: 'registry.example:443/x', secrets: [legacy], want: ['bob'] },
    { name: 'no matching registry gives none', image: 'quay.io/x/y', secrets: [hub, local, legacy], want: [] },
    { name: 'a malformed secret is skipped', image: 'nginx', secrets: [{ type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{not json') } }, hub], want: ['hubuser'] },
  ];
  for (const c of cases) assert.deepEqual(pullCredentials(c.image, c.secrets).map((a) => a.username), c.want, c.name);
  assert.equal(pullCredentials('localhost:5000/app', [local])[0].password, 'pw:with:colons');
});

test('credentials carry no server address, which containerd would compare with the endpoint URL and drop', () => {
  const local = dockerconfigjson({ '127.0.0.1:5000': { username: 'alice', password: 'pw' } });
  assert.deepEqual(pullCredentials('127.0.0.1:5000/test/busybox:1', [local]), [{ username: 'alice', password: 'pw' }]);
});
