import { randomInt } from 'node:crypto';
import type { FeatureSpec } from '../../../protocol/biometrics.ts';
import type { EnrollmentRecord, EnrollmentStore } from '../enrollment/enrollment-store.ts';
import type { FeatureMatrix } from '../samples.ts';
import { vetCandidates, type PoolAccounts, type PoolRules } from './cohort-pool.ts';
import { screenMembers } from './cohort-screening.ts';

/**
 * A background population shipped with the product: windows of people who are not users of
 * this deployment, for a signature (kind, modality, rate, channels). It gives a fresh
 * deployment's first users a discriminative model and the screening an honest majority.
 * Not built yet: pass NO_BACKGROUND.
 */
export interface BackgroundSet {
  rowsFor(spec: FeatureSpec): FeatureMatrix[] | undefined;
}

/** No background population (none is shipped yet, or the caller opts out). */
export const NO_BACKGROUND = Symbol('no background population');

export interface CohortDeps {
  enrollments: Pick<EnrollmentStore, 'poolCandidates'>;
  accounts: PoolAccounts;
  rules: PoolRules;
  background: BackgroundSet | typeof NO_BACKGROUND;
}

/** Candidate enrolments read per training, at most: the draw is random among them. */
const SCAN_LIMIT = 2_000;

/** Fisher–Yates with a CSPRNG: which accounts train a model must not be predictable or steerable. */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * The cohort an owner's model trains against: never "the newest enrolments" (whoever enrols last
 * would choose it) but a random draw from the vetted pool (verified, active, old enough accounts,
 * capped per sign-up address and day), each member screened against the population, plus the
 * background set when one is shipped.
 */
export async function trainingCohort(
  deps: CohortDeps,
  owner: EnrollmentRecord,
  ownerRows: FeatureMatrix | undefined,
  members: number,
  featurise: (member: EnrollmentRecord) => Promise<FeatureMatrix | undefined>,
): Promise<FeatureMatrix[]> {
  const background = deps.background === NO_BACKGROUND ? [] : (deps.background.rowsFor(owner.spec) ?? []);
  if (members <= 0) return background;
  const candidates = shuffled(await deps.enrollments.poolCandidates(owner.signature, owner.userId, SCAN_LIMIT));
  const vetted = await vetCandidates(candidates, deps.accounts, deps.rules);
  // Featurise a few more than needed: screening may leave some out.
  const drawn: FeatureMatrix[] = [];
  for (const member of vetted.slice(0, members * 2)) {
    const rows = await featurise(member);
    if (rows) drawn.push(rows);
  }
  const population = [...(ownerRows ? [ownerRows] : []), ...background];
  return [...screenMembers(drawn, population).slice(0, members), ...background];
}
