/**
 * Validation of built-in API objects with upstream's wording. Per-kind validators check
 * everything but generic metadata, which {@link validateObjectMeta} covers.
 */
export * from './identifiers.js';
export * from './network.js';
export * from './helpers.js';
export * from './object-meta.js';
export * from './pod.js';
export * from './service.js';
export * from './apps.js';
export * from './core.js';
export * from './batch.js';
export * from './cron.js';
export * from './groups.js';
