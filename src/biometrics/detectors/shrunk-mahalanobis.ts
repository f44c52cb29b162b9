import type { FeatureMatrix } from '../samples.ts';
import type { DetectorParams, DetectorTrainingData } from './detector-types.ts';
import { columnStats, flooredScale } from './feature-stats.ts';
import { choleskyInPlace, invertLower } from './linear-algebra.ts';

type Params = Extract<DetectorParams, { name: 'shrunk-mahalanobis' }>;

/**
 * Ledoit–Wolf (2004) shrinkage of the sample covariance S of standardised rows towards μI,
 * μ = tr(S)/D: λ = min(β̄², δ²)/δ² with δ² = ‖S − μI‖² and β̄² = (1/n²)Σ‖zzᵀ − S‖²
 * (Frobenius norms divided by D). Enrolments have fewer windows than features, so S alone is
 * singular; the shrunk estimate is always invertible.
 */
export function ledoitWolf(z: Float64Array, n: number, d: number): { covariance: Float64Array; shrinkage: number } {
  const s = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const za = z[i * d + a] as number;
      if (za === 0) continue;
      for (let b = a; b < d; b++) s[a * d + b] = (s[a * d + b] as number) + za * (z[i * d + b] as number);
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = (s[a * d + b] as number) / n;
      s[a * d + b] = v;
      s[b * d + a] = v;
    }
  }
  let trace = 0;
  for (let a = 0; a < d; a++) trace += s[a * d + a] as number;
  // Rows that all coincide (a few identical typings) give S = 0: all shrinkage, towards I instead of 0.
  if (!(trace > 0))
    return { covariance: Float64Array.from({ length: d * d }, (_, k) => (k % (d + 1) === 0 ? 1 : 0)), shrinkage: 1 };
  const mu = trace / d;
  let delta = 0;
  let sNormSq = 0;
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < d; b++) {
      const v = s[a * d + b] as number;
      sNormSq += v * v;
      const t = v - (a === b ? mu : 0);
      delta += t * t;
    }
  }
  // Σ_i ‖z_i z_iᵀ − S‖² = Σ_i (‖z_i‖⁴ − 2 z_iᵀ S z_i + ‖S‖²)
  let beta = 0;
  for (let i = 0; i < n; i++) {
    let norm = 0;
    let quad = 0;
    for (let a = 0; a < d; a++) {
      const za = z[i * d + a] as number;
      norm += za * za;
      let row = 0;
      for (let b = 0; b < d; b++) row += (s[a * d + b] as number) * (z[i * d + b] as number);
      quad += za * row;
    }
    beta += norm * norm - 2 * quad + sNormSq;
  }
  beta /= n * n * d;
  delta /= d;
  const shrinkage = delta > 0 ? Math.min(beta, delta) / delta : 1;
  const covariance = new Float64Array(d * d);
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < d; b++)
      covariance[a * d + b] = (1 - shrinkage) * (s[a * d + b] as number) + (a === b ? shrinkage * mu : 0);
  }
  return { covariance, shrinkage };
}

export function trainShrunkMahalanobis({ genuine, cohort }: DetectorTrainingData, minShrinkage: number): Params {
  const { n, d } = genuine;
  const own = columnStats([genuine]);
  const population = cohort.length > 0 ? columnStats(cohort).std : undefined;
  const std = flooredScale(own.std, own.mean, population);
  const z = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++)
      z[i * d + j] = ((genuine.data[i * d + j] as number) - (own.mean[j] as number)) / (std[j] as number);
  }
  let { covariance, shrinkage } = ledoitWolf(z, n, d);
  if (shrinkage < minShrinkage) {
    // Re-mix with the floor: (1−m)·Σ + m·μI keeps the same target.
    let trace = 0;
    for (let a = 0; a < d; a++) trace += covariance[a * d + a] as number;
    const mu = trace / d;
    const extra = (minShrinkage - shrinkage) / (1 - shrinkage);
    covariance = covariance.map((v, k) => (1 - extra) * v + (k % (d + 1) === 0 ? extra * mu : 0));
    shrinkage = minShrinkage;
  }
  choleskyInPlace(covariance, d);
  const inv = invertLower(covariance, d);
  // y = L⁻¹ z as a row vector is z·(L⁻¹)ᵀ; fold the 1/std of z into it: T[j][k] = L⁻¹[k][j] / std[j].
  const transform = new Float32Array(d * d);
  for (let j = 0; j < d; j++) {
    for (let k = 0; k < d; k++) transform[j * d + k] = (inv[k * d + j] as number) / (std[j] as number);
  }
  return { name: 'shrunk-mahalanobis', mean: Float32Array.from(own.mean), transform, shrinkage };
}

export function scoreShrunkMahalanobis(p: Params, x: FeatureMatrix, out: Float32Array): void {
  const d = x.d;
  const centred = new Float64Array(d);
  for (let i = 0; i < x.n; i++) {
    for (let j = 0; j < d; j++) centred[j] = (x.data[i * d + j] as number) - (p.mean[j] as number);
    let sum = 0;
    for (let k = 0; k < d; k++) {
      let y = 0;
      for (let j = 0; j < d; j++) y += (centred[j] as number) * (p.transform[j * d + k] as number);
      sum += y * y;
    }
    out[i] = -sum / d;
  }
}
