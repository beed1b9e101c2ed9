/** One probe run of any handler (exec, httpGet, tcpSocket, grpc), with upstream's retries on errors. */
import type { KObject } from '../../client/rest-client.js';
import { execProbe, type ExecSyncFn } from './exec-probe.js';
import { grpcProbe } from './grpc-probe.js';
import { httpGetRequest, httpProbe } from './http-probe.js';
import { expandCommand, resolveContainerPort, type ProbeOutcome } from './probe-util.js';
import { tcpProbe } from './tcp-probe.js';

/** Upstream retries a probe that errored (not one that failed) this many times in a row. */
export const MAX_PROBE_RETRIES = 3;

/** Where and how to run a probe. */
export interface ProbeContext {
  execSync: ExecSyncFn;
  containerId: string;
  /** The pod spec's container (ports for named ports, env for command expansion). */
  container: KObject;
  podIP: string;
  /** For the missing-handler error, as upstream's format.Pod prints a pod. */
  podDescription?: string;
  /** The probe's timeoutSeconds. */
  timeoutSeconds: number;
  /** The timeout to enforce, ms (timeoutSeconds × 1000 unless scaled for tests). */
  timeoutMs: number;
  /** Extra time the runtime gets to answer an exec before the prober gives up, ms. */
  execGraceMs: number;
}

/** Runs the probe's handler once. */
export async function runProbe(probe: KObject, c: ProbeContext): Promise<ProbeOutcome> {
  try {
    if (probe.exec) {
      const cmd = expandCommand((probe.exec.command ?? []) as string[], c.container.env);
      return await execProbe(c.execSync, c.containerId, cmd, c.timeoutSeconds, c.timeoutMs + c.execGraceMs);
    }
    if (probe.httpGet) return await httpProbe(httpGetRequest(probe.httpGet, c.container, c.podIP), c.timeoutMs);
    if (probe.tcpSocket) return await tcpProbe(probe.tcpSocket.host || c.podIP, resolveContainerPort(probe.tcpSocket.port, c.container), c.timeoutMs);
    if (probe.grpc) {
      const port = Number(probe.grpc.port);
      if (!Number.isInteger(port) || port <= 0 || port >= 65536) throw new Error(`invalid port number: ${probe.grpc.port}`);
      return await grpcProbe(c.podIP, port, probe.grpc.service ?? '', c.timeoutMs);
    }
    return { result: 'unknown', output: '', error: `missing probe handler for ${c.podDescription ?? '?'}:${c.container.name}` };
  } catch (err) {
    return { result: 'unknown', output: '', error: err instanceof Error ? err.message : String(err) };
  }
}

/** Runs the probe, again up to `retries` times in all while it errors; the last outcome. */
export async function runProbeWithRetries(probe: KObject, c: ProbeContext, retries = MAX_PROBE_RETRIES): Promise<ProbeOutcome> {
  let out: ProbeOutcome = { result: 'unknown', output: '' };
  for (let i = 0; i < retries; i++) {
    out = await runProbe(probe, c);
    if (out.error === undefined) return out;
  }
  return out;
}
