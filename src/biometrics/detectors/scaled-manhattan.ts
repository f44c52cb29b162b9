import type { FeatureMatrix } from '../samples.ts';
import type { DetectorParams, DetectorTrainingData } from './detector-types.ts';
import { columnStats, flooredScale } from './feature-stats.ts';

type Params = Extract<DetectorParams, { name: 'scaled-manhattan' }>;

/** Killourhy & Maxion's scaled Manhattan: L1 distance to the mean, each feature scaled by its mean absolute deviation. */
export function trainScaledManhattan({ genuine, cohort }: DetectorTrainingData): Params {
  const own = columnStats([genuine]);
  const population = cohort.length > 0 ? columnStats(cohort).std : undefined;
  const scale = flooredScale(own.meanAbsDev, own.mean, population);
  const d = genuine.d;
  return {
    name: 'scaled-manhattan',
    mean: Float32Array.from(own.mean),
    weight: Float32Array.from(scale, (s) => 1 / (d * s)),
  };
}

export function scoreScaledManhattan(p: Params, x: FeatureMatrix, out: Float32Array): void {
  const d = x.d;
  for (let i = 0; i < x.n; i++) {
    let sum = 0;
    for (let j = 0; j < d; j++) sum += Math.abs((x.data[i * d + j] as number) - (p.mean[j] as number)) * (p.weight[j] as number);
    out[i] = -sum;
  }
}
