import type { FeatureMatrix } from '../samples.ts';
import type { DetectorParams, DetectorTrainingData } from './detector-types.ts';
import { cohortDesign, logLoss, sigmoid } from './cohort-design.ts';
import { solveSpd } from './linear-algebra.ts';

type Params = Extract<DetectorParams, { name: 'logistic-cohort' }>;

const MAX_ITERATIONS = 50;

/**
 * L2-regularised logistic regression, owner vs cohort, fitted by Newton's method (the problem
 * is small and convex, so a handful of exact steps beat any first-order optimiser).
 */
export function trainLogisticCohort(data: DetectorTrainingData, l2: number): Params {
  const { x, y, w, n, d, mean, std } = cohortDesign(data);
  const k = d + 1; // weights then bias
  const theta = new Float64Array(k);
  const logits = new Float64Array(n);
  const objective = (t: Float64Array): number => {
    let loss = 0;
    for (let i = 0; i < n; i++) {
      let z = t[d] as number;
      for (let j = 0; j < d; j++) z += (x[i * d + j] as number) * (t[j] as number);
      logits[i] = z;
      loss += (w[i] as number) * logLoss(z, y[i] as number);
    }
    let penalty = 0;
    for (let j = 0; j < d; j++) penalty += (t[j] as number) ** 2;
    return loss + 0.5 * l2 * penalty;
  };
  let loss = objective(theta);
  const grad = new Float64Array(k);
  const hess = new Float64Array(k * k);
  const row = new Float64Array(k);
  for (let iter = 0; iter < MAX_ITERATIONS; iter++) {
    grad.fill(0);
    hess.fill(0);
    for (let i = 0; i < n; i++) {
      const p = sigmoid(logits[i] as number);
      const g = (w[i] as number) * (p - (y[i] as number));
      const h = (w[i] as number) * p * (1 - p);
      for (let j = 0; j < d; j++) row[j] = x[i * d + j] as number;
      row[d] = 1;
      for (let a = 0; a < k; a++) {
        const ra = row[a] as number;
        grad[a] = (grad[a] as number) + g * ra;
        const ha = h * ra;
        for (let b = a; b < k; b++) hess[a * k + b] = (hess[a * k + b] as number) + ha * (row[b] as number);
      }
    }
    for (let a = 0; a < k; a++) {
      if (a < d) {
        grad[a] = (grad[a] as number) + l2 * (theta[a] as number);
        hess[a * k + a] = (hess[a * k + a] as number) + l2;
      } else {
        hess[a * k + a] = (hess[a * k + a] as number) + 1e-9;
      }
      for (let b = 0; b < a; b++) hess[a * k + b] = hess[b * k + a] as number;
    }
    const step = solveSpd(hess, grad, k);
    // Backtrack if the full Newton step does not decrease the objective.
    let scale = 1;
    let next = theta.map((t, j) => t - (step[j] as number));
    let nextLoss = objective(next);
    while (nextLoss > loss && scale > 1e-4) {
      scale /= 2;
      next = theta.map((t, j) => t - scale * (step[j] as number));
      nextLoss = objective(next);
    }
    let change = 0;
    for (let j = 0; j < k; j++) change = Math.max(change, Math.abs((next[j] as number) - (theta[j] as number)));
    theta.set(next);
    const improved = loss - nextLoss;
    loss = nextLoss;
    if (change < 1e-7 || improved < 1e-12) break;
  }
  return {
    name: 'logistic-cohort',
    mean: Float32Array.from(mean),
    invStd: Float32Array.from(std, (s) => 1 / s),
    weights: Float32Array.from(theta.subarray(0, d)),
    bias: Math.fround(theta[d] as number),
  };
}

export function scoreLogisticCohort(p: Params, x: FeatureMatrix, out: Float32Array): void {
  const d = x.d;
  for (let i = 0; i < x.n; i++) {
    let z = p.bias;
    for (let j = 0; j < d; j++) {
      z += ((x.data[i * d + j] as number) - (p.mean[j] as number)) * (p.invStd[j] as number) * (p.weights[j] as number);
    }
    out[i] = z;
  }
}
