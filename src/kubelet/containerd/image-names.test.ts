import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { familiarImageName, normalizeImageName } from './image-names.js';

const D = 'sha256:' + 'ab'.repeat(32);

describe('image name normalisation', () => {
  const table: [string, string, string][] = [
    ['An official image without a tag gets docker.io/library/ and :latest.', 'nginx', 'docker.io/library/nginx:latest'],
    ['An official image keeps its tag.', 'nginx:1.25-alpine', 'docker.io/library/nginx:1.25-alpine'],
    ['A user image gets docker.io/ but not library/.', 'foo/bar:1', 'docker.io/foo/bar:1'],
    ['A deeper path on Docker Hub is kept as it is.', 'foo/bar/baz', 'docker.io/foo/bar/baz:latest'],
    ['A registry with a port is kept, and gets :latest.', 'localhost:5000/x', 'localhost:5000/x:latest'],
    ['localhost without a port counts as a registry.', 'localhost/x:2', 'localhost/x:2'],
    ['A dotted first component counts as a registry.', 'registry.k8s.io/pause:3.9', 'registry.k8s.io/pause:3.9'],
    ['index.docker.io is docker.io.', 'index.docker.io/library/nginx', 'docker.io/library/nginx:latest'],
    ['docker.io with a one-component path gets library/.', 'docker.io/nginx', 'docker.io/library/nginx:latest'],
    ['An already full name is unchanged.', 'docker.io/library/nginx:latest', 'docker.io/library/nginx:latest'],
    ['A digest is kept and no tag is added.', `nginx@${D}`, `docker.io/library/nginx@${D}`],
    ['A tag next to a digest is dropped, as the CRI does.', `k8ts.local/x:1@${D}`, `k8ts.local/x@${D}`],
    ['Separators inside path components are allowed.', 'my-org/my_app.web:v1.2_3', 'docker.io/my-org/my_app.web:v1.2_3'],
  ];
  for (const [name, input, want] of table) {
    it(name, () => assert.equal(normalizeImageName(input), want));
  }

  const invalid: [string, string][] = [
    ['An uppercase repository name is rejected.', 'Nginx'],
    ['An empty reference is rejected.', ''],
    ['A 64-hex string alone is rejected, as docker does.', 'ab'.repeat(32)],
    ['A tag with an invalid character is rejected.', 'nginx:a+b'],
    ['A malformed digest is rejected.', 'nginx@sha256:xyz'],
    ['A path component ending in a separator is rejected.', 'foo-/bar'],
  ];
  for (const [name, input] of invalid) {
    it(name, () => assert.throws(() => normalizeImageName(input), /invalid image reference/));
  }

  it('gives back the short docker form for official and user images and leaves other registries whole', () => {
    assert.equal(familiarImageName('docker.io/library/nginx:latest'), 'nginx:latest');
    assert.equal(familiarImageName('docker.io/foo/bar:1'), 'foo/bar:1');
    assert.equal(familiarImageName('localhost:5000/x:latest'), 'localhost:5000/x:latest');
  });
});
