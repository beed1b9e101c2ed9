/** A sleep that ends early (resolving, not rejecting) when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Calls `fn` every `stepMs` until it returns a truthy value, which is returned; after `timeoutMs`
 * it throws "timed out waiting for <what>" with the last error `fn` threw. For tests, benchmarks
 * and tools that wait on a cluster.
 */
export async function pollUntil<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, o: { timeoutMs: number; stepMs?: number; what?: string }): Promise<T> {
  const end = Date.now() + o.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out${o.what ? ` waiting for ${o.what}` : ''}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, o.stepMs ?? 100));
  }
}
