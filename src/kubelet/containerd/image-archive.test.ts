import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ImageArchiveError, inspectArchive, scanTar, writeNormalizedArchive } from './image-archive.js';
import { ociLayoutTar, tar } from './images.js';

const dir = mkdtempSync(join(tmpdir(), 'k8ts-archive-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const layer = tar([{ path: 'hello.txt', type: 'file', mode: 0o644, data: Buffer.from('hi\n') }]);
const file = (name: string, data: Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};

/** An OCI archive whose single manifest carries `annotations` (built by hand, as other tools write them). */
function ociWith(annotations: Record<string, string>): Buffer {
  const base = ociLayoutTar({ name: 'placeholder', layer });
  const entries = scanTar(file('base.tar', base.archive));
  const parts = entries.map((e) => ({ e, data: base.archive.subarray(e.dataOffset, e.dataOffset + e.size) }));
  return tar(
    parts.map(({ e, data }) => {
      if (e.name !== 'index.json') return e.type === '5' ? { path: e.name, type: 'dir' as const, mode: 0o755 } : { path: e.name, type: 'file' as const, mode: 0o644, data };
      const idx = JSON.parse(data.toString());
      idx.manifests[0].annotations = annotations;
      return { path: 'index.json', type: 'file' as const, mode: 0o644, data: Buffer.from(JSON.stringify(idx)) };
    }),
  );
}

/** A `docker save` archive: manifest.json, repositories, the config and a layer dir. */
function dockerSave(repoTags: string[]): Buffer {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } }));
  return tar([
    { path: 'abc123.json', type: 'file', mode: 0o644, data: config },
    { path: 'l1/', type: 'dir', mode: 0o755 },
    { path: 'l1/layer.tar', type: 'file', mode: 0o644, data: layer },
    { path: 'manifest.json', type: 'file', mode: 0o644, data: Buffer.from(JSON.stringify([{ Config: 'abc123.json', RepoTags: repoTags, Layers: ['l1/layer.tar'] }])) },
    { path: 'repositories', type: 'file', mode: 0o644, data: Buffer.from('{}') },
  ]);
}

describe('image archive detection', () => {
  const cases: [string, () => Buffer, string | undefined, { format: string; names: string[]; unnamed: number; compressed: boolean }][] = [
    ['An OCI layout named by io.containerd.image.name is an OCI archive with that name, normalised.', () => ociWith({ 'io.containerd.image.name': 'nginx' }), undefined, { format: 'oci', names: ['docker.io/library/nginx:latest'], unnamed: 0, compressed: false }],
    ['An OCI layout whose ref.name is a whole reference is named by it.', () => ociWith({ 'org.opencontainers.image.ref.name': 'foo/bar:2' }), undefined, { format: 'oci', names: ['docker.io/foo/bar:2'], unnamed: 0, compressed: false }],
    ['An OCI layout with only a tag in ref.name has no name without --name.', () => ociWith({ 'org.opencontainers.image.ref.name': 'v3' }), undefined, { format: 'oci', names: [], unnamed: 1, compressed: false }],
    ['An OCI layout with only a tag takes the repository from --name.', () => ociWith({ 'org.opencontainers.image.ref.name': 'v3' }), 'localhost:5000/app', { format: 'oci', names: ['localhost:5000/app:v3'], unnamed: 0, compressed: false }],
    ['A docker save archive is a docker archive named by its RepoTags, normalised.', () => dockerSave(['nginx:latest', 'foo/bar:1']), undefined, { format: 'docker', names: ['docker.io/library/nginx:latest', 'docker.io/foo/bar:1'], unnamed: 0, compressed: false }],
    ['A gzipped docker save archive is detected through the compression.', () => gzipSync(dockerSave(['busybox'])), undefined, { format: 'docker', names: ['docker.io/library/busybox:latest'], unnamed: 0, compressed: true }],
  ];
  cases.forEach(([name, make, baseName, want], i) => {
    it(name, async () => {
      const info = await inspectArchive(file(`case-${i}.tar`, make()), baseName);
      assert.deepEqual({ format: info.format, names: info.names, unnamed: info.unnamed, compressed: info.compressed }, want);
    });
  });

  it('reads an OCI layout written by GNU tar in pax format with ./ prefixes', async () => {
    const layout = join(dir, 'layout');
    mkdirSync(layout);
    execFileSync('tar', ['-xf', file('plain.tar', ociWith({ 'io.containerd.image.name': 'k8ts.local/x:1' })), '-C', layout]);
    const out = join(dir, 'pax.tar');
    execFileSync('tar', ['--format=pax', '-cf', out, '-C', layout, '.']);
    const info = await inspectArchive(out);
    assert.deepEqual([info.format, info.names], ['oci', ['k8ts.local/x:1']]);
  });

  const bad: [string, () => string, RegExp][] = [
    ['A missing file is reported as missing.', () => join(dir, 'absent.tar'), /absent\.tar: no such file/],
    ['A tar without image metadata is not an image archive.', () => file('files.tar', layer), /not an image archive \(neither an OCI layout/],
    ['A text file is not an image archive.', () => file('text.tar', Buffer.from('hello world\n'.repeat(100))), /not an image archive/],
    ['A docker manifest.json that is not a list is rejected.', () => file('badmanifest.tar', tar([{ path: 'manifest.json', type: 'file', mode: 0o644, data: Buffer.from('{"a":1}') }])), /not a docker image manifest list/],
  ];
  for (const [name, make, want] of bad) {
    it(name, async () => {
      await assert.rejects(inspectArchive(make()), (err) => err instanceof ImageArchiveError && want.test(err.message));
    });
  }
});

describe('archive name normalisation for import', () => {
  it('rewrites index.json with the normalised io.containerd.image.name and keeps every other entry byte for byte', async () => {
    const src = file('short-name.tar', ociWith({ 'io.containerd.image.name': 'nginx', 'org.opencontainers.image.ref.name': 'latest' }));
    const dest = join(dir, 'normalised.tar');
    const names = await writeNormalizedArchive(src, dest);
    assert.deepEqual(names, ['docker.io/library/nginx:latest']);
    const a = readFileSync(src);
    const b = readFileSync(dest);
    const before = scanTar(src);
    const afterEntries = scanTar(dest);
    assert.deepEqual(afterEntries.map((e) => e.name), before.map((e) => e.name));
    for (const e of before.filter((x) => x.name !== 'index.json')) {
      const e2 = afterEntries.find((x) => x.name === e.name)!;
      assert.ok(a.subarray(e.dataOffset, e.dataOffset + e.size).equals(b.subarray(e2.dataOffset, e2.dataOffset + e2.size)), `${e.name} changed`);
    }
    const idx = afterEntries.find((e) => e.name === 'index.json')!;
    const json = JSON.parse(b.subarray(idx.dataOffset, idx.dataOffset + idx.size).toString());
    assert.equal(json.manifests[0].annotations['io.containerd.image.name'], 'docker.io/library/nginx:latest');
    assert.equal(json.manifests[0].annotations['org.opencontainers.image.ref.name'], 'latest');
    // GNU tar accepts the result too.
    assert.match(execFileSync('tar', ['-tf', dest], { encoding: 'utf8' }), /^index\.json$/m);
  });
});
