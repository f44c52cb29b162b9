import { describe, expect, it } from 'vitest';
import type { Calibration } from '../../protocol/biometrics.ts';
import { DEFAULT_TRUST_CONFIG, TrustAccumulator, resolveTrustConfig, trustBounds, type TrustConfig } from './trust.ts';

/** Calibration whose LLR is the score itself (up to ±clamp), so tests can feed evidence directly. */
const identity = (clamp = 10): Calibration => ({
  genuine: { count: 0, mean: 0, std: 0, quantiles: [] },
  impostor: null,
  histogram: { edges: [], genuine: [], impostor: [] },
  llr: { slope: 1, intercept: 0, clamp },
});

describe('trust config', () => {
  it.each([
    [{ maxStep: 0 }, 'trust.maxStep must be > 0, got 0'],
    [{ ceiling: Number.NaN }, 'trust.ceiling must be a finite number, got NaN'],
    [{ genuineAt: -4 }, 'trust bounds must satisfy floor <= impostorAt < genuineAt <= ceiling'],
    [{ initial: 9 }, 'trust.initial must lie within [floor, ceiling]'],
    [{ maxStep: 6 }, 'trust.maxStep must be < genuineAt − impostorAt, so that one window can never turn genuine into impostor'],
  ] as [Partial<TrustConfig>, string][])('rejects %j', (config, message) => {
    expect(() => resolveTrustConfig(config)).toThrow(new TypeError(message));
  });

  it('states the default bounds', () => {
    const b = trustBounds(resolveTrustConfig());
    expect(b.windowsToFlipGenuine).toBe(3); // (3 − (−3)) / 2
    expect(b.badWindowsAbsorbedAtCeiling).toBe(1); // 6 → 4 is still ≥ 3; 6 → 2 is not
    expect(b.fastestDetection).toBe(5); // (6 − (−3)) / 2 = 4.5
    expect(b.detectionWithin(1)).toBe(9);
  });
});

describe('TrustAccumulator', () => {
  it('starts uncertain, becomes genuine on good evidence and saturates at the ceiling', () => {
    const t = new TrustAccumulator(identity());
    expect(t.decision).toBe('uncertain');
    expect(t.update(1.5).decision).toBe('uncertain');
    expect(t.update(1.5).decision).toBe('genuine');
    for (let i = 0; i < 10; i++) t.update(5);
    expect(t.trust).toBe(DEFAULT_TRUST_CONFIG.ceiling);
    expect(t.update(5).llr).toBe(2); // clamped to maxStep
  });

  it('never turns genuine into impostor with one window, from any genuine trust', () => {
    const { genuineAt, ceiling } = DEFAULT_TRUST_CONFIG;
    for (let trust = genuineAt; trust <= ceiling; trust += 0.25) {
      const t = new TrustAccumulator(identity());
      t.reset(trust);
      expect(t.decision).toBe('genuine');
      expect(t.update(-1e9).decision).not.toBe('impostor');
    }
  });

  it('absorbs isolated bad windows in a genuine stream', () => {
    const t = new TrustAccumulator(identity());
    const decisions: string[] = [];
    for (let w = 0; w < 200; w++) decisions.push(t.update(w % 3 === 2 ? -100 : 1.2).decision); // every third window worst
    expect(decisions).not.toContain('impostor');
  });

  it.each([0.5, 1, 1.5, 2])(
    'catches a sustained impostor (LLR −%f per window) from the ceiling within the stated bound',
    (delta) => {
      const t = new TrustAccumulator(identity());
      t.reset(DEFAULT_TRUST_CONFIG.ceiling);
      let windows = 0;
      while (t.decision !== 'impostor') {
        t.update(-delta);
        windows++;
        if (windows > 100) throw new Error('never detected');
      }
      expect(windows).toBe(trustBounds(t.config).detectionWithin(delta)); // the bound is exact, not loose
    },
  );

  it('uses the tighter of maxStep and the calibration clamp, and counts an unscorable window against', () => {
    const t = new TrustAccumulator(identity(0.5));
    expect(t.step).toBe(0.5);
    expect(t.update(3).llr).toBe(0.5);
    expect(t.update(Number.NaN).llr).toBe(-0.5);
    expect(trustBounds(t.config, t.step).fastestDetection).toBe(18);
  });
});
