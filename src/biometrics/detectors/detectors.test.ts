import { describe, expect, it } from 'vitest';
import { DETECTOR_NAMES } from '../../../protocol/biometrics.ts';
import type { FeatureMatrix } from '../samples.ts';
import { scoreReference, trainDetector, type DetectorParams } from './index.ts';
import { ledoitWolf } from './shrunk-mahalanobis.ts';
import { auc, gaussianRows, syntheticPeople } from './test-data.ts';

const m = (rows: number[][]): FeatureMatrix => ({ data: Float32Array.from(rows.flat()), n: rows.length, d: rows[0]!.length });

describe('few identical enrolment rows', () => {
  // Keystroke rows repeat exactly at a coarse clock (Keystroke100 has such typings): no spread at all.
  const same = m([
    [235, 265, 1235],
    [235, 265, 1235],
    [235, 265, 1235],
  ]);

  it.each(DETECTOR_NAMES.filter((n) => n !== 'logistic-cohort' && n !== 'mlp-cohort'))(
    '%s trains and scores finitely',
    (name) => {
      const params = trainDetector(name, { genuine: same, cohort: [] });
      const scores = scoreReference(
        params,
        m([
          [235, 265, 1235],
          [250, 300, 1100],
        ]),
      );
      expect([...scores].every(Number.isFinite)).toBe(true);
      expect(scores[0]).toBeGreaterThan(scores[1] as number);
    },
  );
});

describe('one-class detectors on hand-computed examples', () => {
  const genuine = m([
    [0, 0],
    [2, 2],
    [0, 2],
    [2, 0],
  ]); // mean (1,1), mean |dev| 1, std 1

  it('scaled Manhattan is minus the mean of |x − mean| / mean-absolute-deviation', () => {
    const params = trainDetector('scaled-manhattan', { genuine, cohort: [] });
    const scores = scoreReference(
      params,
      m([
        [1, 1],
        [3, 1],
        [4, -1],
      ]),
    );
    expect(scores[0]).toBeCloseTo(0, 6);
    expect(scores[1]).toBeCloseTo(-(2 / 1 + 0) / 2, 6);
    expect(scores[2]).toBeCloseTo(-(3 + 2) / 2, 6);
  });

  it('outlier count is minus the share of features beyond z standard deviations', () => {
    const params = trainDetector('outlier-count', { genuine, cohort: [] }, { outlierZ: 1.5 });
    const scores = scoreReference(
      params,
      m([
        [1, 1],
        [2.4, 1],
        [2.6, 1],
        [-1, 3],
      ]),
    );
    expect(Array.from(scores, (v) => v + 0)).toEqual([0, 0, Math.fround(-0.5), Math.fround(-1)]);
  });

  it('shrunk Mahalanobis matches the closed-form 2×2 inverse', () => {
    const g = gaussianRows(40, [3, -1], 2, 5);
    for (let i = 0; i < g.n; i++) g.data[i * 2 + 1] = g.data[i * 2 + 1]! + 0.8 * g.data[i * 2]!; // correlate the features
    const params = trainDetector('shrunk-mahalanobis', { genuine: g, cohort: [] });
    if (params.name !== 'shrunk-mahalanobis') throw new Error('wrong detector');
    // Independent: standardise, shrink S towards μI with the reported λ, invert by formula.
    const rows = Array.from({ length: g.n }, (_, i) => [g.data[i * 2]!, g.data[i * 2 + 1]!]);
    const mean = [0, 1].map((j) => rows.reduce((a, r) => a + r[j]!, 0) / g.n);
    const std = [0, 1].map((j) => Math.sqrt(rows.reduce((a, r) => a + (r[j]! - mean[j]!) ** 2, 0) / g.n));
    const z = rows.map((r) => r.map((v, j) => (v - mean[j]!) / std[j]!));
    const s = [0, 1].map((a) => [0, 1].map((b) => z.reduce((acc, r) => acc + r[a]! * r[b]!, 0) / g.n));
    const mu = (s[0]![0]! + s[1]![1]!) / 2;
    const lam = params.shrinkage;
    const c = [0, 1].map((a) => [0, 1].map((b) => (1 - lam) * s[a]![b]! + (a === b ? lam * mu : 0)));
    const det = c[0]![0]! * c[1]![1]! - c[0]![1]! * c[1]![0]!;
    const inv = [
      [c[1]![1]! / det, -c[0]![1]! / det],
      [-c[1]![0]! / det, c[0]![0]! / det],
    ];
    const probe = [
      [5, 2],
      [3, -1],
      [0, 4],
    ];
    const scores = scoreReference(params, m(probe));
    probe.forEach((p, i) => {
      const v = p.map((x, j) => (x - mean[j]!) / std[j]!);
      const quad = v[0]! * (inv[0]![0]! * v[0]! + inv[0]![1]! * v[1]!) + v[1]! * (inv[1]![0]! * v[0]! + inv[1]![1]! * v[1]!);
      expect(scores[i]).toBeCloseTo(-quad / 2, 3);
    });
  });

  it('Ledoit–Wolf shrinks correlated data little with many samples and a lot with few', () => {
    const d = 10;
    const correlated = (n: number) => {
      const noise = gaussianRows(n, new Array(d).fill(0), 1, 9);
      const factor = gaussianRows(n, [0], 1, 10);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < d; j++) noise.data[i * d + j] = noise.data[i * d + j]! + 1.5 * factor.data[i]!;
      return noise;
    };
    const many = correlated(2000);
    const few = correlated(6);
    const lwMany = ledoitWolf(Float64Array.from(many.data), many.n, d).shrinkage;
    const lwFew = ledoitWolf(Float64Array.from(few.data), few.n, d).shrinkage;
    expect(lwMany).toBeLessThan(0.05);
    expect(lwFew).toBeGreaterThan(4 * lwMany);
  });

  it('floors the scale of a feature that was constant during enrolment', () => {
    const constant = m([
      [1, 0],
      [2, 0],
      [3, 0],
    ]);
    for (const name of ['scaled-manhattan', 'outlier-count', 'shrunk-mahalanobis'] as const) {
      const scores = scoreReference(trainDetector(name, { genuine: constant, cohort: [] }), m([[2, 0.001]]));
      expect(Number.isFinite(scores[0])).toBe(true);
    }
  });
});

