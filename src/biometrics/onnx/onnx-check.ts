import type * as ort from 'onnxruntime-node';
import { onnxRuntime } from './runtime.ts';
import type { FeatureMatrix } from '../samples.ts';
import { SESSION_OPTIONS } from './session-options.ts';
import { ONNX_INPUT, ONNX_OUTPUT } from './graph-io.ts';

export { SESSION_OPTIONS } from './session-options.ts';

/** Scores `x` with onnxruntime in this thread (tests, training verification, benchmarks' ceiling). */
export async function scoreOnnx(model: Uint8Array | ort.InferenceSession, x: FeatureMatrix): Promise<Float32Array> {
  const { InferenceSession, Tensor } = onnxRuntime();
  const session = model instanceof Uint8Array ? await InferenceSession.create(model, SESSION_OPTIONS) : model;
  const input = new Tensor('float32', x.data.subarray(0, x.n * x.d), [x.n, x.d]);
  const result = await session.run({ [ONNX_INPUT]: input });
  const output = result[ONNX_OUTPUT];
  if (!output || output.type !== 'float32') throw new Error(`model has no float32 output "${ONNX_OUTPUT}"`);
  return output.data as Float32Array;
}

/** Tolerance of ONNX vs reference: 1e-4 absolute near zero, relative for large scores. */
export function scoresAgree(onnx: number, reference: number, tolerance = 1e-4): boolean {
  return Math.abs(onnx - reference) <= tolerance * Math.max(1, Math.abs(reference));
}

export function worstDisagreement(
  onnx: Float32Array,
  reference: Float32Array,
): { index: number; onnx: number; reference: number } | undefined {
  if (onnx.length !== reference.length) return { index: -1, onnx: onnx.length, reference: reference.length };
  for (let i = 0; i < onnx.length; i++) {
    if (!scoresAgree(onnx[i] as number, reference[i] as number))
      return { index: i, onnx: onnx[i] as number, reference: reference[i] as number };
  }
  return undefined;
}
