import type { InferenceSession } from 'onnxruntime-node';

/** Options of every scoring session: one thread each, because the worker pool is the parallelism. */
export const SESSION_OPTIONS: InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};