describe('cohort detectors', () => {
  it('logistic regression satisfies the optimality condition of its balanced, penalised objective', () => {
    const [owner, ...cohort] = syntheticPeople(4, 6, 30, 3) as [FeatureMatrix, ...FeatureMatrix[]];
    const l2 = 0.05;
    const p = trainDetector('logistic-cohort', { genuine: owner, cohort }, { logisticL2: l2 });
    if (p.name !== 'logistic-cohort') throw new Error('wrong detector');
    // ∇ = Σ wᵢ(σ(zᵢ) − yᵢ)xᵢ + λw must vanish; weights: ½ on the owner, ½ shared by members.
    const grad = new Array(6).fill(0);
    let gradBias = 0;
    const parts: [FeatureMatrix, number, number][] = [
      [owner, 0.5 / owner.n, 1],
      ...cohort.map((c) => [c, 0.5 / (cohort.length * c.n), 0] as [FeatureMatrix, number, number]),
    ];
    for (const [part, weight, label] of parts) {
      const logits = scoreReference(p, part);
      for (let i = 0; i < part.n; i++) {
        const residual = weight * (1 / (1 + Math.exp(-logits[i]!)) - label);
        gradBias += residual;
        for (let j = 0; j < 6; j++) grad[j] += residual * (part.data[i * 6 + j]! - p.mean[j]!) * p.invStd[j]!;
      }
    }
    grad.forEach((g, j) => expect(Math.abs(g + l2 * p.weights[j]!)).toBeLessThan(1e-5));
    expect(Math.abs(gradBias)).toBeLessThan(1e-5);
  });

  it('the MLP separates an XOR-shaped owner that no linear model can', () => {
    const quadrant = (sx: number, sy: number, seed: number) => gaussianRows(60, [2 * sx, 2 * sy], 0.5, seed);
    const own = [quadrant(1, 1, 1), quadrant(-1, -1, 2)];
    const genuine = { data: Float32Array.from([...own[0]!.data, ...own[1]!.data]), n: 120, d: 2 };
    const cohort = [quadrant(1, -1, 3), quadrant(-1, 1, 4)];
    const testOwner = { data: Float32Array.from([...quadrant(1, 1, 5).data, ...quadrant(-1, -1, 6).data]), n: 120, d: 2 };
    const testOther = { data: Float32Array.from([...quadrant(1, -1, 7).data, ...quadrant(-1, 1, 8).data]), n: 120, d: 2 };
    const mlp = trainDetector('mlp-cohort', { genuine, cohort }, { mlpEpochs: 300 });
    const linear = trainDetector('logistic-cohort', { genuine, cohort });
    expect(auc(scoreReference(mlp, testOwner), scoreReference(mlp, testOther))).toBeGreaterThan(0.97);
    expect(auc(scoreReference(linear, testOwner), scoreReference(linear, testOther))).toBeLessThan(0.7);
  });

  it('trains the same model twice from the same data and seed', () => {
    const [owner, ...cohort] = syntheticPeople(3, 5, 20, 8) as [FeatureMatrix, ...FeatureMatrix[]];
    const a = trainDetector('mlp-cohort', { genuine: owner, cohort }, { mlpEpochs: 20 });
    const b = trainDetector('mlp-cohort', { genuine: owner, cohort }, { mlpEpochs: 20 });
    expect(a).toEqual(b);
  });
});

describe('every detector', () => {
  const people = syntheticPeople(14, 12, 80, 21);
  const split = (p: FeatureMatrix, from: number, to: number): FeatureMatrix => ({
    data: p.data.subarray(from * p.d, to * p.d),
    n: to - from,
    d: p.d,
  });
  const owner = people[0]!;

  it.each(DETECTOR_NAMES)('%s ranks the owner above unseen people (score: higher = owner)', (name) => {
    // Impostors (people 11–13) are never in the cohort (people 1–10).
    const params: DetectorParams = trainDetector(name, {
      genuine: split(owner, 0, 50),
      cohort: people.slice(1, 11).map((p) => split(p, 0, 50)),
    });
    const genuine = scoreReference(params, split(owner, 50, 80));
    for (const impostor of people.slice(11))
      expect(auc(genuine, scoreReference(params, split(impostor, 50, 80)))).toBeGreaterThan(0.75);
  });

  it('rejects a mismatched cohort width and a one-window enrolment', () => {
    expect(() => trainDetector('logistic-cohort', { genuine: owner, cohort: [m([[1, 2]])] })).toThrow(
      /cohort rows have 2 features/,
    );
    expect(() => trainDetector('scaled-manhattan', { genuine: split(owner, 0, 1), cohort: [] })).toThrow(/two genuine windows/);
  });
});
