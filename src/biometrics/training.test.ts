import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { ModelSummarySchema } from '../../protocol/biometrics.ts';
import { VigilError } from '../../protocol/errors.ts';
import { errorRates } from './calibration.ts';
import { syntheticPeople } from './detectors/test-data.ts';
import { rowFeatureSpec } from './features/feature-spec.ts';
import { scoreOnnx } from './onnx/onnx-check.ts';
import type { FeatureMatrix } from './samples.ts';
import { trainModel, type TrainingOptions } from './training.ts';

const D = 10;
const spec = rowFeatureSpec({ columns: Array.from({ length: D }, (_, i) => `f${i}`), modality: 'keystroke' });
const people = syntheticPeople(16, D, 90, 31);
const head = (m: FeatureMatrix, n: number): FeatureMatrix => ({ data: m.data.subarray(0, n * D), n, d: D });
const tail = (m: FeatureMatrix, from: number): FeatureMatrix => ({ data: m.data.subarray(from * D), n: m.n - from, d: D });
const owner = people[0]!;
const cohort = people.slice(1, 11).map((p) => head(p, 60));
const strangers = people.slice(11).map((p) => tail(p, 60));

async function rejection(promise: Promise<unknown>): Promise<VigilError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof VigilError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('trainModel', () => {
  it('feature rows default to scaled Manhattan on log inputs with a cohort scale prior (the cross-validated pick)', async () => {
    const model = await trainModel({ featureRows: head(owner, 12), cohortRows: cohort, spec });
    expect(model).toMatchObject({ detector: 'scaled-manhattan', requestedDetector: 'scaled-manhattan', oneClassFallback: false });
    expect(model.params).toMatchObject({ name: 'scaled-manhattan', logInputs: true });
    const explicit = await trainModel({
      featureRows: head(owner, 12),
      cohortRows: cohort,
      spec,
      options: { detector: { manhattanLogInputs: false } },
    });
    expect(explicit.params).toMatchObject({ logInputs: false });
  });

  it('trains on as few as four rows when allowed (two folds of two)', async () => {
    const model = await trainModel({ featureRows: head(owner, 4), cohortRows: cohort, spec, options: { minWindows: 4 } });
    expect(model.metrics).toMatchObject({ genuineWindows: 4, folds: 2 });
  });

  it('returns a verified ONNX model whose held-out error rates match its threshold', async () => {
    const model = await trainModel({ featureRows: head(owner, 60), cohortRows: cohort, spec, detector: 'logistic-cohort' });
    expect(model.detector).toBe('logistic-cohort');
    expect(model.oneClassFallback).toBe(false);
    expect(model.metrics).toMatchObject({
      genuineWindows: 60,
      cohortMembers: 10,
      cohortWindows: 600,
      folds: 4,
      thresholdRule: 'eer',
    });
    expect(model.metrics.eer).toBeGreaterThanOrEqual(0);
    expect(model.metrics.eer).toBeLessThan(0.2);
    expect(model.calibration.llr.slope).toBeGreaterThan(0); // higher score = more likely the owner
    expect(model.graph.bytes).toBe(model.onnx.byteLength);

    // New windows of the owner and of people the model never saw, scored by onnxruntime.
    const genuine = await scoreOnnx(model.onnx, tail(owner, 60));
    const impostor = await scoreOnnx(model.onnx, {
      data: Float32Array.from(strangers.flatMap((s) => Array.from(s.data))),
      n: 150,
      d: D,
    });
    const rates = errorRates(genuine, impostor, model.threshold);
    expect(rates.frr).toBeLessThan(0.25);
    expect(rates.far).toBeLessThan(0.25);

    const { onnx: _bytes, ...summary } = model;
    expect(Value.Check(ModelSummarySchema, JSON.parse(JSON.stringify(summary)))).toBe(true);
  });

  it('is deterministic for the same input', async () => {
    const input = { featureRows: head(owner, 40), cohortRows: cohort.slice(0, 5), spec, detector: 'mlp-cohort' as const };
    const [a, b] = await Promise.all([trainModel(input), trainModel(input)]);
    expect(Buffer.from(a.onnx).equals(Buffer.from(b.onnx))).toBe(true);
    expect(a.threshold).toBe(b.threshold);
  });

  it('falls back to a one-class detector when the cohort is too small', async () => {
    const model = await trainModel({
      featureRows: head(owner, 40),
      cohortRows: cohort.slice(0, 2),
      spec,
      detector: 'logistic-cohort',
    });
    expect(model).toMatchObject({ detector: 'scaled-manhattan', requestedDetector: 'logistic-cohort', oneClassFallback: true });
    expect(model.metrics.thresholdRule).toBe('eer'); // the two members still supply impostor scores
  });

  it('without any cohort, sets the threshold from the genuine scores alone', async () => {
    const model = await trainModel({ featureRows: head(owner, 40), spec, detector: 'shrunk-mahalanobis' });
    expect(model.metrics).toMatchObject({ eer: null, far: null, thresholdRule: 'genuine-quantile', cohortMembers: 0 });
    expect(model.metrics.frr).toBeCloseTo(0.05, 2);
    expect(model.calibration.impostor).toBeNull();
  });

  it('honours a target FAR on the held-out impostors', async () => {
    const model = await trainModel({ featureRows: head(owner, 60), cohortRows: cohort, spec, options: { targetFar: 0.01 } });
    expect(model.metrics.thresholdRule).toBe('target-far');
    expect(model.metrics.far).toBeLessThanOrEqual(0.01);
  });

  it('reports progress up to 1', async () => {
    const seen: number[] = [];
    await trainModel({ featureRows: head(owner, 20), cohortRows: cohort.slice(0, 4), spec, onProgress: (f) => seen.push(f) });
    expect(seen.at(-1)).toBe(1);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  it('rejects an enrolment that is too small or not finite', async () => {
    expect((await rejection(trainModel({ featureRows: head(owner, 9), spec }))).code).toBe('ENROLLMENT_TOO_SMALL');
    const broken = Float32Array.from(head(owner, 20).data);
    broken[37] = Number.POSITIVE_INFINITY;
    const err = await rejection(trainModel({ featureRows: { data: broken, n: 20, d: D }, spec }));
    expect(err.code).toBe('SAMPLES_INVALID');
    expect(err.message).toMatch(/window 3/);
  });

  it.each([
    [{ folds: 1 }, 'options.folds must be an integer >= 2, got 1'],
    [{ minWindows: 2 }, 'options.minWindows must be an integer >= 4, got 2'],
    [{ targetFar: 1 }, 'options.targetFar must be between 0 and 1, got 1'],
    [{ genuineRejectRate: -0.1 }, 'options.genuineRejectRate must be in [0, 1), got -0.1'],
    [{ fallbackDetector: 'mlp-cohort' }, 'options.fallbackDetector must be a one-class detector, got mlp-cohort'],
  ] as [Partial<TrainingOptions>, string][])('names the bad option %j', async (options, message) => {
    await expect(trainModel({ featureRows: head(owner, 20), spec, options })).rejects.toThrow(new TypeError(message));
  });
});
