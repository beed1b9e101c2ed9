/** Score normalisation helpers shared by score plugins. */

/** The highest score a plugin may give after normalisation. */
export const MaxNodeScore = 100;
/** The lowest. */
export const MinNodeScore = 0;

/**
 * Scale scores to [0, maxPriority] by the largest one; `reverse` flips them so the smallest raw
 * score wins (upstream's helper.DefaultNormalizeScore). All-zero scores stay 0, or become
 * maxPriority when reversed.
 */
export function defaultNormalizeScore(maxPriority: number, reverse: boolean, scores: number[]): void {
  let maxCount = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i] > maxCount) maxCount = scores[i];
  if (maxCount === 0) {
    if (reverse) for (let i = 0; i < scores.length; i++) scores[i] = maxPriority;
    return;
  }
  for (let i = 0; i < scores.length; i++) {
    let s = Math.trunc((maxPriority * scores[i]) / maxCount);
    if (reverse) s = maxPriority - s;
    scores[i] = s;
  }
}
