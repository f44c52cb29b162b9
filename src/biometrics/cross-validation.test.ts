import { describe, expect, it } from 'vitest';
import { overlapGap, planFolds } from './cross-validation.ts';

describe('cross-validation folds', () => {
  it('holds out every genuine window once and keeps overlapping neighbours out of training', () => {
    const plan = planFolds(20, 7, 4, 1);
    const heldOut = plan.flatMap((f) => f.genuineTest).sort((a, b) => a - b);
    expect(heldOut).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (const fold of plan) {
      const from = Math.min(...fold.genuineTest);
      const to = Math.max(...fold.genuineTest);
      expect(fold.genuineTest).toEqual(Array.from({ length: to - from + 1 }, (_, i) => from + i)); // contiguous in time
      for (const i of fold.genuineTrain) expect(i < from - 1 || i > to + 1).toBe(true);
      expect(fold.genuineTrain.length).toBe(20 - fold.genuineTest.length - (from > 0 ? 1 : 0) - (to < 19 ? 1 : 0));
    }
  });

  it('holds out each cohort member in exactly one fold, never also training on it', () => {
    const plan = planFolds(12, 7, 3, 0);
    expect(plan.flatMap((f) => f.cohortTest).sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const fold of plan) for (const m of fold.cohortTest) expect(fold.cohortTrain).not.toContain(m);
  });

  it('derives the gap from the window overlap', () => {
    expect(overlapGap(50, 25)).toBe(1);
    expect(overlapGap(50, 10)).toBe(4);
    expect(overlapGap(50, 50)).toBe(0);
    expect(overlapGap(1, 1)).toBe(0);
  });
});
