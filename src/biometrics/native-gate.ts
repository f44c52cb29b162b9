/*
 * Which scoring tasks may be inside onnxruntime right now, in memory both sides see.
 *
 * Terminating a worker thread while it is inside an onnxruntime-node call aborts the whole
 * process: the call (InferenceSession.create or run, synchronous on the worker thread) returns
 * into a JavaScript environment that is being torn down, its N-API wrapper cannot throw the
 * resulting error into JavaScript, and the C++ exception escapes to std::terminate. So the main
 * thread never terminates a thread that may be in such a call. Each task in flight owns a slot
 * of two Int32 cells (state, thread id); both sides move the state only by compare-and-swap:
 *
 *   queued ──worker starts──▶ running ──worker enters onnxruntime──▶ native ──returns──▶ done
 *     │                         │                                      │
 *     └─main gives up─▶ cancelled ◀─main gives up─┘      main gives up─┴─▶ retiring
 *
 * cancelled: the worker never enters onnxruntime for this task (a queued task is skipped; a running
 * one is in JavaScript, so the main thread may terminate its thread). retiring: the thread is in a
 * native call; it exits by itself as soon as the call returns, and the pool replaces it.
 */

export const TASK_STATE = Object.freeze({
  queued: 0,
  running: 1,
  native: 2,
  done: 3,
  cancelled: 4,
  retiring: 5,
});

const CELLS_PER_SLOT = 2;

/** The shared cells of every slot; one buffer per pool, given to each worker once. */
export function gateCells(slots: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(slots * CELLS_PER_SLOT * Int32Array.BYTES_PER_ELEMENT));
}

/** What giving up on a task left to do. */
export type GiveUp =
  | { action: 'none' } // queued (the worker will skip it) or already finished
  | { action: 'terminate'; threadId: number } // in JavaScript, and can no longer enter onnxruntime
  | { action: 'await-exit'; threadId: number }; // in onnxruntime: the thread exits itself when the call returns

/** The main thread's side: hands out slots and gives up on tasks without racing the worker. */
export class TaskGates {
  readonly cells: Int32Array;
  private readonly free: number[] = [];

  constructor(readonly slots: number) {
    this.cells = gateCells(slots);
    for (let slot = slots - 1; slot >= 0; slot--) this.free.push(slot);
  }

  get inUse(): number {
    return this.slots - this.free.length;
  }

  /** A slot for a new task, or undefined when all are in use. */
  acquire(): number | undefined {
    const slot = this.free.pop();
    if (slot === undefined) return undefined;
    Atomics.store(this.cells, slot * CELLS_PER_SLOT + 1, 0);
    Atomics.store(this.cells, slot * CELLS_PER_SLOT, TASK_STATE.queued);
    return slot;
  }

  /** Only once the task's worker can no longer touch the slot (its run settled). */
  release(slot: number): void {
    this.free.push(slot);
  }

  state(slot: number): number {
    return Atomics.load(this.cells, slot * CELLS_PER_SLOT);
  }

  /** Stops the task from (re-)entering onnxruntime; says what the caller must do about its thread. */
  giveUp(slot: number): GiveUp {
    const at = slot * CELLS_PER_SLOT;
    for (;;) {
      const state = Atomics.load(this.cells, at);
      if (state === TASK_STATE.queued || state === TASK_STATE.running) {
        if (Atomics.compareExchange(this.cells, at, state, TASK_STATE.cancelled) !== state) continue;
        if (state === TASK_STATE.queued) return { action: 'none' };
        return { action: 'terminate', threadId: Atomics.load(this.cells, at + 1) };
      }
      if (state === TASK_STATE.native) {
        if (Atomics.compareExchange(this.cells, at, state, TASK_STATE.retiring) !== state) continue;
        return { action: 'await-exit', threadId: Atomics.load(this.cells, at + 1) };
      }
      return { action: 'none' };
    }
  }
}

/** The worker's side of one slot. */
export class TaskGate {
  private readonly at: number;

  constructor(
    private readonly cells: Int32Array,
    slot: number,
  ) {
    this.at = slot * CELLS_PER_SLOT;
  }

  /** Claims the task for this thread; false: the main thread gave up on it while it was queued. */
  begin(threadId: number): boolean {
    Atomics.store(this.cells, this.at + 1, threadId);
    return Atomics.compareExchange(this.cells, this.at, TASK_STATE.queued, TASK_STATE.running) === TASK_STATE.queued;
  }

  /** False: the main thread gave up and is terminating this thread; do not call onnxruntime. */
  enterNative(): boolean {
    return Atomics.compareExchange(this.cells, this.at, TASK_STATE.running, TASK_STATE.native) === TASK_STATE.running;
  }

  /** Whether the main thread has asked this thread to retire (checked between native calls). */
  retiring(): boolean {
    return Atomics.load(this.cells, this.at) === TASK_STATE.retiring;
  }

  /** Leaves onnxruntime with the task finished; false: this thread must retire now. */
  finish(): boolean {
    return Atomics.compareExchange(this.cells, this.at, TASK_STATE.native, TASK_STATE.done) === TASK_STATE.native;
  }
}
