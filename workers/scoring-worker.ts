/**
 * Piscina worker: scores batches of feature windows with onnxruntime-node. Each worker keeps
 * an LRU of InferenceSessions per model key, so a model's bytes (a SharedArrayBuffer, shared
 * with the main thread rather than copied per task) are only read when the session is first
 * created in this worker.
 *
 * onnxruntime-node is loaded when the thread starts, but only while the pool is open, and the pool
 * never stops a thread during that load (terminating one mid-load aborts the process:
 * src/biometrics/native-loads.ts). Hence no module of this thread imports it statically.
 */
import type * as ort from 'onnxruntime-node';
import { threadId, workerData } from 'node:worker_threads';
import { ONNX_INPUT, ONNX_OUTPUT } from '../src/biometrics/onnx/graph-io.ts';
import { SESSION_OPTIONS } from '../src/biometrics/onnx/session-options.ts';
import { TaskGate } from '../src/biometrics/native-gate.ts';
import { loadUnlessClosing } from '../src/biometrics/native-loads.ts';
import { onnxRuntime, type OnnxRuntime } from '../src/biometrics/onnx/runtime.ts';
import { SessionCache } from '../src/biometrics/session-cache.ts';
import { scoreWindowBatch } from '../src/biometrics/continuous/window-batch-scorer.ts';
import { gateScores } from '../src/biometrics/novelty.ts';
import { noveltyForModel } from '../src/biometrics/novelty-metadata.ts';
import type { WindowBatchResult, WindowBatchTask } from '../src/biometrics/continuous/window-batch.ts';
import type { GatedTask, ScoringResult, ScoringTask, ScoringWorkerData, SkippedTask } from '../src/biometrics/scoring-tasks.ts';

const config = workerData as ScoringWorkerData;

/** Tests hold a thread inside its load until they set the cell (scoring-pool.test.ts). */
function heldByTest(): void {
  const hold = config.testHooks ? config.loadHold : undefined;
  // Blocking: an idle Piscina thread sleeps in Atomics.wait, so timers would not run here.
  if (hold) Atomics.wait(hold, 0, 0);
}

/** Undefined: the pool closed before this thread started; it gets no task and is being stopped. */
const runtime: Promise<OnnxRuntime | undefined> = loadUnlessClosing(config.loads, async () => {
  heldByTest();
  return onnxRuntime();
});
// A failed load surfaces in the first task.
runtime.catch(() => {});
const sessions = new SessionCache<ort.InferenceSession>(config.maxSessions, (session) => session.release());

const STALL_LIMIT_MS = 30_000;

function injectFault(fault: 'exit' | 'throw' | 'hang'): Promise<never> {
  if (fault === 'exit') process.exit(70);
  if (fault === 'throw') {
    setImmediate(() => {
      throw new Error('injected uncaught exception');
    });
  }
  return new Promise<never>(() => {}); // 'hang', and 'throw' until the exception kills the thread
}

function sessionFor(key: string, bytes: SharedArrayBuffer): Promise<ort.InferenceSession> {
  // onnxruntime will not read a SharedArrayBuffer-backed view, hence one copy per session.
  return sessions.get(key, () => onnxRuntime().InferenceSession.create(new Uint8Array(bytes).slice(), SESSION_OPTIONS));
}

/** Never settles: the main thread is terminating this thread (it is in JavaScript, so that is safe). */
const parked = () => new Promise<never>(() => {});

export default async function score(
  task: (ScoringTask | WindowBatchTask) & GatedTask,
): Promise<ScoringResult | WindowBatchResult | SkippedTask> {
  if (!(await runtime)) throw new Error('the scoring pool closed before this thread started');
  const gate = new TaskGate(config.gates, task.slot);
  if (!gate.begin(threadId)) return { skipped: true };
  const fault = config.testHooks ? task.fault : undefined;
  if (fault && fault !== 'stall') await injectFault(fault);
  if (!gate.enterNative()) return parked();
  let result: ScoringResult | WindowBatchResult;
  try {
    result = await scoreTask(task);
    const started = performance.now();
    while (fault === 'stall' && !gate.retiring() && performance.now() - started < STALL_LIMIT_MS) result = await scoreTask(task);
  } finally {
    // The pool gave up on this task while it was in onnxruntime: leave the pool now (it starts a
    // replacement), at a point where no native call is in progress.
    if (!gate.finish()) process.exit(0);
  }
  return result;
}

/** Every onnxruntime call of the worker happens in here, between enterNative() and finish(). */
async function scoreTask(task: ScoringTask | WindowBatchTask): Promise<ScoringResult | WindowBatchResult> {
  // Micro-batches of the socket path: windows of many models (src/biometrics/continuous/).
  if ('kind' in task) return scoreWindowBatch(task, (ref) => sessionFor(ref.key, ref.bytes));
  let session: ort.InferenceSession;
  try {
    session = await sessionFor(task.modelKey, task.model);
  } catch (err) {
    return { error: `model ${task.modelKey} does not load: ${(err as Error).message}` };
  }
  try {
    const { Tensor } = onnxRuntime();
    const input = new Tensor('float32', task.features.subarray(0, task.n * task.d), [task.n, task.d]);
    const output = (await session.run({ [ONNX_INPUT]: input }))[ONNX_OUTPUT];
    if (!output || output.type !== 'float32' || output.data.length !== task.n) {
      return { error: `model ${task.modelKey} did not produce ${task.n} float32 scores` };
    }
    // A copy: the output may live in memory onnxruntime owns; n floats are cheap to clone back.
    const scores = Float32Array.from(output.data as Float32Array);
    const novelty = noveltyForModel(task.modelKey, task.model, task.d);
    if (novelty) {
      gateScores(
        novelty,
        task.features,
        task.n,
        (r) => scores[r]!,
        (r, value) => (scores[r] = value),
      );
    }
    return { scores };
  } catch (err) {
    return { error: `model ${task.modelKey} failed on a ${task.n}×${task.d} batch: ${(err as Error).message}` };
  }
}
