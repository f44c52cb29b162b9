import { describe, expect, it } from 'vitest';
import { VigilError } from '../../../protocol/errors.ts';
import { featureRowSet, sampleSet } from '../samples.ts';
import { extractWindows } from './extract-windows.ts';
import { FeatureExtractor } from './feature-extractor.ts';
import { rowFeatureSpec, sampleFeatureSpec } from './feature-spec.ts';
import { defaultWindow, secondsToSamples, windowCount } from './windowing.ts';

/** Straightforward array-based versions of each feature: the independent reference. */
const ref = {
  mean: (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length,
  std: (x: number[]) => Math.sqrt(ref.mean(x.map((v) => (v - ref.mean(x)) ** 2))),
  percentile(x: number[], q: number) {
    const s = [...x].sort((a, b) => a - b);
    const pos = q * (s.length - 1);
    const lo = Math.floor(pos);
    return (s[lo] as number) + ((s[Math.min(lo + 1, s.length - 1)] as number) - (s[lo] as number)) * (pos - lo);
  },
  /** Power of the Hann-tapered, mean-removed signal in [lo, hi) Hz via the DFT definition. */
  bandPower(x: number[], rate: number, nfft: number, lo: number, hi: number, includeTop: boolean) {
    const n = x.length;
    const m = ref.mean(x);
    const w = x.map((_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)));
    const y = x.map((v, i) => (v - m) * (w[i] as number));
    let total = 0;
    for (let k = 0; k <= nfft / 2; k++) {
      const f = (k * rate) / nfft;
      if (!(f >= lo - 1e-9 && (f < hi - 1e-9 || (includeTop && k === nfft / 2)))) continue;
      let re = 0;
      let im = 0;
      for (let t = 0; t < n; t++) {
        re += (y[t] as number) * Math.cos((2 * Math.PI * k * t) / nfft);
        im -= (y[t] as number) * Math.sin((2 * Math.PI * k * t) / nfft);
      }
      total += re * re + im * im;
    }
    return total / w.reduce((a, v) => a + v * v, 0);
  },
  pearson(x: number[], y: number[]) {
    const mx = ref.mean(x);
    const my = ref.mean(y);
    let c = 0;
    let a = 0;
    let b = 0;
    x.forEach((v, i) => {
      c += (v - mx) * ((y[i] as number) - my);
      a += (v - mx) ** 2;
      b += ((y[i] as number) - my) ** 2;
    });
    return c / Math.sqrt(a * b);
  },
};

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function feature(spec: { names: string[] }, vector: Float32Array, name: string): number {
  const i = spec.names.indexOf(name);
  if (i < 0) throw new Error(`no feature ${name}`);
  return vector[i] as number;
}

describe('windowing', () => {
  it('gives an unknown modality the default window, even one named like an Object member', () => {
    for (const label of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'walking-upside-down']) {
      expect(defaultWindow(label)).toEqual({ window: 2.5, hop: 1.25 });
    }
    expect(defaultWindow('ppg')).toEqual({ window: 8, hop: 4 });
  });

  it('converts seconds to samples and counts complete windows', () => {
    expect(secondsToSamples(2.5, 20)).toBe(50);
    expect(secondsToSamples(1.25, 20)).toBe(25);
    expect(windowCount(49, 50, 25)).toBe(0);
    expect(windowCount(50, 50, 25)).toBe(1);
    expect(windowCount(124, 50, 25)).toBe(3);
    expect(windowCount(125, 50, 25)).toBe(4);
  });

  it('uses per-modality defaults at any rate', () => {
    expect(sampleFeatureSpec({ rate: 20, channels: ['x'] })).toMatchObject({
      window: 2.5,
      hop: 1.25,
      windowSamples: 50,
      hopSamples: 25,
    });
    expect(sampleFeatureSpec({ rate: 100, channels: ['x'] })).toMatchObject({ windowSamples: 250, hopSamples: 125 });
    expect(sampleFeatureSpec({ rate: 64, channels: ['p'], modality: 'ppg' })).toMatchObject({ window: 8, hop: 4 });
    expect(sampleFeatureSpec({ rate: 20, channels: ['x'], window: 4 })).toMatchObject({ hop: 2, hopSamples: 40 });
  });
});

