/** The client machinery every k8ts component uses to see the cluster through the API. */
export * from './rest-client.js';
export * from './resources.js';
export * from './informer.js';
export * from './workqueue.js';
export * from './leader-election.js';
export * from './event-recorder.js';
export * from './component.js';
export * from './kubeconfig.js';
