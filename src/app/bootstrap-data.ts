/**
 * Bootstrap data shared by every server of one cluster (as k3s keeps it in its datastore): the
 * cluster CA, the admin and controller-manager client certificates, and the join token, stored
 * in the shared store encrypted with a key derived from the join token. The first server writes
 * it; a server that joins with the same token reads it, so any server's kubeconfig works against
 * every other.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { KeyExistsError, type Backend } from '../storage/interface.js';
import type { KeyPairPEM } from '../base/pki.js';

const key = '/k8ts/bootstrap';

export interface SharedSecrets {
  ca: KeyPairPEM;
  admin: KeyPairPEM;
  controller: KeyPairPEM;
  /** The service account signing key (absent in data written before it was shared). */
  serviceAccountKey?: string;
  token: string;
}

function seal(data: SharedSecrets, token: string): string {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const k = scryptSync(token, salt, 32);
  const c = createCipheriv('aes-256-gcm', k, iv);
  const body = Buffer.concat([c.update(JSON.stringify(data), 'utf8'), c.final()]);
  return JSON.stringify({ v: 1, salt: salt.toString('base64'), iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), body: body.toString('base64') });
}

function open(sealed: string, token: string): SharedSecrets {
  const s = JSON.parse(sealed);
  const k = scryptSync(token, Buffer.from(s.salt, 'base64'), 32);
  const d = createDecipheriv('aes-256-gcm', k, Buffer.from(s.iv, 'base64'));
  d.setAuthTag(Buffer.from(s.tag, 'base64'));
  try {
    return JSON.parse(Buffer.concat([d.update(Buffer.from(s.body, 'base64')), d.final()]).toString('utf8'));
  } catch {
    throw new Error('the join token does not match this cluster (cannot decrypt its bootstrap data)');
  }
}

/**
 * The cluster's shared secrets: read them when the store has them (decrypting with `token`, which
 * a joining server must be given), or store `make()`'s when this is the first server.
 */
export async function sharedSecrets(backend: Backend, token: string | undefined, make: () => Promise<SharedSecrets>): Promise<SharedSecrets> {
  const existing = await backend.get(key);
  if (existing.kv) {
    if (!token) throw new Error('this store already holds a cluster: join it with --token (the first server wrote it to DATA_DIR/token)');
    return open(existing.kv.value, token);
  }
  const mine = await make();
  try {
    await backend.create(key, seal(mine, mine.token));
    return mine;
  } catch (e) {
    if (!(e instanceof KeyExistsError)) throw e;
    // Another server bootstrapped at the same moment: use its secrets.
    const theirs = await backend.get(key);
    return open(theirs.kv!.value, token ?? mine.token);
  }
}