describe('feature spec', () => {
  it.each([
    [{ rate: 0, channels: ['x'] }, 'options.rate must be a positive number, got 0'],
    [{ rate: 20, channels: [] }, 'options.channels must name at least one channel'],
    [{ rate: 20, channels: ['x', 'x'] }, 'options.channels must not repeat a name'],
    [{ rate: 20, channels: ['x'], window: -1 }, 'options.window must be a positive number of seconds, got -1'],
    [{ rate: 20, channels: ['x'], hop: 0 }, 'options.hop must be a positive number of seconds, got 0'],
    [{ rate: 20, channels: ['x'], window: 0.2 }, 'options.window must span at least 8 samples; 0.2 s at 20 Hz is 4'],
    [{ rate: 20, channels: ['x'], bands: [1] }, 'options.bands must list at least two edges (or none)'],
    [{ rate: 20, channels: ['x'], bands: [1, 11] }, 'options.bands[1] must be within 0..10 Hz, got 11'],
    [{ rate: 20, channels: ['x'], bands: [2, 1] }, 'options.bands must be strictly ascending'],
    [
      { rate: 20, channels: ['x'], cadence: [2, 1] as [number, number] },
      'options.cadence must be [low, high] Hz with 0 < low < high, got [2, 1]',
    ],
  ])('rejects %j', (options, message) => {
    expect(() => sampleFeatureSpec(options)).toThrow(new TypeError(message));
  });

  it('names one feature per output column, magnitude and correlations included for xyz', () => {
    const spec = sampleFeatureSpec({ rate: 20, channels: ['x', 'y', 'z'] });
    expect(spec.magnitude).toBe(true);
    expect(spec.names).toContain('mag.logJerkStd');
    expect(spec.names).not.toContain('mag.zeroCross');
    expect(spec.names).toContain('corr.x.z');
    expect(new Set(spec.names).size).toBe(spec.names.length);
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
  });
});

