import type { DetectorTrainingData } from './detector-types.ts';
import { columnStats, flooredScale } from './feature-stats.ts';

/** Standardised genuine-vs-cohort design matrix with balanced sample weights. */
export interface CohortDesign {
  /** n×d standardised rows, genuine first. */
  x: Float64Array;
  /** 1 = owner, 0 = someone else. */
  y: Uint8Array;
  /** Weights summing to 1: half on the owner, half shared equally by the cohort members. */
  w: Float64Array;
  n: number;
  d: number;
  mean: Float64Array;
  std: Float64Array;
}

export function cohortDesign({ genuine, cohort }: DetectorTrainingData): CohortDesign {
  const members = cohort.filter((m) => m.n > 0);
  if (members.length === 0) throw new RangeError('a cohort detector needs at least one cohort member with windows');
  const d = genuine.d;
  const stats = columnStats([genuine, ...members]);
  const std = flooredScale(stats.std, stats.mean);
  const n = genuine.n + members.reduce((a, m) => a + m.n, 0);
  const x = new Float64Array(n * d);
  const y = new Uint8Array(n);
  const w = new Float64Array(n);
  let row = 0;
  for (const [part, weight, label] of [
    [genuine, 0.5 / genuine.n, 1] as const,
    ...members.map((m) => [m, 0.5 / (members.length * m.n), 0] as const),
  ]) {
    for (let i = 0; i < part.n; i++, row++) {
      for (let j = 0; j < d; j++) {
        x[row * d + j] = ((part.data[i * d + j] as number) - (stats.mean[j] as number)) / (std[j] as number);
      }
      y[row] = label;
      w[row] = weight;
    }
  }
  return { x, y, w, n, d, mean: stats.mean, std };
}

export function sigmoid(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}

/** −log σ(v) for label 1, −log(1−σ(v)) for label 0, without overflow. */
export function logLoss(logit: number, label: number): number {
  const v = label === 1 ? -logit : logit;
  return v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v));
}
