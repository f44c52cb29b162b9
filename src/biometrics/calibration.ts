import type { Calibration } from '../../protocol/biometrics.ts';

export type { Calibration };

/** Error rates at one threshold. Accept when score >= threshold (protocol/biometrics.ts). */
export interface OperatingPoint {
  threshold: number;
  /** Share of impostor windows accepted. */
  far: number;
  /** Share of genuine windows rejected. */
  frr: number;
}

type Scores = ArrayLike<number>;

function sorted(values: Scores): Float64Array {
  return Float64Array.from(values).sort();
}

/** Count of values < t in ascending `s` (binary search). */
function countBelow(s: Float64Array, t: number): number {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((s[mid] as number) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function errorRates(genuine: Scores, impostor: Scores, threshold: number): OperatingPoint {
  let rejected = 0;
  for (let i = 0; i < genuine.length; i++) if ((genuine[i] as number) < threshold) rejected++;
  let accepted = 0;
  for (let i = 0; i < impostor.length; i++) if ((impostor[i] as number) >= threshold) accepted++;
  return {
    threshold,
    frr: genuine.length ? rejected / genuine.length : 0,
    far: impostor.length ? accepted / impostor.length : 0,
  };
}

/** Every distinct threshold worth trying, ascending: each observed score. */
function candidates(g: Float64Array, i: Float64Array): Float64Array {
  const all = new Float64Array(g.length + i.length);
  all.set(g);
  all.set(i, g.length);
  all.sort();
  let k = 0;
  for (let j = 0; j < all.length; j++) if (j === 0 || all[j] !== all[k - 1]) all[k++] = all[j] as number;
  return all.subarray(0, k);
}

/**
 * The equal-error point: the observed-score threshold where FAR and FRR are closest (ties: the
 * lower mean); the EER is their mean there. With continuous scores the gap is at most one sample's worth of either rate.
 */
export function equalErrorPoint(genuine: Scores, impostor: Scores): OperatingPoint & { eer: number } {
  const g = sorted(genuine);
  const m = sorted(impostor);
  if (g.length === 0 || m.length === 0) throw new RangeError('the EER needs genuine and impostor scores');
  let best = { threshold: 0, far: 1, frr: 0, eer: 1 };
  let bestGap = Infinity;
  for (const t of candidates(g, m)) {
    const frr = countBelow(g, t) / g.length;
    const far = (m.length - countBelow(m, t)) / m.length;
    const gap = Math.abs(far - frr);
    // Equal gaps (discrete scores) are broken towards the lower mean error.
    if (gap < bestGap - 1e-12 || (gap <= bestGap + 1e-12 && (far + frr) / 2 < best.eer)) {
      bestGap = gap;
      best = { threshold: t, far, frr, eer: (far + frr) / 2 };
    }
    if (frr > far) break; // FRR only grows and FAR only shrinks from here
  }
  return best;
}

/** The lowest threshold whose FAR does not exceed `targetFar` (so FRR is as low as allowed). */
export function thresholdAtFar(genuine: Scores, impostor: Scores, targetFar: number): OperatingPoint {
  const g = sorted(genuine);
  const m = sorted(impostor);
  for (const t of candidates(g, m)) {
    const far = (m.length - countBelow(m, t)) / m.length;
    if (far <= targetFar) return { threshold: t, far, frr: countBelow(g, t) / g.length };
  }
  const above = (m[m.length - 1] ?? 0) + 1e-6;
  return { threshold: above, far: 0, frr: countBelow(g, above) / g.length };
}

/** DET/ROC points (FAR, FRR) over all thresholds, thinned to at most `maxPoints`. */
export function detPoints(genuine: Scores, impostor: Scores, maxPoints = 400): OperatingPoint[] {
  const g = sorted(genuine);
  const m = sorted(impostor);
  const ts = candidates(g, m);
  const stride = Math.max(1, Math.floor(ts.length / maxPoints));
  const points: OperatingPoint[] = [];
  for (let j = 0; j < ts.length; j += stride) {
    const t = ts[j] as number;
    points.push({ threshold: t, frr: countBelow(g, t) / g.length, far: (m.length - countBelow(m, t)) / m.length });
  }
  return points;
}

export function scoreStats(values: Scores): Calibration['genuine'] {
  const s = sorted(values);
  const n = s.length;
  let mean = 0;
  for (const v of s) mean += v;
  mean = n ? mean / n : 0;
  let variance = 0;
  for (const v of s) variance += (v - mean) ** 2;
  const q = (p: number) => {
    if (n === 0) return 0;
    const pos = p * (n - 1);
    const lo = Math.floor(pos);
    return (s[lo] as number) + ((s[Math.min(lo + 1, n - 1)] as number) - (s[lo] as number)) * (pos - lo);
  };
  return { count: n, mean, std: n ? Math.sqrt(variance / n) : 0, quantiles: [0.05, 0.25, 0.5, 0.75, 0.95].map(q) };
}

function histogram(genuine: Scores, impostor: Scores, bins: number): Calibration['histogram'] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const set of [genuine, impostor]) {
    for (let i = 0; i < set.length; i++) {
      lo = Math.min(lo, set[i] as number);
      hi = Math.max(hi, set[i] as number);
    }
  }
  if (!(hi > lo)) hi = lo + 1;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + ((hi - lo) * i) / bins);
  const count = (set: Scores) => {
    const c = new Array<number>(bins).fill(0);
    for (let i = 0; i < set.length; i++) {
      const b = Math.min(bins - 1, Math.floor((((set[i] as number) - lo) / (hi - lo)) * bins));
      c[b] = (c[b] as number) + 1;
    }
    return c;
  };
  return { edges, genuine: count(genuine), impostor: count(impostor) };
}

