/**
 * The contract between the scoring pool (main thread) and its Piscina worker
 * (workers/scoring-worker.ts): what a task carries and what comes back. Both sides import it.
 */

export interface ScoringTask {
  /** Identifies one immutable model version (e.g. `${userId}:${version}`). */
  modelKey: string;
  /** The ONNX bytes; only read when this worker has no session for modelKey yet. */
  model: SharedArrayBuffer;
  /** n×d float32 rows, transferred to the worker. */
  features: Float32Array;
  n: number;
  d: number;
  /** Fault injection, honoured only when the pool was given planted faults (tests; src/biometrics/scoring-faults.ts). */
  fault?: ScoringFault | undefined;
}

/**
 * Faults a test can inject (first attempt of a task only): the thread exits, dies of an uncaught
 * exception, hangs in JavaScript, or stalls inside onnxruntime (scores the task again and again,
 * one real native call after another, until the pool retires the thread or STALL_LIMIT_MS pass).
 */
export type ScoringFault = 'exit' | 'throw' | 'hang' | 'stall';

/** Model errors come back as values; a rejected task therefore always means the worker failed. */
export type ScoringResult = { scores: Float32Array } | { error: string };

/** What every task carries besides its payload: its slot among the pool's native gates. */
export interface GatedTask {
  slot: number;
}

export interface ScoringWorkerData {
  maxSessions: number;
  testHooks: boolean;
  /** The pool's TaskGates cells (shared memory): see src/biometrics/native-gate.ts. */
  gates: Int32Array;
  /** The pool's NativeLoads cells (shared memory): see src/biometrics/native-loads.ts. */
  loads: Int32Array;
  /** Tests only (with testHooks): threads wait inside their load until cell 0 is set. */
  loadHold?: Int32Array | undefined;
}

/** What a task the pool gave up on before it started returns: nobody reads it. */
export interface SkippedTask {
  skipped: true;
}
