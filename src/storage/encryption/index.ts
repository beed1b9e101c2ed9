/** Encryption at rest with upstream's EncryptionConfiguration (`--encryption-provider-config`). */
export { loadEncryptionConfig, parseEncryptionConfig } from './config.js';
export type { EncryptionConfig, EncryptionKey, EncryptionProvider, EncryptionResourceConfig, ResourceSelector } from './config.js';
export { encryptingBackend, transformerLookup } from './backend.js';
export type { EncryptingBackendOptions, KeyTransformerLookup } from './backend.js';
export { EncryptionError, encryptedPrefix, resourceTransformer, aescbcTransformer, aesgcmTransformer, secretboxTransformer } from './transformers.js';
export type { KeyTransformer, ValueTransformer } from './transformers.js';
