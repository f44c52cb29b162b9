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
