import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { FeatureSpec } from '../../protocol/biometrics.ts';
import { VigilError } from '../../protocol/errors.ts';
import { alignToSpec, type WindowFeatures } from './features/extract-windows.ts';
import { FeatureExtractor } from './features/feature-extractor.ts';
import { windowCount } from './features/windowing.ts';
import type { BiometricData } from './samples.ts';

/** Longest run of feature extraction between two returns to the event loop. */
const SLICE_MS = 8;

/**
 * `extractWindows` for request handlers: the same windows and features, computed in slices of at
 * most ~8 ms with a return to the event loop between them, so a large upload (≈ 30 µs per window)
 * does not stall every other request and socket of the process.
 */
export async function extractWindowsSliced(data: BiometricData, spec: FeatureSpec, maxWindows: number): Promise<WindowFeatures> {
  const values = alignToSpec(data, spec);
  const count = windowCount(data.length, spec.windowSamples, spec.hopSamples);
  const unit = spec.kind === 'samples' ? 'samples' : 'rows';
  if (count === 0) {
    throw new VigilError(
      'SAMPLES_TOO_FEW',
      { required: spec.windowSamples, unit, got: data.length },
      { details: [{ field: 'body', message: `${data.length} ${unit}; one window needs ${spec.windowSamples}` }] },
    );
  }
  if (count > maxWindows) {
    throw new VigilError(
      'SAMPLES_TOO_MANY',
      { what: 'windows', got: count, limit: maxWindows },
      { details: [{ field: 'body', message: `the upload yields ${count} windows; at most ${maxWindows} are scored at once` }] },
    );
  }
  const extractor = new FeatureExtractor(spec);
  const d = extractor.dimension;
  const out = new Float32Array(count * d);
  const starts = new Int32Array(count);
  let sliceStart = performance.now();
  for (let w = 0; w < count; w++) {
    const start = w * spec.hopSamples;
    starts[w] = start;
    extractor.extract(values, start, out, w * d);
    if ((w & 31) === 31 && performance.now() - sliceStart > SLICE_MS) {
      await yieldToLoop();
      sliceStart = performance.now();
    }
  }
  return { features: { data: out, n: count, d }, starts };
}
