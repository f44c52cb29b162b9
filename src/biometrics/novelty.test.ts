import { describe, expect, it } from 'vitest';
import { SPEC, enrolmentPart, testPart, trainSubject } from '../../test/continuous/wisdm.ts';
import { windowLlr } from './calibration.ts';
import { extractWindows } from './features/extract-windows.ts';
import { gateScores, isNovel, noveltyStats, parseNoveltyStats, robustProfile, NOVELTY_DEFAULTS } from './novelty.ts';
import { noveltyOf } from './novelty-metadata.ts';
import { sampleSet, type FeatureMatrix, type SampleSet } from './samples.ts';

const rowsOf = (s: SampleSet) => extractWindows(s, SPEC).features;
const scaled = (s: SampleSet, k: number) =>
  sampleSet(
    s.rate,
    s.channels,
    s.data.map((v) => v * k),
  );
function noise(amplitude: number, samples: number): SampleSet {
  let state = 7;
  const next = () => ((state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32) * 2 * amplitude - amplitude;
  return sampleSet(20, ['x', 'y', 'z'], Float32Array.from({ length: samples * 3 }, next));
}
const novelShare = (stats: Parameters<typeof isNovel>[0], m: FeatureMatrix) =>
  Array.from({ length: m.n }, (_, i) => isNovel(stats, m.data, i * m.d)).filter(Boolean).length / m.n;

describe('novelty gate on real WISDM windows', () => {
  it('passes owners’ own held-out walks and flags noise and another person’s walk ×3', async () => {
    for (const owner of ['1600', '1611', '1616']) {
      const stats = { ...robustProfile(rowsOf(await enrolmentPart(owner))), ...NOVELTY_DEFAULTS, rejectScore: -10 };
      expect(novelShare(stats, rowsOf(await testPart(owner)))).toBe(0);
      expect(novelShare(stats, rowsOf(noise(20, 800)))).toBeGreaterThan(0.8);
      expect(novelShare(stats, rowsOf(scaled(await testPart(owner === '1600' ? '1601' : '1600'), 3)))).toBeGreaterThan(0.8);
    }
  });

  it('lowers only novel rows’ scores, and never raises one', async () => {
    const stats = { ...robustProfile(rowsOf(await enrolmentPart('1611'))), ...NOVELTY_DEFAULTS, rejectScore: -10 };
    const own = rowsOf(await testPart('1611'));
    const loud = rowsOf(noise(20, 120)); // 3 windows
    const data = new Float32Array((own.n + loud.n) * own.d);
    data.set(own.data.subarray(0, own.n * own.d));
    data.set(loud.data.subarray(0, loud.n * loud.d), own.n * own.d);
    const scores = new Float32Array(own.n + loud.n).fill(5);
    scores[own.n + 1] = -20; // already below rejectScore: stays
    const novel = gateScores(
      stats,
      data,
      scores.length,
      (r) => scores[r]!,
      (r, v) => (scores[r] = v),
    );
    expect(novel).toBe(loud.n);
    expect(Array.from(scores.subarray(0, own.n)).every((s) => s === 5)).toBe(true);
    expect(Array.from(scores.subarray(own.n))).toEqual([-10, -20, -10]);
  });

  it('travels in the trained model’s ONNX metadata, at a score the calibration reads as −clamp', async () => {
    const model = await trainSubject('1611', ['1600', '1601', '1602']);
    const stats = noveltyOf(model.onnx, SPEC.names.length);
    expect(stats).toBeDefined();
    expect(stats!.rejectScore).toBeLessThan(model.threshold);
    expect(windowLlr(model.calibration, stats!.rejectScore)).toBe(-model.calibration.llr.clamp);
    // Models without the entry (trained before the gate) have none: the gate is off for them.
    expect(noveltyOf(new Uint8Array([8, 1]), SPEC.names.length)).toBeUndefined();
    expect(parseNoveltyStats(JSON.stringify({ ...stats, center: stats!.center.slice(1) }), SPEC.names.length)).toBeUndefined();
    expect(noveltyStats(rowsOf(await enrolmentPart('1611')), 0, { slope: 0, intercept: 0, clamp: 2 }).rejectScore).toBeLessThan(
      0,
    );
  });
});
