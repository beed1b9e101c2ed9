/** The kubelet's prober: liveness, readiness and startup probes over exec, httpGet, tcpSocket and grpc. */
export * from './prober-manager.js';
export * from './run-probe.js';
export * from './probe-util.js';
export { execProbe, type ExecSyncFn } from './exec-probe.js';
export { httpProbe, httpGetRequest, canonicalHeaderKey, type HttpProbeRequest } from './http-probe.js';
export { tcpProbe } from './tcp-probe.js';
export { grpcProbe, encodeHealthCheckRequest, decodeHealthCheckResponse } from './grpc-probe.js';
