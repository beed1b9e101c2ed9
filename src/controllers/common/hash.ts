/**
 * Stable names from content: the pod-template-hash and controller-revision-hash labels that
 * Deployments, DaemonSets and StatefulSets stamp on what they create.
 */

/** JSON with sorted keys (undefined fields dropped), so equal objects give equal text. */
export function canonicalJSON(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJSON(o[k])}`)
    .join(',')}}`;
}

/** FNV-1a (32 bit) over a string's UTF-8 bytes. */
function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Upstream's rand.SafeEncodeString alphabet: no vowels (no words) and no look-alike characters. */
const safeAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * The hash of some content and a collision count: FNV-1a over the canonical JSON, its decimal
 * digits mapped onto the safe alphabet as upstream does.
 */
export function contentHash(content: unknown, collisionCount?: number): string {
  let s = canonicalJSON(content ?? {});
  if (collisionCount) s += `#${collisionCount}`;
  return [...String(fnv1a32(s))].map((c) => safeAlphabet[c.charCodeAt(0) % safeAlphabet.length]).join('');
}
