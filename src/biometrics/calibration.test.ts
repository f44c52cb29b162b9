import { describe, expect, it } from 'vitest';
import { calibrate, equalErrorPoint, errorRates, thresholdAtFar, windowLlr } from './calibration.ts';
import { SeededRandom } from './detectors/seeded-random.ts';

/** Brute force over every observed score: the independent reference for the EER search. */
function bruteForceEer(genuine: number[], impostor: number[]): number {
  let best = { gap: Infinity, eer: 1 };
  for (const t of [...genuine, ...impostor]) {
    const frr = genuine.filter((s) => s < t).length / genuine.length;
    const far = impostor.filter((s) => s >= t).length / impostor.length;
    const gap = Math.abs(far - frr);
    const eer = (far + frr) / 2;
    if (gap < best.gap - 1e-12 || (gap <= best.gap + 1e-12 && eer < best.eer)) best = { gap, eer };
  }
  return best.eer;
}

function normals(n: number, mean: number, sd: number, seed: number): number[] {
  const rnd = new SeededRandom(seed);
  return Array.from({ length: n }, () => mean + sd * rnd.normal());
}

describe('error rates', () => {
  it('accepts at score >= threshold', () => {
    expect(errorRates([1, 2, 3, 4], [0, 1, 2], 2)).toEqual({ threshold: 2, frr: 0.25, far: 1 / 3 });
  });

  it('finds the equal-error point of overlapping score sets', () => {
    const genuine = [2, 3, 4, 5, 6, 7, 8, 9];
    const impostor = [0, 1, 2.5, 3.5, 4.5, 1.5, 0.5, 3];
    const point = equalErrorPoint(genuine, impostor);
    expect(point.eer).toBeCloseTo(bruteForceEer(genuine, impostor), 12);
    expect(point.eer).toBeCloseTo(0.25, 12); // t = 3.5: FRR 2/8, FAR 2/8
    expect(point.threshold).toBe(3.5);
  });

  it.each([1, 2, 3, 4, 5])('matches brute force on random overlapping scores (seed %i)', (seed) => {
    const genuine = normals(200, 1, 1, seed);
    const impostor = normals(300, -0.5, 1.3, seed + 100);
    expect(equalErrorPoint(genuine, impostor).eer).toBeCloseTo(bruteForceEer(genuine, impostor), 12);
  });

  it('is 0 for separated scores and about ½ for identical distributions', () => {
    expect(equalErrorPoint([5, 6, 7], [1, 2, 3]).eer).toBe(0);
    expect(equalErrorPoint(normals(2000, 0, 1, 8), normals(2000, 0, 1, 9)).eer).toBeGreaterThan(0.45);
  });

  it('picks the lowest threshold meeting a target FAR', () => {
    const genuine = normals(300, 1, 1, 3);
    const impostor = normals(300, -1, 1, 4);
    const point = thresholdAtFar(genuine, impostor, 0.01);
    expect(point.far).toBeLessThanOrEqual(0.01);
    const justBelow = Math.max(...impostor.filter((s) => s < point.threshold));
    expect(errorRates(genuine, impostor, justBelow).far).toBeGreaterThan(0.01);
  });
});

describe('calibration', () => {
  it('recovers the log-likelihood ratio of two equal-variance Gaussians', () => {
    // LLR(s) = log N(s; μg, σ) − log N(s; μi, σ) = (μg − μi)/σ² · s − (μg² − μi²)/(2σ²)
    const [mg, mi, sd] = [1, -1, 1.5];
    const calibration = calibrate(normals(20_000, mg, sd, 1), normals(20_000, mi, sd, 2), 0);
    expect(calibration.llr.slope).toBeCloseTo((mg - mi) / sd ** 2, 1);
    expect(calibration.llr.intercept).toBeCloseTo(-(mg ** 2 - mi ** 2) / (2 * sd ** 2), 1);
    expect(calibration.genuine.mean).toBeCloseTo(mg, 1);
    expect(calibration.impostor?.std).toBeCloseTo(sd, 1);
    expect(calibration.histogram.genuine.reduce((a, b) => a + b, 0)).toBe(20_000);
  });

  it('clamps the per-window evidence', () => {
    const calibration = calibrate(normals(50, 3, 0.1, 1), normals(50, -3, 0.1, 2), 0);
    expect(calibration.llr.clamp).toBeCloseTo(Math.log(51), 6);
    expect(windowLlr(calibration, 100)).toBe(calibration.llr.clamp);
    expect(windowLlr(calibration, -100)).toBe(-calibration.llr.clamp);
  });

  it('without impostors, is zero at the threshold and one nat per genuine standard deviation', () => {
    const calibration = calibrate([1, 2, 3, 4, 5], [], 2);
    const sd = Math.sqrt(2);
    expect(calibration.impostor).toBeNull();
    expect(windowLlr(calibration, 2)).toBeCloseTo(0, 12);
    expect(windowLlr(calibration, 2 + sd)).toBeCloseTo(1, 12);
  });
});
