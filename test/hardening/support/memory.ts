import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Heap and RSS after a full garbage collection. Vitest's workers do not run with --expose-gc;
 * the flag can still be set at run time, and a fresh context then sees the `gc` function.
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'major'; execution: 'sync' }) => void;

export interface MemorySample {
  heapUsedMiB: number;
  rssMiB: number;
}

const MiB = 1024 * 1024;

export async function settledMemory(): Promise<MemorySample> {
  // A few rounds: finalizers and weak callbacks free more on the next pass.
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsedMiB: heapUsed / MiB, rssMiB: rss / MiB };
}

/** Keys added to Object.prototype (prototype pollution reaches every object of the process). */
export function prototypePollution(): string[] {
  const probe = {} as Record<string, unknown>;
  const found = Object.getOwnPropertyNames(Object.prototype).filter((name) => !BUILTIN_PROTO_KEYS.has(name));
  for (const key of ['polluted', 'admin', 'isAdmin', 'role', 'status', 'x']) if (probe[key] !== undefined) found.push(key);
  return found;
}

const BUILTIN_PROTO_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));
