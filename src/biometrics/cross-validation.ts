/** One fold: which genuine windows train, which are held out, which cohort members are held out. */
export interface Fold {
  genuineTrain: number[];
  genuineTest: number[];
  /** Indices of cohort members whose windows are scored as impostors in this fold. */
  cohortTest: number[];
  cohortTrain: number[];
}

/**
 * K folds over genuine windows in time order: each fold holds out one contiguous block and also
 * drops `gap` windows on each side of it from training, because overlapping windows share
 * samples and would leak the held-out block into training. Cohort members are held out whole
 * (round-robin), so a held-out impostor is never someone the fold's model was trained against.
 */
export function planFolds(genuineCount: number, cohortMembers: number, folds: number, gap: number): Fold[] {
  const plan: Fold[] = [];
  for (let f = 0; f < folds; f++) {
    const from = Math.floor((f * genuineCount) / folds);
    const to = Math.floor(((f + 1) * genuineCount) / folds);
    const genuineTrain: number[] = [];
    const genuineTest: number[] = [];
    for (let i = 0; i < genuineCount; i++) {
      if (i >= from && i < to) genuineTest.push(i);
      else if (i < from - gap || i >= to + gap) genuineTrain.push(i);
    }
    const cohortTest: number[] = [];
    const cohortTrain: number[] = [];
    for (let m = 0; m < cohortMembers; m++) (m % folds === f ? cohortTest : cohortTrain).push(m);
    plan.push({ genuineTrain, genuineTest, cohortTest, cohortTrain });
  }
  return plan;
}

/** Windows that overlap their neighbour: ceil(window / hop) − 1 (0 for feature rows). */
export function overlapGap(windowSamples: number, hopSamples: number): number {
  return Math.max(0, Math.ceil(windowSamples / hopSamples) - 1);
}
