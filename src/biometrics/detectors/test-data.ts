import type { FeatureMatrix } from '../samples.ts';
import { SeededRandom } from './seeded-random.ts';

/** Gaussian rows around `centre` with per-feature spread `spread` (test and benchmark fixtures). */
export function gaussianRows(n: number, centre: ArrayLike<number>, spread: number, seed: number): FeatureMatrix {
  const d = centre.length;
  const rnd = new SeededRandom(seed);
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) data[i * d + j] = (centre[j] as number) + spread * rnd.normal();
  return { data, n, d };
}

/** A person: a random centre per feature, so people differ in every dimension a little. */
export function syntheticPeople(people: number, d: number, windows: number, seed: number): FeatureMatrix[] {
  const rnd = new SeededRandom(seed);
  return Array.from({ length: people }, (_, p) => {
    const centre = Array.from({ length: d }, () => rnd.normal() * 1.2 + 5);
    return gaussianRows(windows, centre, 1, seed * 1000 + p + 1);
  });
}

/** Probability that a random genuine score beats a random impostor score (ties count half). */
export function auc(genuine: ArrayLike<number>, impostor: ArrayLike<number>): number {
  let wins = 0;
  for (let i = 0; i < genuine.length; i++) {
    for (let j = 0; j < impostor.length; j++) {
      const g = genuine[i] as number;
      const m = impostor[j] as number;
      wins += g > m ? 1 : g === m ? 0.5 : 0;
    }
  }
  return wins / (genuine.length * impostor.length);
}
