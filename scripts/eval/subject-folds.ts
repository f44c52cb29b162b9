import { SeededRandom } from '../../src/biometrics/detectors/seeded-random.ts';

/** Folds of people: a seeded shuffle of the subjects, dealt round-robin into `k` folds. */
export function subjectFolds<T>(subjects: readonly T[], k: number, seed: number): T[][] {
  if (!Number.isInteger(k) || k < 2 || k > subjects.length)
    throw new RangeError(`--folds must be an integer in 2…${subjects.length}`);
  const random = new SeededRandom(seed);
  const order = subjects.map((s) => ({ s, key: random.next() })).sort((a, b) => a.key - b.key);
  const folds: T[][] = Array.from({ length: k }, () => []);
  order.forEach(({ s }, i) => (folds[i % k] as T[]).push(s));
  return folds;
}

/** Who plays which part in one fold of people. */
export interface SubjectFold<T> {
  /** Everyone outside the held-out fold: the only people any choice is tuned on. */
  tuning: T[];
  /** Training people whose enrolments form the live cohort of held-out people's models. */
  live: T[];
  /** Training people a per-fold background population may be built from (not in the live cohort). */
  background: T[];
  /** Enrol, verify and attack each other; in nothing else. */
  heldOut: T[];
}

/**
 * The folds of a subject-level cross-validation. Held-out people are never in the tuning set,
 * the live cohort or the background: the figure is on people nothing was built from.
 */
export function subjectFoldPlan<T>(
  subjects: readonly T[],
  k: number,
  seed: number,
  cohort: { members: number; live: number; background: boolean },
): SubjectFold<T>[] {
  const folds = subjectFolds(subjects, k, seed);
  return folds.map((heldOut, f) => {
    const tuning = folds.filter((_, j) => j !== f).flat();
    const liveCount = Math.min(cohort.live, cohort.members);
    return {
      tuning,
      live: tuning.slice(0, liveCount),
      background: cohort.background ? tuning.slice(liveCount) : [],
      heldOut,
    };
  });
}

/** "1613-1625" or "1613,1615,1620-1622" (a --subjects argument) → the subject ids. */
export function subjectList(text: string): Set<string> {
  const ids = new Set<string>();
  for (const part of text.split(',')) {
    const [from, to = from] = part.split('-').map(Number) as [number, number?];
    if (!Number.isInteger(from) || !Number.isInteger(to) || to < from) throw new Error(`--subjects ${part}: expected N or N-M`);
    for (let s = from; s <= to; s++) ids.add(String(s));
  }
  return ids;
}
