import type { FeatureMatrix } from '../samples.ts';

export interface ColumnStats {
  mean: Float64Array;
  /** Population standard deviation. */
  std: Float64Array;
  /** Mean absolute deviation from the mean (Killourhy & Maxion's scale for Manhattan). */
  meanAbsDev: Float64Array;
  rows: number;
}

/** Per-column statistics over the rows of all parts. */
export function columnStats(parts: readonly FeatureMatrix[]): ColumnStats {
  const d = (parts[0] as FeatureMatrix).d;
  const mean = new Float64Array(d);
  let rows = 0;
  for (const m of parts) {
    for (let i = 0; i < m.n; i++) for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (m.data[i * d + j] as number);
    rows += m.n;
  }
  for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) / rows;
  const sq = new Float64Array(d);
  const abs = new Float64Array(d);
  for (const m of parts) {
    for (let i = 0; i < m.n; i++) {
      for (let j = 0; j < d; j++) {
        const dev = (m.data[i * d + j] as number) - (mean[j] as number);
        sq[j] = (sq[j] as number) + dev * dev;
        abs[j] = (abs[j] as number) + Math.abs(dev);
      }
    }
  }
  const std = sq.map((v) => Math.sqrt(v / rows));
  const meanAbsDev = abs.map((v) => v / rows);
  return { mean, std, meanAbsDev, rows };
}

/**
 * A scale that is never (nearly) zero. A feature that was constant during enrolment (e.g. a
 * crossing count that stayed 0) would otherwise turn any later change into an infinite
 * distance. The floor is relative to the feature's own magnitude and, when a cohort exists, to
 * how much the feature varies across people.
 */
export function flooredScale(scale: Float64Array, mean: Float64Array, population?: Float64Array): Float64Array {
  return scale.map((s, j) =>
    Math.max(s, 1e-6, 1e-3 * Math.abs(mean[j] as number), population ? 0.05 * (population[j] as number) : 0),
  );
}

/**
 * How much one person's rows typically spread around their own mean, per column: each cohort
 * member's mean absolute deviation, averaged over members (equal weight per person).
 */
export function withinPersonMeanAbsDev(people: readonly FeatureMatrix[]): Float64Array | undefined {
  const members = people.filter((m) => m.n >= 2);
  if (members.length === 0) return undefined;
  const d = (members[0] as FeatureMatrix).d;
  const sum = new Float64Array(d);
  for (const m of members) {
    const own = columnStats([m]).meanAbsDev;
    for (let j = 0; j < d; j++) sum[j] = (sum[j] as number) + (own[j] as number);
  }
  return sum.map((v) => v / members.length);
}
