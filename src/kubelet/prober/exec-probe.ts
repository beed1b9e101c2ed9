/** exec probes: run a command in the container through the runtime's ExecSync (upstream pkg/probe/exec). */
import { goQuote, MAX_PROBE_OUTPUT, type ProbeOutcome } from './probe-util.js';

/** The runtime call exec probes use (CriRuntime.execSync has this shape). */
export type ExecSyncFn = (containerId: string, cmd: string[], timeoutSeconds: number) => Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }>;

const GRPC_DEADLINE_EXCEEDED = 4;

/**
 * Exit code 0 is success, any other a failure with the command's output (stdout then stderr,
 * at most 10 KiB). A timeout is a failure (upstream's ExecProbeTimeout, on by default): the runtime
 * reports DEADLINE_EXCEEDED, or the runtime does not answer within `localTimeoutMs`.
 * Any other runtime error leaves the result unknown.
 */
export async function execProbe(execSync: ExecSyncFn, containerId: string, cmd: string[], timeoutSeconds: number, localTimeoutMs: number): Promise<ProbeOutcome> {
  const timedOut: ProbeOutcome = { result: 'failure', output: `command ${goQuote(cmd.join(' '))} timed out` };
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), localTimeoutMs)));
  try {
    const res = await Promise.race([execSync(containerId, cmd, timeoutSeconds), guard]);
    if (res === 'timeout') return timedOut;
    const data = Buffer.concat([res.stdout ?? Buffer.alloc(0), res.stderr ?? Buffer.alloc(0)]).subarray(0, MAX_PROBE_OUTPUT).toString('utf8');
    return { result: res.exitCode === 0 ? 'success' : 'failure', output: data };
  } catch (err) {
    if ((err as { code?: unknown }).code === GRPC_DEADLINE_EXCEEDED) return timedOut;
    return { result: 'unknown', output: '', error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