/**
 * Logistic (Platt) fit of label ~ a·score + b with both classes weighted equally, so a·s + b is
 * the log-likelihood ratio genuine:impostor without a prior. A small penalty on the standardised
 * slope keeps it finite when held-out scores separate perfectly.
 */
function fitLlr(genuine: Scores, impostor: Scores): { slope: number; intercept: number } {
  const all = [...Array.from(genuine), ...Array.from(impostor)];
  const mean = all.reduce((a, v) => a + v, 0) / all.length;
  const sd = Math.sqrt(all.reduce((a, v) => a + (v - mean) ** 2, 0) / all.length) || 1;
  const wg = 0.5 / genuine.length;
  const wi = 0.5 / impostor.length;
  const penalty = 1e-3;
  let a = 1;
  let b = 0;
  for (let iter = 0; iter < 100; iter++) {
    let ga = penalty * a;
    let gb = 0;
    let haa = penalty;
    let hab = 0;
    let hbb = 1e-9;
    const visit = (score: number, label: number, weight: number) => {
      const x = (score - mean) / sd;
      const z = a * x + b;
      const p = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
      const r = weight * (p - label);
      const h = weight * p * (1 - p);
      ga += r * x;
      gb += r;
      haa += h * x * x;
      hab += h * x;
      hbb += h;
    };
    for (let i = 0; i < genuine.length; i++) visit(genuine[i] as number, 1, wg);
    for (let i = 0; i < impostor.length; i++) visit(impostor[i] as number, 0, wi);
    const det = haa * hbb - hab * hab;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    a -= da;
    b -= db;
    if (Math.abs(da) + Math.abs(db) < 1e-10) break;
  }
  return { slope: a / sd, intercept: b - (a * mean) / sd };
}

/**
 * Calibration from held-out scores. Without impostor scores there is nothing to fit: the LLR
 * is then 0 at the threshold and grows by one nat per genuine standard deviation, clamped to ±2.
 */
export function calibrate(genuine: Scores, impostor: Scores, threshold: number): Calibration {
  const g = scoreStats(genuine);
  if (impostor.length === 0) {
    const sd = g.std || 1;
    return {
      genuine: g,
      impostor: null,
      histogram: histogram(genuine, impostor, 20),
      llr: { slope: 1 / sd, intercept: -threshold / sd, clamp: 2 },
    };
  }
  const fit = fitLlr(genuine, impostor);
  // n held-out scores cannot vouch for a likelihood ratio much beyond n:1.
  const clamp = Math.min(4, Math.max(1, Math.log(Math.min(genuine.length, impostor.length) + 1)));
  return { genuine: g, impostor: scoreStats(impostor), histogram: histogram(genuine, impostor, 20), llr: { ...fit, clamp } };
}

/** Natural-log likelihood ratio genuine:impostor of one window score. */
export function windowLlr(calibration: Calibration, score: number): number {
  const { slope, intercept, clamp } = calibration.llr;
  const v = slope * score + intercept;
  return v > clamp ? clamp : v < -clamp ? -clamp : v;
}
