/**
 * Removing everything a node runs, for throwaway nodes and tests: every container stopped and
 * removed, then every sandbox (which frees its network through CNI). Errors are ignored: this is
 * best effort on whatever is left.
 */
import type { ContainerRuntime } from './runtime.js';

export async function removeAllPodSandboxes(rt: ContainerRuntime): Promise<void> {
  for (const sb of await rt.listPodSandbox().catch(() => [])) {
    for (const c of await rt.listContainers({ podSandboxId: sb.id }).catch(() => [])) {
      await rt.stopContainer(c.id, 0).catch(() => undefined);
      await rt.removeContainer(c.id).catch(() => undefined);
    }
    await rt.stopPodSandbox(sb.id).catch(() => undefined);
    await rt.removePodSandbox(sb.id).catch(() => undefined);
  }
}
