/*
 * Which scoring threads are still loading onnxruntime-node, in memory both sides see.
 *
 * Terminating a thread while the binding initialises aborts the whole process, exactly like
 * terminating one inside a call (native-gate.ts): the binding's N-API calls fail on the dying
 * environment and the C++ exception reaches std::terminate. A gateway closed soon after it started
 * (every test, a crash-looping deployment) does that with a few per cent chance per thread. So a
 * thread loads only while the pool is open, and the pool stops its threads only once no load is
 * in progress. Two Int32 cells, sequentially consistent: a thread counts itself in, then checks
 * `closing`; the pool sets `closing`, then reads the count. At least one of them sees the other.
 */

const CLOSING = 0;
const LOADING = 1;
const POLL_MS = 5;

/** The cells to hand each thread (workerData); one per pool. */
export function nativeLoadCells(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
}

/** The pool's side. */
export class NativeLoads {
  constructor(readonly cells: Int32Array) {}

  get loading(): number {
    return Atomics.load(this.cells, LOADING);
  }

  /**
   * No thread starts a load from now on; resolves once none is loading (true), or after `ms`
   * with some still loading (false: a thread stuck in its load, e.g. killed by the OS).
   */
  async closeAndSettle(ms: number): Promise<boolean> {
    Atomics.store(this.cells, CLOSING, 1);
    const deadline = performance.now() + ms;
    // Polled: on Node 20 a settled Atomics.waitAsync does not wake an idle event loop.
    while (Atomics.load(this.cells, LOADING) !== 0) {
      if (performance.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return true;
  }
}

/** The thread's side: runs `load` unless the pool is closing (then resolves undefined). */
export async function loadUnlessClosing<T>(cells: Int32Array, load: () => Promise<T>): Promise<T | undefined> {
  Atomics.add(cells, LOADING, 1);
  try {
    if (Atomics.load(cells, CLOSING) !== 0) return undefined;
    return await load();
  } finally {
    Atomics.sub(cells, LOADING, 1);
  }
}
