/** Cluster DNS: a CoreDNS-compatible server for the cluster zone, fed by informers. */
export * from './server.js';
export * from './records.js';
export * from './names.js';
export * from './service-index.js';
export * from './forward.js';
