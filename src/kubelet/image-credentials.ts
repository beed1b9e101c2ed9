/**
 * Registry credentials for a pull, from the pod's imagePullSecrets (kubernetes.io/dockerconfigjson
 * and kubernetes.io/dockercfg), matched to the image's registry as upstream's credential keyring
 * does: by host (docker.io and its aliases are one), then by the longest path prefix.
 */
import type { KObject } from '../client/rest-client.js';
import { parseImageReference } from './containerd/image-names.js';
import type { AuthConfig } from './runtime/runtime.js';

const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
const canonicalHost = (h: string) => (DOCKER_HUB.has(h.toLowerCase()) ? 'docker.io' : h.toLowerCase());

/** A credentials key (`https://index.docker.io/v1/`, `registry:5000/team`, ...) as host + path. */
function parseKey(key: string): { host: string; path: string } {
  let k = key.trim().replace(/^[a-z]+:\/\//i, '');
  k = k.replace(/\/+$/, '');
  const slash = k.indexOf('/');
  const host = slash < 0 ? k : k.slice(0, slash);
  let path = slash < 0 ? '' : k.slice(slash + 1);
  // Docker Hub's legacy key carries an API version, not a repository.
  if (DOCKER_HUB.has(host.toLowerCase()) && /^v[12]$/.test(path)) path = '';
  return { host: canonicalHost(host), path };
}

function entriesOf(secret: KObject): [string, KObject][] {
  const data = secret.data ?? {};
  const decode = (v: string | undefined) => (v ? JSON.parse(Buffer.from(v, 'base64').toString('utf8')) : undefined);
  try {
    if (secret.type === 'kubernetes.io/dockerconfigjson') return Object.entries(decode(data['.dockerconfigjson'])?.auths ?? {});
    if (secret.type === 'kubernetes.io/dockercfg') return Object.entries(decode(data['.dockercfg']) ?? {});
  } catch {
    // A malformed secret offers nothing, as upstream (it logs and goes on).
  }
  return [];
}

/** Credentials to try for `image`, best match first. */
export function pullCredentials(image: string, secrets: KObject[]): AuthConfig[] {
  let ref;
  try {
    ref = parseImageReference(image);
  } catch {
    return [];
  }
  const host = canonicalHost(ref.domain);
  const matches: { score: number; auth: AuthConfig }[] = [];
  for (const secret of secrets) {
    for (const [key, e] of entriesOf(secret)) {
      const k = parseKey(key);
      if (k.host !== host) continue;
      if (k.path && !(ref.path === k.path || ref.path.startsWith(k.path + '/'))) continue;
      let { username, password } = e as { username?: string; password?: string };
      if ((!username || !password) && typeof e.auth === 'string') {
        const [u, ...p] = Buffer.from(e.auth, 'base64').toString('utf8').split(':');
        username = u;
        password = p.join(':');
      }
      if (!username && !e.identitytoken) continue;
      // No serverAddress, as upstream's keyring: containerd parses it as a URL and drops the
      // credentials unless its host equals the endpoint's, which a bare `host:port` never does.
      matches.push({ score: k.path.length, auth: { username: username ?? '', password: password ?? '', ...(e.identitytoken ? { identityToken: e.identitytoken } : {}) } });
    }
  }
  return matches.sort((a, b) => b.score - a.score).map((m) => m.auth);
}
