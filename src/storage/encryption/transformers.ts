/**
 * Value transformers for encryption at rest, stored in upstream's layout: `k8s:enc:<type>:v1:<key>:`
 * followed by the nonce/IV and the ciphertext. Our values are strings, so the binary part is base64.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import type { EncryptionKey, EncryptionProvider, EncryptionResourceConfig } from './config.js';

/** Reading or writing an encrypted value failed (wrong key, tampered data, no matching provider). */
export class EncryptionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EncryptionError';
  }
}

/** Every encrypted value starts with this, whatever the provider. */
export const encryptedPrefix = 'k8s:enc:';

/** One provider key: seals and opens raw bytes. `aad` is the storage key (used by aesgcm, as upstream). */
export interface KeyTransformer {
  /** `k8s:enc:<type>:v1:<keyname>:` */
  readonly prefix: string;
  seal(plain: Buffer, aad: Buffer): Buffer;
  /** Throws on a wrong key or tampered data. */
  open(sealed: Buffer, aad: Buffer): Buffer;
}

function aesBits(key: Buffer): 128 | 192 | 256 {
  return (key.length * 8) as 128 | 192 | 256;
}

/** AES-CBC with PKCS#7 padding and a random 16-byte IV in front. Unauthenticated, as upstream. */
export function aescbcTransformer(key: EncryptionKey): KeyTransformer {
  const algo = `aes-${aesBits(key.secret)}-cbc`;
  return {
    prefix: `${encryptedPrefix}aescbc:v1:${key.name}:`,
    seal(plain) {
      const iv = randomBytes(16);
      const c = createCipheriv(algo, key.secret, iv);
      return Buffer.concat([iv, c.update(plain), c.final()]);
    },
    open(sealed) {
      if (sealed.length < 32 || sealed.length % 16 !== 0) throw new Error('the data is not a whole number of AES blocks after the IV');
      const d = createDecipheriv(algo, key.secret, sealed.subarray(0, 16));
      return Buffer.concat([d.update(sealed.subarray(16)), d.final()]);
    },
  };
}

/** AES-GCM with a random 12-byte nonce in front and the 16-byte tag at the end; the storage key is authenticated data. */
export function aesgcmTransformer(key: EncryptionKey): KeyTransformer {
  const algo = `aes-${aesBits(key.secret)}-gcm` as const;
  return {
    prefix: `${encryptedPrefix}aesgcm:v1:${key.name}:`,
    seal(plain, aad) {
      const nonce = randomBytes(12);
      const c = createCipheriv(algo as 'aes-256-gcm', key.secret, nonce);
      c.setAAD(aad);
      const body = Buffer.concat([c.update(plain), c.final()]);
      return Buffer.concat([nonce, body, c.getAuthTag()]);
    },
    open(sealed, aad) {
      if (sealed.length < 12 + 16) throw new Error('the data is shorter than a nonce and a tag');
      const d = createDecipheriv(algo as 'aes-256-gcm', key.secret, sealed.subarray(0, 12));
      d.setAAD(aad);
      d.setAuthTag(sealed.subarray(sealed.length - 16));
      return Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]);
    },
  };
}

/** NaCl secretbox (XSalsa20-Poly1305) with a random 24-byte nonce in front. */
export function secretboxTransformer(key: EncryptionKey): KeyTransformer {
  const k = new Uint8Array(key.secret);
  return {
    prefix: `${encryptedPrefix}secretbox:v1:${key.name}:`,
    seal(plain) {
      const nonce = randomBytes(nacl.secretbox.nonceLength);
      return Buffer.concat([nonce, nacl.secretbox(new Uint8Array(plain), new Uint8Array(nonce), k)]);
    },
    open(sealed) {
      const n = nacl.secretbox.nonceLength;
      if (sealed.length < n + nacl.secretbox.overheadLength) throw new Error('the data is shorter than a nonce and a tag');
      const out = nacl.secretbox.open(new Uint8Array(sealed.subarray(n)), new Uint8Array(sealed.subarray(0, n)), k);
      if (!out) throw new Error('message authentication failed');
      return Buffer.from(out);
    },
  };
}

function keyTransformers(p: EncryptionProvider): KeyTransformer[] {
  switch (p.type) {
    case 'aescbc':
      return p.keys.map(aescbcTransformer);
    case 'aesgcm':
      return p.keys.map(aesgcmTransformer);
    case 'secretbox':
      return p.keys.map(secretboxTransformer);
    case 'identity':
      return [];
  }
}

/** Encrypts and decrypts the values of one resources entry. */
export interface ValueTransformer {
  /** The value to store for `key`: encrypted by the first provider's first key (unchanged for identity). */
  toStorage(key: string, value: string): string;
  /** The plaintext of a stored value. Throws {@link EncryptionError} when no configured provider can read it. */
  fromStorage(key: string, stored: string): string;
}

/** The transformer of one resources entry of the config. */
export function resourceTransformer(entry: EncryptionResourceConfig): ValueTransformer {
  const readers = entry.providers.flatMap(keyTransformers);
  const identity = entry.providers.some((p) => p.type === 'identity');
  const writer = entry.providers[0]!.type === 'identity' ? undefined : readers[0];
  return {
    toStorage(key, value) {
      if (!writer) return value;
      return writer.prefix + writer.seal(Buffer.from(value, 'utf8'), Buffer.from(key, 'utf8')).toString('base64');
    },
    fromStorage(key, stored) {
      for (const r of readers) {
        if (!stored.startsWith(r.prefix)) continue;
        try {
          return r.open(Buffer.from(stored.slice(r.prefix.length), 'base64'), Buffer.from(key, 'utf8')).toString('utf8');
        } catch (err) {
          throw new EncryptionError(`cannot decrypt ${key} with key "${r.prefix}": ${(err as Error).message} (wrong key or tampered data)`, { cause: err });
        }
      }
      if (stored.startsWith(encryptedPrefix)) {
        const p = /^k8s:enc:[^:]*:[^:]*:[^:]*:/.exec(stored)?.[0] ?? encryptedPrefix;
        throw new EncryptionError(`cannot decrypt ${key}: it is encrypted with "${p}", which is not among the configured providers' keys (no matching prefix found)`);
      }
      if (identity) return stored;
      throw new EncryptionError(`cannot read ${key}: the stored value is not encrypted and the identity provider is not configured for it (no matching prefix found)`);
    },
  };
}
