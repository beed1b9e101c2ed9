/** Pod volumes for the kubelet: the manager, the atomic writer and /etc/hosts. */
export * from './atomic-writer.js';
export * from './etc-hosts.js';
export * from './volume-manager.js';
