import { describe, expect, it } from 'vitest';
import { ReferenceFeatureExtractor } from '../../../test/support/reference-feature-extractor.ts';
import { importWisdm } from '../../../scripts/eval/wisdm-importer.ts';
import { WISDM_DIR } from '../../../test/support/wisdm.ts';
import { FeatureExtractor, medianDeviation, quantile } from './feature-extractor.ts';
import { sampleFeatureSpec } from './feature-spec.ts';

// The extractor's kernels (MAD without a second sort, four autocorrelation lags per pass) were
// rewritten for speed; a window's features must stay the same float32 values, or verdicts move.
describe('feature kernels equal the straightforward extractor', () => {
  it('on every window of every WISDM recording, all activities (20 Hz × 3 axes, 2.5 s, 50 % hop)', async () => {
    const spec = sampleFeatureSpec({ rate: 20, channels: ['x', 'y', 'z'], modality: 'motion' });
    const fast = new FeatureExtractor(spec);
    const reference = new ReferenceFeatureExtractor(spec);
    const d = spec.names.length;
    const got = new Float32Array(d);
    const want = new Float32Array(d);
    let windows = 0;
    for (const { samples: recording } of await importWisdm(WISDM_DIR)) {
      const samples = recording.length;
      for (let start = 0; start + spec.windowSamples <= samples; start += spec.hopSamples) {
        fast.extract(recording.data, start, got);
        reference.extract(recording.data, start, want);
        // toEqual on typed arrays compares element by element with Object.is: bit-identical.
        if (!got.every((v, j) => Object.is(v, want[j]))) expect({ start, got: [...got] }).toEqual({ start, got: [...want] });
        windows++;
      }
    }
    expect(windows).toBeGreaterThan(1000);
  });

  it('for other window lengths, rates and a ring buffer that wraps', () => {
    for (const [rate, window] of [
      [50, 2.56],
      [20, 5],
      [100, 1],
      [10, 0.9],
    ] as const) {
      const spec = sampleFeatureSpec({ rate, window, channels: ['x', 'y', 'z'] });
      const fast = new FeatureExtractor(spec);
      const reference = new ReferenceFeatureExtractor(spec);
      const n = spec.windowSamples;
      const ring = Float32Array.from({ length: n * 3 }, (_, i) => Math.sin(i / 5) * 9.8 + ((i * 7919) % 17) / 4 - 2);
      const got = new Float32Array(spec.names.length);
      const want = new Float32Array(spec.names.length);
      for (let start = 0; start < n; start += 3) {
        fast.extract(ring, start, got, 0, n);
        reference.extract(ring, start, want, 0, n);
        expect([...got]).toEqual([...want]);
      }
    }
  });

  it('medianDeviation is the median of the sorted absolute deviations, ties and repeats included', () => {
    for (const values of [[1, 2, 3, 4, 100], [5, 5, 5, 5], [-3, -1, 0, 0, 2, 9, 9, 10], [7], [0, 1]]) {
      const sorted = Float64Array.from(values).sort();
      const median = quantile(sorted, 0.5);
      const deviations = Float64Array.from(sorted, (v) => Math.abs(v - median)).sort();
      expect(medianDeviation(sorted, median)).toBe(quantile(deviations, 0.5));
    }
  });
});
