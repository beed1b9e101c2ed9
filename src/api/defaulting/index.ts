/** Upstream's SetDefaults_* for built-in kinds, on plain JSON objects. */
export * from './pod.js';
export * from './service.js';
export * from './apps.js';
export * from './batch.js';
export * from './core.js';
