/**
 * Container lifecycle hooks (postStart, preStop) as upstream's kubelet runs them: exec in the
 * container, an HTTP GET against the pod, or a sleep. A hook's failure comes back as the message
 * the kubelet records (FailedPostStartHook / FailedPreStopHook).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KObject } from '../client/rest-client.js';
import { httpGetRequest, httpProbe, type ExecSyncFn } from './prober/index.js';

export interface HookContext {
  pod: KObject;
  container: KObject;
  containerId: string;
  podIP: string;
  execSync: ExecSyncFn | undefined;
  /** The most the hook may take, seconds. */
  timeoutSeconds: number;
}

/** Runs a lifecycle handler; resolves to undefined on success, or to the failure message. */
export async function runLifecycleHook(handler: KObject | undefined, c: HookContext): Promise<string | undefined> {
  if (!handler) return undefined;
  const who = `for Container "${c.container.name}" in Pod "${c.pod.metadata.name}_${c.pod.metadata.namespace}(${c.pod.metadata.uid})"`;
  if (handler.exec) {
    const cmd: string[] = handler.exec.command ?? [];
    if (!c.execSync) return `Exec lifecycle hook (${JSON.stringify(cmd)}) ${who} failed - error: the runtime cannot exec`;
    try {
      const r = await c.execSync(c.containerId, cmd, c.timeoutSeconds);
      if (r.exitCode === 0) return undefined;
      const out = Buffer.concat([r.stdout, r.stderr]).toString('utf8').slice(0, 10_240);
      return `Exec lifecycle hook (${JSON.stringify(cmd)}) ${who} failed - error: command '${cmd.join(' ')}' exited with ${r.exitCode}: ${out}, message: "${out}"`;
    } catch (e) {
      return `Exec lifecycle hook (${JSON.stringify(cmd)}) ${who} failed - error: ${(e as { details?: string }).details || (e as Error).message}`;
    }
  }
  if (handler.httpGet) {
    const req = httpGetRequest(handler.httpGet, c.container, c.podIP);
    const r = await httpProbe(req, c.timeoutSeconds * 1000);
    if (r.result === 'success' || r.result === 'warning') return undefined;
    return `HTTP lifecycle hook (${handler.httpGet.path ?? ''}) ${who} failed - error: ${r.error ?? r.output}`;
  }
  if (handler.sleep) {
    await sleep(Math.min(Number(handler.sleep.seconds ?? 0), c.timeoutSeconds) * 1000);
    return undefined;
  }
  return undefined;
}
