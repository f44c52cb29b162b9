/**
 * Piscina worker: scores batches of feature windows with onnxruntime-node. Each worker keeps
 * an LRU of InferenceSessions per model key, so a model's bytes (a SharedArrayBuffer, shared
 * with the main thread rather than copied per task) are only read when the session is first
 * created in this worker.
 */
import * as ort from 'onnxruntime-node';
import { workerData } from 'node:worker_threads';
import { ONNX_INPUT, ONNX_OUTPUT } from '../src/biometrics/onnx/graph-io.ts';
import { SESSION_OPTIONS } from '../src/biometrics/onnx/session-options.ts';
import { SessionCache } from '../src/biometrics/session-cache.ts';
import { scoreWindowBatch } from '../src/biometrics/continuous/window-batch-scorer.ts';
import type { WindowBatchResult, WindowBatchTask } from '../src/biometrics/continuous/window-batch.ts';

export interface ScoringTask {
  /** Identifies one immutable model version (e.g. `${userId}:${version}`). */
  modelKey: string;
  /** The ONNX bytes; only read when this worker has no session for modelKey yet. */
  model: SharedArrayBuffer;
  /** n×d float32 rows, transferred to the worker. */
  features: Float32Array;
  n: number;
  d: number;
  /** Fault injection, honoured only when the pool was created with testHooks (tests). */
  fault?: 'exit' | 'throw' | 'hang';
}

/** Model errors come back as values; a rejected task therefore always means the worker failed. */
export type ScoringResult = { scores: Float32Array } | { error: string };

export interface ScoringWorkerData {
  maxSessions: number;
  testHooks: boolean;
}

const config = workerData as ScoringWorkerData;
const sessions = new SessionCache<ort.InferenceSession>(config.maxSessions, (session) => session.release());

function injectFault(fault: NonNullable<ScoringTask['fault']>): Promise<never> {
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
  return sessions.get(key, () => ort.InferenceSession.create(new Uint8Array(bytes).slice(), SESSION_OPTIONS));
}

export default async function score(task: ScoringTask | WindowBatchTask): Promise<ScoringResult | WindowBatchResult> {
  if (task.fault && config.testHooks) await injectFault(task.fault);
  // Micro-batches of the socket path: windows of many models (src/biometrics/continuous/).
  if ('kind' in task) return scoreWindowBatch(task, (ref) => sessionFor(ref.key, ref.bytes));
  let session: ort.InferenceSession;
  try {
    session = await sessionFor(task.modelKey, task.model);
  } catch (err) {
    return { error: `model ${task.modelKey} does not load: ${(err as Error).message}` };
  }
  try {
    const input = new ort.Tensor('float32', task.features.subarray(0, task.n * task.d), [task.n, task.d]);
    const output = (await session.run({ [ONNX_INPUT]: input }))[ONNX_OUTPUT];
    if (!output || output.type !== 'float32' || output.data.length !== task.n) {
      return { error: `model ${task.modelKey} did not produce ${task.n} float32 scores` };
    }
    // A copy: the output may live in memory onnxruntime owns; n floats are cheap to clone back.
    return { scores: Float32Array.from(output.data as Float32Array) };
  } catch (err) {
    return { error: `model ${task.modelKey} failed on a ${task.n}×${task.d} batch: ${(err as Error).message}` };
  }
}
