import type { FeatureMatrix } from './samples.ts';

/*
 * Novelty gate. The default detector is linear, so a window far outside anything it was trained
 * on (random noise, another person's walk scaled up) is extrapolated, often onto the owner's
 * side. Such a window is not evidence for the owner: when enough of its features lie far from
 * the owner's own enrolment distribution (robust z beyond `z`), the scoring thread lowers its
 * score to `rejectScore`, a score the calibration reads as the strongest evidence against.
 */

export interface NoveltyStats {
  /** Per feature: the median of the owner's enrolment windows. */
  center: number[];
  /** Per feature: 1.4826·MAD, floored (a near-constant feature must not flag every window). */
  spread: number[];
  /** Robust z beyond which a feature counts as out of range. */
  z: number;
  /** A window is novel when at least this many features are out of range. */
  minFeatures: number;
  /** The score a novel window gets (at most): below the threshold, at the calibration's −clamp. */
  rejectScore: number;
}

/** Chosen by `npm run eval:novelty` (2-fold subject CV on WISDM walking; docs/biometrics.md). */
export const NOVELTY_DEFAULTS = Object.freeze({ z: 5, minFeatures: 16, rangeShare: 0.25 });

function median(sorted: Float64Array): number {
  const n = sorted.length;
  const mid = n >> 1;
  return n % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Per-feature median and floored robust spread of the owner's enrolment windows. */
export function robustProfile(
  rows: FeatureMatrix,
  rangeShare: number = NOVELTY_DEFAULTS.rangeShare,
): { center: number[]; spread: number[] } {
  const { n, d, data } = rows;
  const center: number[] = [];
  const spread: number[] = [];
  const column = new Float64Array(n);
  const deviation = new Float64Array(n);
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < n; i++) column[i] = data[i * d + j] as number;
    column.sort();
    const m = median(column);
    for (let i = 0; i < n; i++) deviation[i] = Math.abs((column[i] as number) - m);
    deviation.sort();
    const range = (column[n - 1] as number) - (column[0] as number);
    // Floors: a share of the observed range (cadence features are discrete and multi-modal: their
    // MAD is often 0), and a scale-relative epsilon for constant features.
    const s = Math.max(1.4826 * median(deviation), range * rangeShare, 1e-3 * Math.abs(m), 1e-6);
    center.push(Math.fround(m));
    spread.push(Math.fround(s));
  }
  return { center, spread };
}

/** Features of row `from…from+d` of `x` lying beyond z robust spreads of the owner's median. */
export function outOfRange(stats: NoveltyStats, x: ArrayLike<number>, from = 0): number {
  const { center, spread, z } = stats;
  let count = 0;
  for (let j = 0; j < center.length; j++) {
    const v = x[from + j] as number;
    // NaN compares false: count it too (a window that cannot be featurised is not the owner).
    if (!(Math.abs(v - (center[j] as number)) <= z * (spread[j] as number))) count++;
  }
  return count;
}

export function isNovel(stats: NoveltyStats, x: ArrayLike<number>, from = 0): boolean {
  return outOfRange(stats, x, from) >= stats.minFeatures;
}

/** Lowers the scores of novel rows of a row-major feature block (n rows of stats.center.length). */
export function gateScores(
  stats: NoveltyStats,
  features: ArrayLike<number>,
  n: number,
  score: (row: number) => number,
  set: (row: number, value: number) => void,
): number {
  const d = stats.center.length;
  let novel = 0;
  for (let r = 0; r < n; r++) {
    if (!isNovel(stats, features, r * d)) continue;
    novel++;
    const s = score(r);
    if (!(s <= stats.rejectScore)) set(r, stats.rejectScore);
  }
  return novel;
}

/** Parses stats stored as JSON (model metadata); undefined when absent or malformed (gate off). */
export function parseNoveltyStats(json: string | undefined, d: number): NoveltyStats | undefined {
  if (!json) return undefined;
  try {
    const s = JSON.parse(json) as Partial<NoveltyStats>;
    const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
    if (!Array.isArray(s.center) || !Array.isArray(s.spread) || s.center.length !== d || s.spread.length !== d) return undefined;
    if (!s.center.every(finite) || !s.spread.every((v) => finite(v) && v > 0)) return undefined;
    if (!finite(s.z) || !finite(s.minFeatures) || !finite(s.rejectScore)) return undefined;
    return s as NoveltyStats;
  } catch {
    return undefined;
  }
}

/** The ONNX metadata key the stats travel under, with the model bytes to every scoring thread. */
export const NOVELTY_METADATA_KEY = 'vigil.novelty';

/**
 * Stats for an owner's enrolment windows. `rejectScore` is where the calibrated LLR reaches its
 * −clamp (and below the threshold), so a novel window carries the most evidence against there is.
 */
export function noveltyStats(
  rows: FeatureMatrix,
  threshold: number,
  llr: { slope: number; intercept: number; clamp: number },
): NoveltyStats {
  const { z, minFeatures, rangeShare } = NOVELTY_DEFAULTS;
  const atClamp = llr.slope > 0 ? (-llr.clamp - llr.intercept) / llr.slope : threshold;
  const floor = Math.min(threshold, Number.isFinite(atClamp) ? atClamp : threshold);
  const rejectScore = Math.fround(floor - Math.max(1, Math.abs(floor) * 0.1));
  return { ...robustProfile(rows, rangeShare), z, minFeatures, rejectScore };
}
