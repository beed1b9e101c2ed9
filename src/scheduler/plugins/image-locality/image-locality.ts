/**
 * ImageLocality: prefers nodes that already have the pod's images, weighted by image size and by
 * how widely the image is spread (so one node holding a popular image is not swamped).
 */
import type { CycleState } from '../../framework/cycle-state.js';
import type { Handle, ScorePlugin } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { MaxNodeScore } from '../../framework/normalize.js';
import type { PodInfo } from '../../framework/pod-info.js';
import type { Status } from '../../framework/status.js';

export const Name = 'ImageLocality';

const mb = 1024 * 1024;
/** Below this the score is 0. */
export const MinThreshold = 23 * mb;
/** Per container, above this the score is 100. */
export const MaxContainerThreshold = 1000 * mb;

/** Upstream's calculatePriority: clamp the sum to [min, max × containers] and scale to 0–100. */
export function calculatePriority(sumScores: number, numContainers: number): number {
  const maxThreshold = MaxContainerThreshold * numContainers;
  if (sumScores < MinThreshold) sumScores = MinThreshold;
  else if (sumScores > maxThreshold) sumScores = maxThreshold;
  return Math.trunc((MaxNodeScore * (sumScores - MinThreshold)) / (maxThreshold - MinThreshold));
}

/** The ImageLocality plugin. */
export class ImageLocality implements ScorePlugin {
  readonly name = Name;
  constructor(private readonly handle: Handle) {}

  score(_state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): number | Status {
    const numContainers = pod.images.length;
    if (numContainers === 0 || nodeInfo.images.size === 0) return 0;
    const snapshot = this.handle.snapshot();
    const totalNodes = snapshot.numNodes();
    let sum = 0;
    for (const img of pod.images) {
      const size = nodeInfo.images.get(img);
      if (size === undefined) continue;
      sum += Math.trunc(size * (snapshot.imageNumNodes(img) / totalNodes));
    }
    return calculatePriority(sum, (pod.pod.spec?.containers?.length ?? 0) + (pod.pod.spec?.initContainers?.length ?? 0));
  }
}

/** Factory. */
export function New(_args: unknown, handle: Handle): ImageLocality {
  return new ImageLocality(handle);
}
