/** The node agent (kubelet), its CRI-shaped runtime interface, and hollow nodes. */
export * from './runtime/runtime.js';
export * from './runtime/fake-runtime.js';
export * from './status.js';
export * from './pod-source.js';
export * from './status-manager.js';
export * from './timing.js';
export * from './kubelet.js';
export * from './hollow.js';
