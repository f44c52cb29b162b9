import type { FeatureSpec } from '../../src/biometrics/features/feature-spec.ts';
import { pickRows, type FeatureMatrix } from '../../src/biometrics/samples.ts';
import type { BackgroundPopulation } from '../../src/biometrics/background/background-population.ts';

/** Evenly spaced windows across the whole recording, so a member covers all of their walk. */
export function evenlySpaced(m: FeatureMatrix, max: number): FeatureMatrix {
  if (m.n <= max) return m;
  return pickRows(
    m,
    Array.from({ length: max }, (_, i) => Math.floor((i * m.n) / max)),
  );
}

/**
 * A background population from people's windows: at most `windowsPerMember` evenly spaced
 * windows each. The evaluation harness calls this per fold with training people only; the
 * shipped asset comes from scripts/eval/build-background.ts with the same function.
 */
export function buildBackground(
  people: readonly { subject: string; windows: FeatureMatrix }[],
  spec: FeatureSpec,
  windowsPerMember: number,
  id: string,
  source: Record<string, unknown> = {},
): BackgroundPopulation {
  return {
    format: 'vigil-background-population/1',
    id,
    source,
    spec,
    members: people.map((p) => evenlySpaced(p.windows, windowsPerMember)),
  };
}
