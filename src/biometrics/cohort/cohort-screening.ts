import type { FeatureMatrix } from '../samples.ts';

/** A member whose typical window lies this many robust standard deviations from the population on any feature is left out. */
export const SCREENING_Z = 8;
/** People (typical windows) needed before robust statistics mean anything. */
export const MIN_POPULATION = 12;

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per-feature median of one member's windows: what that person's data typically looks like. */
export function typicalWindow(rows: FeatureMatrix): Float64Array {
  const out = new Float64Array(rows.d);
  const column = new Float64Array(rows.n);
  for (let j = 0; j < rows.d; j++) {
    for (let i = 0; i < rows.n; i++) column[i] = rows.data[i * rows.d + j]!;
    out[j] = median(column);
  }
  return out;
}

/**
 * Robust z-scores of each member's typical window against the population (the owner, the other
 * members and the background set, when one is shipped): median and MAD per feature, so a few
 * outliers cannot move the yardstick. Returns the members that pass. Robust statistics need an
 * honest majority; the background population is what guarantees one on a young deployment.
 */
export function screenMembers(
  members: readonly FeatureMatrix[],
  population: readonly FeatureMatrix[],
  z = SCREENING_Z,
): FeatureMatrix[] {
  const everyone = [...population, ...members].filter((m) => m.n > 0);
  // Medians of a handful of people make every honest stranger an outlier: screen with a crowd only.
  if (members.length === 0 || everyone.length < MIN_POPULATION) return [...members];
  const d = everyone[0]!.d;
  const typical = everyone.map(typicalWindow);
  const centre = new Float64Array(d);
  const spread = new Float64Array(d);
  const column = new Float64Array(typical.length);
  for (let j = 0; j < d; j++) {
    for (let k = 0; k < typical.length; k++) column[k] = typical[k]![j]!;
    centre[j] = median(column);
    for (let k = 0; k < typical.length; k++) column[k] = Math.abs(typical[k]![j]! - centre[j]!);
    // 1.4826 × MAD estimates σ for normal data; the floor keeps a constant feature from dividing by 0.
    spread[j] = Math.max(1.4826 * median(column), 1e-6 * (Math.abs(centre[j]!) + 1));
  }
  return members.filter((member) => {
    if (member.n === 0) return false;
    const t = typicalWindow(member);
    for (let j = 0; j < d; j++) if (Math.abs(t[j]! - centre[j]!) / spread[j]! > z) return false;
    return true;
  });
}