describe('FeatureExtractor', () => {
  it('matches hand-computed time statistics on a ramp', () => {
    const spec = sampleFeatureSpec({ rate: 10, channels: ['x'], window: 0.8 });
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const out = new Float32Array(spec.names.length);
    new FeatureExtractor(spec).extract(x, 0, out);
    const f = (name: string) => feature(spec, out, `x.${name}`);
    expect(f('mean')).toBeCloseTo(4.5, 6);
    expect(f('logStd')).toBeCloseTo(Math.log(Math.sqrt(5.25) + 1e-6), 6);
    expect(f('min')).toBe(1);
    expect(f('max')).toBe(8);
    expect(f('p10')).toBeCloseTo(1.7, 6); // position 0.7 between 1 and 2
    expect(f('p50')).toBeCloseTo(4.5, 6);
    expect(f('p75')).toBeCloseTo(6.25, 6);
    expect(f('logMad')).toBeCloseTo(Math.log(2 + 1e-6), 6); // |x−4.5| = 3.5 2.5 1.5 .5 .5 1.5 2.5 3.5
    expect(f('logEnergy')).toBeCloseTo(Math.log(204 / 8 + 1e-6), 5);
    expect(f('meanCross')).toBeCloseTo(1 / 7, 6);
    expect(f('zeroCross')).toBe(0);
    expect(f('logJerkMean')).toBeCloseTo(Math.log(10 + 1e-6), 5); // each step is 1 unit over 0.1 s
    expect(f('logJerkStd')).toBeCloseTo(Math.log(1e-6), 0); // no spread: the offset alone
  });

  it('finds the frequency and period of a tone', () => {
    const rate = 20;
    const spec = sampleFeatureSpec({ rate, channels: ['x'], window: 6.4 });
    const x = Float32Array.from({ length: spec.windowSamples }, (_, t) => Math.sin((2 * Math.PI * 2.5 * t) / rate));
    const out = new Float32Array(spec.names.length);
    new FeatureExtractor(spec).extract(x, 0, out);
    expect(feature(spec, out, 'x.domFreq')).toBeCloseTo(2.5, 6); // 128 samples: 2.5 Hz is bin 16
    expect(feature(spec, out, 'x.acLag')).toBeCloseTo(0.4, 6);
    expect(feature(spec, out, 'x.acPeak')).toBeGreaterThan(0.8);
    expect(feature(spec, out, 'x.zeroCross')).toBeCloseTo(31 / 127, 2);
  });

  it('agrees with naive reference computations on random 3-axis data', () => {
    const rate = 20;
    const spec = sampleFeatureSpec({ rate, channels: ['x', 'y', 'z'] });
    const n = spec.windowSamples;
    const rnd = seeded(7);
    const data = Float32Array.from({ length: 3 * (n + 30) }, () => rnd() * 4 - 2);
    const start = 17;
    const out = new Float32Array(spec.names.length + 1).fill(Number.NaN);
    new FeatureExtractor(spec).extract(data, start, out);
    expect(out.subarray(0, spec.names.length).every(Number.isFinite)).toBe(true);
    expect(Number.isNaN(out[spec.names.length])).toBe(true); // wrote exactly `dimension` values

    const channel = (j: number) => Array.from({ length: n }, (_, t) => data[(start + t) * 3 + j] as number);
    const signals: Record<string, number[]> = { x: channel(0), y: channel(1), z: channel(2) };
    signals.mag = signals.x!.map((v, t) => Math.hypot(v, signals.y![t]!, signals.z![t]!));
    const nfft = 64;
    for (const [name, x] of Object.entries(signals)) {
      const m = ref.mean(x);
      expect(feature(spec, out, `${name}.mean`)).toBeCloseTo(m, 5);
      expect(feature(spec, out, `${name}.logStd`)).toBeCloseTo(Math.log(ref.std(x) + 1e-6), 5);
      expect(feature(spec, out, `${name}.p90`)).toBeCloseTo(ref.percentile(x, 0.9), 5);
      const med = ref.percentile(x, 0.5);
      const mad = ref.percentile(
        x.map((v) => Math.abs(v - med)),
        0.5,
      );
      expect(feature(spec, out, `${name}.logMad`)).toBeCloseTo(Math.log(mad + 1e-6), 5);
      const energy = ref.mean(x.map((v) => v * v));
      expect(feature(spec, out, `${name}.logEnergy`)).toBeCloseTo(Math.log(energy + 1e-6), 5);
      for (let b = 0; b + 1 < spec.bands.length; b++) {
        const top = b + 2 === spec.bands.length;
        const expected = Math.log(ref.bandPower(x, rate, nfft, spec.bands[b]!, spec.bands[b + 1]!, top) + 1e-12);
        expect(feature(spec, out, `${name}.band${b}`)).toBeCloseTo(expected, 3);
      }
      // autocorrelation peak by brute force over the cadence lags (0.5–4 Hz → lags 5…37)
      const y = x.map((v) => v - m);
      const r0 = y.reduce((a, v) => a + v * v, 0);
      let best = -Infinity;
      for (let lag = 5; lag <= 37; lag++) {
        let acc = 0;
        for (let i = 0; i + lag < n; i++) acc += y[i]! * y[i + lag]!;
        best = Math.max(best, acc / r0);
      }
      expect(feature(spec, out, `${name}.acPeak`)).toBeCloseTo(best, 5);
    }
    expect(feature(spec, out, 'corr.x.y')).toBeCloseTo(ref.pearson(signals.x!, signals.y!), 5);
    expect(feature(spec, out, 'corr.y.z')).toBeCloseTo(ref.pearson(signals.y!, signals.z!), 5);
  });

  it('reads a wrapped ring buffer exactly like contiguous samples', () => {
    const spec = sampleFeatureSpec({ rate: 20, channels: ['x', 'y'] });
    const n = spec.windowSamples;
    const rnd = seeded(3);
    const linear = Float32Array.from({ length: 2 * n }, () => rnd());
    const ringSamples = n + 7;
    const ring = new Float32Array(ringSamples * 2);
    const startInRing = ringSamples - 11; // wraps after 11 samples
    for (let t = 0; t < n; t++) {
      const slot = (startInRing + t) % ringSamples;
      ring[slot * 2] = linear[t * 2]!;
      ring[slot * 2 + 1] = linear[t * 2 + 1]!;
    }
    const extractor = new FeatureExtractor(spec);
    const a = new Float32Array(extractor.dimension);
    const b = new Float32Array(extractor.dimension);
    extractor.extract(linear, 0, a);
    extractor.extract(ring, startInRing, b, 0, ringSamples);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('passes feature rows through unchanged', () => {
    const spec = rowFeatureSpec({ columns: ['h1', 'h2', 'dd'] });
    const rows = featureRowSet(['h1', 'h2', 'dd'], Float32Array.from([1, 2, 3, 4, 5, 6]));
    const { features, starts } = extractWindows(rows, spec);
    expect(features.n).toBe(2);
    expect(Array.from(features.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(starts)).toEqual([0, 1]);
  });
});

describe('extractWindows', () => {
  const spec = sampleFeatureSpec({ rate: 20, channels: ['x', 'y', 'z'] });
  const rnd = seeded(11);
  const data = Float32Array.from({ length: 3 * 130 }, () => rnd());

  it('cuts windows at the hop and featurises each', () => {
    const { features, starts } = extractWindows(sampleSet(20, ['x', 'y', 'z'], data), spec);
    expect(Array.from(starts)).toEqual([0, 25, 50, 75]);
    const second = new Float32Array(features.d);
    new FeatureExtractor(spec).extract(data, 25, second);
    expect(Array.from(features.data.subarray(features.d, 2 * features.d))).toEqual(Array.from(second));
  });

  it('reorders channels by name', () => {
    const zyx = new Float32Array(data.length);
    for (let t = 0; t < 130; t++) for (let j = 0; j < 3; j++) zyx[t * 3 + j] = data[t * 3 + (2 - j)]!;
    const a = extractWindows(sampleSet(20, ['x', 'y', 'z'], data), spec).features.data;
    const b = extractWindows(sampleSet(20, ['z', 'y', 'x'], zyx), spec).features.data;
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('rejects another rate, other channels, the wrong kind and too few samples', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err instanceof VigilError ? err.code : String(err);
      }
      return 'no error';
    };
    expect(code(() => extractWindows(sampleSet(50, ['x', 'y', 'z'], data), spec))).toBe('SAMPLES_SPEC_MISMATCH');
    expect(code(() => extractWindows(sampleSet(20, ['x', 'y', 'w'], data), spec))).toBe('SAMPLES_SPEC_MISMATCH');
    expect(code(() => extractWindows(featureRowSet(['x', 'y', 'z'], data), spec))).toBe('SAMPLES_SPEC_MISMATCH');
    expect(code(() => extractWindows(sampleSet(20, ['x', 'y', 'z'], data.subarray(0, 3 * 49)), spec))).toBe('SAMPLES_TOO_FEW');
  });
});
