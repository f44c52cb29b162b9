import { describe, expect, it } from 'vitest';
import { subjectFoldPlan, subjectFolds } from '../../scripts/eval/subject-folds.ts';

// The accuracy harness's promise: a figure is measured on people nothing was tuned or built on.
const people = Array.from({ length: 26 }, (_, i) => String(1600 + i));

describe('subject-level cross-validation folds', () => {
  it('deals every person into exactly one fold, evenly, the same way for the same seed', () => {
    const folds = subjectFolds(people, 4, 1);
    expect(folds.flat().sort()).toEqual(people);
    expect(folds.map((f) => f.length).sort()).toEqual([6, 6, 7, 7]);
    expect(subjectFolds(people, 4, 1)).toEqual(folds);
    expect(subjectFolds(people, 4, 2)).not.toEqual(folds);
  });

  it.each([
    { members: 20, live: 20, background: false },
    { members: 20, live: 0, background: true },
    { members: 20, live: 3, background: true },
  ])('never puts a held-out person in the tuning set, the live cohort or the background (%o)', (cohort) => {
    const plan = subjectFoldPlan(people, 4, 1, cohort);
    expect(plan.flatMap((f) => f.heldOut).sort()).toEqual(people);
    for (const fold of plan) {
      for (const p of fold.heldOut) {
        expect(fold.tuning).not.toContain(p);
        expect(fold.live).not.toContain(p);
        expect(fold.background).not.toContain(p);
      }
      expect(fold.live.length).toBe(Math.min(cohort.live, cohort.members, fold.tuning.length));
      for (const p of fold.background) expect(fold.live).not.toContain(p);
      if (!cohort.background) expect(fold.background).toEqual([]);
    }
  });

  it('refuses impossible fold counts', () => {
    expect(() => subjectFolds(people, 1, 1)).toThrow(/--folds/);
    expect(() => subjectFolds(people, 27, 1)).toThrow(/--folds/);
  });
});
