import type { FeatureMatrix } from '../samples.ts';
import type { DetectorParams, DetectorTrainingData } from './detector-types.ts';
import { columnStats, flooredScale, withinPersonMeanAbsDev } from './feature-stats.ts';

type Params = Extract<DetectorParams, { name: 'scaled-manhattan' }>;

/**
 * Killourhy & Maxion's scaled Manhattan: L1 distance to the mean, each feature scaled by its
 * mean absolute deviation. With `scalePrior` k > 0 and a cohort, the owner's deviation is
 * shrunk towards how much a typical cohort member varies: (n·own + k·within) / (n + k). A
 * handful of enrolment rows estimates a spread badly (five typings can agree by chance on one
 * latency), and people vary by similar amounts on the same feature.
 */
export function trainScaledManhattan(data: DetectorTrainingData, scalePrior = 0, logInputs = false): Params {
  const genuine = logInputs ? compressRows(data.genuine) : data.genuine;
  const cohort = logInputs ? data.cohort.map(compressRows) : data.cohort;
  const own = columnStats([genuine]);
  const population = cohort.length > 0 ? columnStats(cohort).std : undefined;
  const within = scalePrior > 0 ? withinPersonMeanAbsDev(cohort) : undefined;
  const n = genuine.n;
  const spread = within
    ? own.meanAbsDev.map((s, j) => (n * s + scalePrior * (within[j] as number)) / (n + scalePrior))
    : own.meanAbsDev;
  const scale = flooredScale(spread, own.mean, population);
  const d = genuine.d;
  return {
    name: 'scaled-manhattan',
    logInputs,
    mean: Float32Array.from(own.mean),
    weight: Float32Array.from(scale, (s) => 1 / (d * s)),
  };
}

/** sign(x)·ln(1 + |x|) in float32, as the graph's Abs/Add/Log/Sign/Mul compute it. */
export function compressValue(v: number): number {
  return Math.fround(Math.sign(v) * Math.fround(Math.log(Math.fround(1 + Math.abs(v)))));
}

function compressRows(m: FeatureMatrix): FeatureMatrix {
  return { data: m.data.subarray(0, m.n * m.d).map(compressValue), n: m.n, d: m.d };
}

export function scoreScaledManhattan(p: Params, input: FeatureMatrix, out: Float32Array): void {
  const x = p.logInputs ? compressRows(input) : input;
  const d = x.d;
  for (let i = 0; i < x.n; i++) {
    let sum = 0;
    for (let j = 0; j < d; j++) sum += Math.abs((x.data[i * d + j] as number) - (p.mean[j] as number)) * (p.weight[j] as number);
    out[i] = -sum;
  }
}
