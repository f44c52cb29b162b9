import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';

export type OnnxRuntime = typeof Ort;

const require = createRequire(import.meta.url);
let runtime: OnnxRuntime | undefined;

/**
 * onnxruntime-node, loaded at the first call rather than when a module importing it is. A
 * scoring thread must load it only while its pool lets it (workers/scoring-worker.ts,
 * native-loads.ts), so the modules that thread runs never import it statically.
 */
export function onnxRuntime(): OnnxRuntime {
  runtime ??= require('onnxruntime-node') as OnnxRuntime;
  return runtime;
}
