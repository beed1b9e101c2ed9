import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, cachedImageArchive, execSimpleCommand, imageConfig, normalizeSignal, shellQuote } from './image-build.js';
import { inspectArchive, scanTar } from './image-archive.js';

const layer = { digest: 'sha256:' + '0'.repeat(64), size: 1024, created: '2026-01-01T00:00:00Z', createdBy: 'test' };
const cfg = (o: Parameters<typeof imageConfig>[0]) => JSON.parse(imageConfig(o).toString()).config;

describe('image config', () => {
  const cases: [string, Parameters<typeof imageConfig>[0], Record<string, unknown>][] = [
    ['A string command runs through /bin/sh -c (exec\'ed, so it gets the stop signal), with WorkingDir / and the standard PATH.', { layer, cmd: "nginx -g 'daemon off;'" }, { Cmd: ['/bin/sh', '-c', "exec nginx -g 'daemon off;'"], WorkingDir: '/', Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] }],
    ['An array command is taken as it is.', { layer, cmd: ['sleep', '1'] }, { Cmd: ['sleep', '1'] }],
    ['Workdir, user and stop signal are set as given.', { layer, workdir: '/srv', user: '101:101', stopSignal: 'SIGQUIT' }, { WorkingDir: '/srv', User: '101:101', StopSignal: 'SIGQUIT' }],
    ['An entrypoint without a command leaves Cmd out, not the default.', { layer, entrypoint: ['/bin/app'], defaultCmd: ['sh'] }, { Entrypoint: ['/bin/app'], Cmd: undefined }],
    ['Extra env follows PATH, and a PATH given replaces the default.', { layer, env: ['A=1', 'PATH=/opt/bin'] }, { Env: ['PATH=/opt/bin', 'A=1'] }],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => {
      const got = cfg(input);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k], v, k);
    });
  }

  it('execs a single simple command and leaves anything with shell operators as written', () => {
    const cases: [string, string][] = [
      ["nginx -g 'daemon off;'", "exec nginx -g 'daemon off;'"],
      ['sleep 3600', 'exec sleep 3600'],
      ['httpd -f -p "8080"', 'exec httpd -f -p "8080"'],
      ['exec nginx', 'exec nginx'],
      ['mkdir -p /run && nginx', 'mkdir -p /run && nginx'],
      ['echo a; echo b', 'echo a; echo b'],
      ['yes | head', 'yes | head'],
      ['nginx > /log', 'nginx > /log'],
      ['echo $HOME', 'echo $HOME'],
      ['echo `date`', 'echo `date`'],
      ['FOO=1 nginx', 'FOO=1 nginx'],
      ["echo 'unclosed", "echo 'unclosed"],
      ['', ''],
    ];
    for (const [cmd, want] of cases) assert.equal(execSimpleCommand(cmd), want, cmd);
  });

  it('spells stop signals as SIGNAME and keeps numbers', () => {
    assert.deepEqual(['QUIT', 'sigterm', 'SIGWINCH', '9'].map(normalizeSignal), ['SIGQUIT', 'SIGTERM', 'SIGWINCH', '9']);
    assert.throws(() => normalizeSignal('QUIT NOW'), /invalid stop signal/);
  });

  it('quotes shell words so single quotes survive', () => {
    assert.equal(shellQuote("nginx -g 'daemon off;'"), `'nginx -g '\\''daemon off;'\\'''`);
  });
});

describe('busybox image builds', () => {
  const cache = mkdtempSync(join(tmpdir(), 'k8ts-build-test-'));
  after(() => rmSync(cache, { recursive: true, force: true }));
  const skip = existsSync('/bin/busybox') ? {} : { skip: 'busybox-static missing' };

  it('builds a named OCI archive, then answers the same build from the cache with the same digest', skip, async () => {
    const o = { name: 'busybox:t1', busybox: true, cmd: ['sleep', '3600'], stopSignal: 'TERM', cacheDir: cache, output: join(cache, 'out', 'bb.tar') };
    assert.equal(cachedImageArchive(o), undefined);
    const first = await buildImage(o);
    assert.equal(first.cached, false);
    assert.equal(first.name, 'docker.io/library/busybox:t1');
    assert.deepEqual(readFileSync(first.output!), readFileSync(first.archive));
    const info = await inspectArchive(first.output!);
    assert.deepEqual([info.format, info.names], ['oci', ['docker.io/library/busybox:t1']]);
    const second = await buildImage(o);
    assert.equal(second.cached, true);
    assert.equal(second.digest, first.digest);
    assert.equal(cachedImageArchive(o), first.archive);
    // The config blob carries the options.
    const entries = scanTar(first.archive);
    const blob = entries.find((e) => e.name === `blobs/sha256/${first.configDigest.slice(7)}`)!;
    const config = JSON.parse(readFileSync(first.archive).subarray(blob.dataOffset, blob.dataOffset + blob.size).toString()).config;
    assert.deepEqual([config.Cmd, config.StopSignal], [['sleep', '3600'], 'SIGTERM']);
  });

  it('gives another archive for another command but rejects run commands without Debian packages', skip, async () => {
    const a = await buildImage({ name: 'busybox:t1', busybox: true, cacheDir: cache });
    const b = await buildImage({ name: 'busybox:t1', busybox: true, cmd: 'echo hi', cacheDir: cache });
    assert.notEqual(a.archive, b.archive);
    assert.notEqual(a.configDigest, b.configDigest);
    await assert.rejects(buildImage({ name: 'x', busybox: true, run: ['true'], cacheDir: cache }), /run commands need a Debian image/);
  });
});
