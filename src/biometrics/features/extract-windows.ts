import type { FeatureSpec } from '../../../protocol/biometrics.ts';
import { VigilError } from '../../../protocol/errors.ts';
import type { BiometricData, FeatureMatrix } from '../samples.ts';
import { FeatureExtractor } from './feature-extractor.ts';
import { windowCount } from './windowing.ts';

export interface WindowFeatures {
  features: FeatureMatrix;
  /** First sample (or row, for feature rows) of each window. */
  starts: Int32Array;
}

function mismatch(reason: string): VigilError {
  return new VigilError('SAMPLES_SPEC_MISMATCH', { reason }, { details: [{ field: 'body', message: reason }] });
}

/**
 * Returns the data's values in the spec's channel order (a copy only when the order differs),
 * or throws SAMPLES_SPEC_MISMATCH when kind, rate or channel set disagree.
 */
export function alignToSpec(data: BiometricData, spec: FeatureSpec): Float32Array {
  if (data.kind !== spec.kind) throw mismatch(`got ${data.kind}, the model expects ${spec.kind}`);
  if (data.kind === 'samples' && Math.abs(data.rate - spec.rate) > 1e-6 * spec.rate) {
    throw mismatch(`rate is ${data.rate} Hz, the model expects ${spec.rate} Hz`);
  }
  const expected = spec.channels;
  const got = data.channels;
  const sameOrder = got.length === expected.length && got.every((name, i) => name === expected[i]);
  if (sameOrder) return data.data;
  const order = expected.map((name) => got.indexOf(name));
  if (got.length !== expected.length || order.includes(-1)) {
    throw mismatch(
      `${data.kind === 'samples' ? 'channels' : 'columns'} are [${got.join(', ')}], the model expects [${expected.join(', ')}]`,
    );
  }
  const c = expected.length;
  const out = new Float32Array(data.length * c);
  for (let r = 0; r < data.length; r++) {
    for (let j = 0; j < c; j++) out[r * c + j] = data.data[r * c + (order[j] as number)] as number;
  }
  return out;
}

/** Cuts `data` into the spec's windows and featurises each one (the path training and batch scoring share). */
export function extractWindows(data: BiometricData, spec: FeatureSpec, extractor = new FeatureExtractor(spec)): WindowFeatures {
  if (extractor.spec !== spec) throw new RangeError('extractor was built for a different spec');
  const values = alignToSpec(data, spec);
  const count = windowCount(data.length, spec.windowSamples, spec.hopSamples);
  if (count === 0) {
    throw new VigilError(
      'SAMPLES_TOO_FEW',
      { required: spec.windowSamples, unit: spec.kind === 'samples' ? 'samples' : 'rows', got: data.length },
      { details: [{ field: 'body', message: `${data.length} samples; one window needs ${spec.windowSamples}` }] },
    );
  }
  const d = extractor.dimension;
  const out = new Float32Array(count * d);
  const starts = new Int32Array(count);
  for (let w = 0; w < count; w++) {
    const start = w * spec.hopSamples;
    starts[w] = start;
    extractor.extract(values, start, out, w * d);
  }
  return { features: { data: out, n: count, d }, starts };
}
