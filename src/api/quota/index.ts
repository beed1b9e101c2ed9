/** Resource quota accounting shared by quota admission and the quota controller. */
export * from './resource-list.js';
export * from './pod-resources.js';
export * from './evaluators.js';
export * from './check.js';
