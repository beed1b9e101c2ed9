import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { containerdConfig } from './containerd.js';
import { parseRegistries, registryAuthToml, registryHostsFiles, writeRegistryHosts } from './registries.js';

const dir = mkdtempSync(join(tmpdir(), 'k8ts-registries-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('registries.yaml', () => {
  it('makes a plain-HTTP registry its own server, and tries other mirror endpoints first', () => {
    const cfg = parseRegistries(`
mirrors:
  "127.0.0.1:5000":
    endpoint: ["http://127.0.0.1:5000"]
  docker.io:
    endpoint:
      - "https://mirror.example:8443/v2"
      - "http://127.0.0.1:5001"
  "*":
    endpoint: ["http://127.0.0.1:5002"]
configs:
  "mirror.example:8443":
    tls:
      insecure_skip_verify: true
      ca_file: /etc/ca.pem
      cert_file: /etc/c.pem
      key_file: /etc/c.key
  "registry.internal":
    tls: { ca_file: /etc/internal.pem }
`);
    const files = registryHostsFiles(cfg);
    assert.deepEqual([...files.keys()].sort(), ['127.0.0.1:5000', '_default', 'docker.io', 'mirror.example:8443', 'registry.internal']);
    assert.equal(files.get('127.0.0.1:5000'), 'server = "http://127.0.0.1:5000"\n');
    assert.equal(
      files.get('docker.io'),
      [
        'server = "https://registry-1.docker.io"',
        '',
        '[host."https://mirror.example:8443/v2"]',
        '  capabilities = ["pull", "resolve"]',
        '  skip_verify = true',
        '  ca = "/etc/ca.pem"',
        '  client = [["/etc/c.pem", "/etc/c.key"]]',
        '',
        '[host."http://127.0.0.1:5001"]',
        '  capabilities = ["pull", "resolve"]',
        '',
      ].join('\n'),
    );
    assert.equal(files.get('_default'), '[host."http://127.0.0.1:5002"]\n  capabilities = ["pull", "resolve"]\n');
    assert.equal(files.get('registry.internal'), 'server = "https://registry.internal"\nca = "/etc/internal.pem"\n');
  });

  it('puts node-wide credentials into the CRI registry configs of config.toml', () => {
    const cfg = parseRegistries('configs:\n  "127.0.0.1:5000":\n    auth: { username: alice, password: "p\\"w" }\n  other: { tls: { insecure_skip_verify: true } }\n');
    const auth = registryAuthToml(cfg);
    assert.equal(auth, '\n[plugins."io.containerd.grpc.v1.cri".registry.configs."127.0.0.1:5000".auth]\n  username = "alice"\n  password = "p\\"w"\n');
    const toml = containerdConfig({ stateDir: '/s', pauseImage: 'p', cniConfDir: '/c', cniBinDir: '/b', logLevel: 'info', registryAuth: auth });
    assert.ok(toml.endsWith(`config_path = "/s/containerd/certs.d"\n${auth}`), toml);
  });

  const bad: [string, string, RegExp][] = [
    ['an unknown top-level key', 'mirror: {}', /unknown key "mirror" \(expected mirrors, configs\)/],
    ['a registry host that is not one path segment', 'mirrors:\n  "../x":\n    endpoint: ["http://a"]', /invalid registry host "\.\.\/x"/],
    ['an endpoint that is not http or https', 'mirrors:\n  a.example:\n    endpoint: ["ftp://a"]', /mirrors\.a\.example: invalid endpoint "ftp:\/\/a"/],
    ['a mirror rewrite, which stock containerd cannot do', 'mirrors:\n  docker.io:\n    endpoint: ["http://a"]\n    rewrite:\n      "^library/(.*)": "mirror/$1"', /mirrors\.docker\.io: rewrite is not supported/],
    ['an unknown key in a mirror', 'mirrors:\n  a.example:\n    endpoints: ["http://a"]', /mirrors\.a\.example: unknown key "endpoints" \(expected endpoint\)/],
    ['an unknown key in a config', 'configs:\n  a.example:\n    auth: {}\n    tsl: {}', /configs\.a\.example: unknown key "tsl"/],
  ];
  for (const [what, text, err] of bad) it(`refuses ${what}`, () => assert.throws(() => parseRegistries(text), err));

  it('writes the hosts.toml files and removes those of registries no longer configured', () => {
    const certs = join(dir, 'certs.d');
    mkdirSync(join(certs, 'gone.example'), { recursive: true });
    writeFileSync(join(certs, 'gone.example', 'hosts.toml'), 'server = "https://gone.example"\n');
    writeRegistryHosts(certs, parseRegistries('mirrors:\n  "127.0.0.1:5000":\n    endpoint: ["http://127.0.0.1:5000"]\n'));
    assert.equal(readFileSync(join(certs, '127.0.0.1:5000', 'hosts.toml'), 'utf8'), 'server = "http://127.0.0.1:5000"\n');
    assert.equal(existsSync(join(certs, 'gone.example')), false);
  });
});
