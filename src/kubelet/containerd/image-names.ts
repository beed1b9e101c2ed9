/**
 * Image reference normalisation as docker and containerd's CRI do it (distribution/reference's
 * ParseDockerRef): `nginx` is `docker.io/library/nginx:latest`, a bare name gets the `latest` tag,
 * and a reference with a digest keeps only the digest.
 */

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';

// The grammar of distribution/reference, re-expressed.
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = new RegExp(`^${ALNUM}(?:${SEPARATOR}${ALNUM})*$`);
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const HEX64 = /^[a-f0-9]{64}$/;
const NAME_TOTAL_MAX = 255;

/** An image reference split into its parts (domain and path already normalised). */
export interface ImageReference {
  /** Registry host, e.g. `docker.io`, `localhost:5000`. */
  domain: string;
  /** Repository path, e.g. `library/nginx`. */
  path: string;
  tag?: string;
  digest?: string;
}

/** Parses `ref` the way docker does, filling in docker.io and library/; throws on an invalid reference. */
export function parseImageReference(ref: string): ImageReference {
  const bad = (why: string) => new Error(`invalid image reference "${ref}": ${why}`);
  if (!ref) throw bad('empty');
  if (HEX64.test(ref)) throw bad('cannot specify 64-byte hexadecimal strings');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('invalid digest');
  }
  let tag: string | undefined;
  // A colon after the last slash starts the tag (an earlier one is a registry port).
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad('invalid tag');
  }
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    // Only a first component that looks like a host (a dot or port, or localhost) names a registry.
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  if (!DOMAIN.test(domain)) throw bad('invalid registry host');
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_PREFIX + path;
  if (path !== path.toLowerCase()) throw bad('repository name must be lowercase');
  if (!path || !path.split('/').every((c) => PATH_COMPONENT.test(c))) throw bad('invalid repository name');
  if (domain.length + 1 + path.length > NAME_TOTAL_MAX) throw bad(`repository name must not be more than ${NAME_TOTAL_MAX} characters`);
  return { domain, path, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/**
 * The fully qualified form of an image reference, as the CRI stores and matches it:
 * `nginx` → `docker.io/library/nginx:latest`, `foo/bar:1` → `docker.io/foo/bar:1`,
 * `localhost:5000/x` → `localhost:5000/x:latest`, `x:1@sha256:…` → `docker.io/library/x@sha256:…`.
 */
export function normalizeImageName(ref: string): string {
  const r = parseImageReference(ref);
  const name = `${r.domain}/${r.path}`;
  if (r.digest) return `${name}@${r.digest}`;
  return `${name}:${r.tag ?? 'latest'}`;
}

/** The short form docker prints: `docker.io/library/nginx:latest` → `nginx:latest`. */
export function familiarImageName(ref: string): string {
  const r = parseImageReference(ref);
  let name = r.domain === DEFAULT_DOMAIN ? (r.path.startsWith(OFFICIAL_PREFIX) && r.path.split('/').length === 2 ? r.path.slice(OFFICIAL_PREFIX.length) : r.path) : `${r.domain}/${r.path}`;
  if (r.tag !== undefined) name += `:${r.tag}`;
  if (r.digest) name += `@${r.digest}`;
  return name;
}
