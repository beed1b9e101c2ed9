/**
 * A Backend wrapper that times every storage operation (for the apiserver's storage latency metric).
 */
import type { Backend } from './interface.js';

const timed = ['get', 'list', 'count', 'create', 'update', 'delete', 'compact'] as const;

/** Wrap `backend` so each operation reports its latency in seconds to `observe`. */
export function instrumentBackend(backend: Backend, observe: (operation: string, seconds: number) => void): Backend {
  const wrapped = Object.create(backend) as Backend;
  for (const op of timed) {
    const fn = (backend[op] as (...a: unknown[]) => Promise<unknown>).bind(backend);
    (wrapped as any)[op] = async (...args: unknown[]) => {
      const t = process.hrtime.bigint();
      try {
        return await fn(...args);
      } finally {
        observe(op, Number(process.hrtime.bigint() - t) / 1e9);
      }
    };
  }
  for (const op of ['watch', 'currentRevision', 'compactedRevision', 'close'] as const) {
    (wrapped as any)[op] = (backend[op] as (...a: unknown[]) => unknown).bind(backend);
  }
  return wrapped;
}
