/**
 * k8ts as a library: start a real Kubernetes API server in-process, for tests of operators and
 * controllers (what envtest is to Go).
 *
 * ```ts
 * import { startServer } from 'k8ts';
 * const cluster = await startServer();
 * // cluster.kubeconfigPath, cluster.url, cluster.kubeconfig
 * await cluster.stop();
 * ```
 */
export { startServer, type ServerOptions, type RunningServer } from './app/server.js';
export { StatusError, type Status } from './api/errors.js';
