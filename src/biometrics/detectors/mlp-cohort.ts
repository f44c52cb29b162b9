import type { FeatureMatrix } from '../samples.ts';
import type { DetectorParams, DetectorTrainingData } from './detector-types.ts';
import { cohortDesign, sigmoid } from './cohort-design.ts';
import { SeededRandom } from './seeded-random.ts';

type Params = Extract<DetectorParams, { name: 'mlp-cohort' }>;

export interface MlpOptions {
  hidden: number;
  epochs: number;
  l2: number;
  seed: number;
}

const LEARNING_RATE = 0.01;
/** Rows per Adam step; each epoch visits every row once in a seeded random order. */
const BATCH = 64;
const BETA1 = 0.9;
const BETA2 = 0.999;

/**
 * One tanh hidden layer, owner vs cohort, trained with minibatch Adam on the balanced
 * log-loss. Output is the logit (no sigmoid) so scores do not saturate at 1.0 in float32.
 */
export function trainMlpCohort(data: DetectorTrainingData, options: MlpOptions): Params {
  const { x, y, w, n, d, mean, std } = cohortDesign(data);
  const h = options.hidden;
  const rnd = new SeededRandom(options.seed);
  // Parameters in one buffer so Adam runs over a single array: W1 (d×h), b1 (h), w2 (h), b2.
  const size = d * h + h + h + 1;
  const theta = new Float64Array(size);
  const oB1 = d * h;
  const oW2 = oB1 + h;
  const oB2 = oW2 + h;
  const s1 = Math.sqrt(2 / (d + h));
  const s2 = Math.sqrt(2 / (h + 1));
  for (let i = 0; i < d * h; i++) theta[i] = rnd.normal() * s1;
  for (let i = 0; i < h; i++) theta[oW2 + i] = rnd.normal() * s2;

  const grad = new Float64Array(size);
  const m1 = new Float64Array(size);
  const m2 = new Float64Array(size);
  const act = new Float64Array(h);
  const back = new Float64Array(h);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  let step = 0;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const k = Math.floor(rnd.next() * (i + 1));
      const t = order[i] as number;
      order[i] = order[k] as number;
      order[k] = t;
    }
    for (let from = 0; from < n; from += BATCH) {
      const to = Math.min(n, from + BATCH);
      // Sample weights sum to 1 over all rows; rescale so each batch estimates the full gradient.
      const weightScale = n / (to - from);
      grad.fill(0);
      for (let r = from; r < to; r++) {
        const i = order[r] as number;
        // Loops run j outer, u inner so W1 (d×h, row-major) is read and written contiguously.
        for (let u = 0; u < h; u++) act[u] = theta[oB1 + u] as number;
        const row = i * d;
        for (let j = 0; j < d; j++) {
          const xj = x[row + j] as number;
          if (xj === 0) continue;
          const wj = j * h;
          for (let u = 0; u < h; u++) act[u] = (act[u] as number) + xj * (theta[wj + u] as number);
        }
        let out = theta[oB2] as number;
        for (let u = 0; u < h; u++) {
          const t = Math.tanh(act[u] as number);
          act[u] = t;
          out += t * (theta[oW2 + u] as number);
        }
        const delta = weightScale * (w[i] as number) * (sigmoid(out) - (y[i] as number));
        grad[oB2] = (grad[oB2] as number) + delta;
        for (let u = 0; u < h; u++) {
          const t = act[u] as number;
          grad[oW2 + u] = (grad[oW2 + u] as number) + delta * t;
          const b = delta * (theta[oW2 + u] as number) * (1 - t * t);
          back[u] = b;
          grad[oB1 + u] = (grad[oB1 + u] as number) + b;
        }
        for (let j = 0; j < d; j++) {
          const xj = x[row + j] as number;
          if (xj === 0) continue;
          const wj = j * h;
          for (let u = 0; u < h; u++) grad[wj + u] = (grad[wj + u] as number) + (back[u] as number) * xj;
        }
      }
      for (let i = 0; i < d * h; i++) grad[i] = (grad[i] as number) + options.l2 * (theta[i] as number);
      for (let u = 0; u < h; u++) grad[oW2 + u] = (grad[oW2 + u] as number) + options.l2 * (theta[oW2 + u] as number);
      step++;
      const c1 = 1 - BETA1 ** step;
      const c2 = 1 - BETA2 ** step;
      for (let i = 0; i < size; i++) {
        const g = grad[i] as number;
        m1[i] = BETA1 * (m1[i] as number) + (1 - BETA1) * g;
        m2[i] = BETA2 * (m2[i] as number) + (1 - BETA2) * g * g;
        theta[i] = (theta[i] as number) - (LEARNING_RATE * ((m1[i] as number) / c1)) / (Math.sqrt((m2[i] as number) / c2) + 1e-8);
      }
    }
  }
  return {
    name: 'mlp-cohort',
    mean: Float32Array.from(mean),
    invStd: Float32Array.from(std, (s) => 1 / s),
    hidden: h,
    w1: Float32Array.from(theta.subarray(0, d * h)),
    b1: Float32Array.from(theta.subarray(oB1, oB1 + h)),
    w2: Float32Array.from(theta.subarray(oW2, oW2 + h)),
    b2: Math.fround(theta[oB2] as number),
  };
}

export function scoreMlpCohort(p: Params, x: FeatureMatrix, out: Float32Array): void {
  const { d } = x;
  const h = p.hidden;
  const z = new Float64Array(d);
  for (let i = 0; i < x.n; i++) {
    for (let j = 0; j < d; j++) z[j] = ((x.data[i * d + j] as number) - (p.mean[j] as number)) * (p.invStd[j] as number);
    let o = p.b2;
    for (let u = 0; u < h; u++) {
      let a = p.b1[u] as number;
      for (let j = 0; j < d; j++) a += (z[j] as number) * (p.w1[j * h + u] as number);
      o += Math.tanh(a) * (p.w2[u] as number);
    }
    out[i] = o;
  }
}
