import type { FeatureMatrix } from '../samples.ts';
import type { DetectorParams, DetectorTrainingData } from './detector-types.ts';
import { columnStats, flooredScale } from './feature-stats.ts';

type Params = Extract<DetectorParams, { name: 'outlier-count' }>;

/** Killourhy & Maxion's outlier count: how many features lie beyond z standard deviations. */
export function trainOutlierCount({ genuine, cohort }: DetectorTrainingData, z: number): Params {
  const own = columnStats([genuine]);
  const population = cohort.length > 0 ? columnStats(cohort).std : undefined;
  const std = flooredScale(own.std, own.mean, population);
  return { name: 'outlier-count', mean: Float32Array.from(own.mean), invStd: Float32Array.from(std, (s) => 1 / s), z };
}

/**
 * Mirrors the graph's float32 arithmetic step by step (Sub, Abs, Mul, Greater), because a
 * count is discontinuous: a float64 z a hair above the threshold where float32 is below would
 * change the score by a whole 1/D.
 */
export function scoreOutlierCount(p: Params, x: FeatureMatrix, out: Float32Array): void {
  const d = x.d;
  const z = Math.fround(p.z);
  const step = Math.fround(-1 / d);
  for (let i = 0; i < x.n; i++) {
    let count = 0;
    for (let j = 0; j < d; j++) {
      const dev = Math.abs(Math.fround((x.data[i * d + j] as number) - (p.mean[j] as number)));
      if (Math.fround(dev * (p.invStd[j] as number)) > z) count++;
    }
    out[i] = count * step;
  }
}
