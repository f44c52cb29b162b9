import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it } from 'vitest';
import { trainDetector, type DetectorName } from '../detectors/index.ts';
import { syntheticPeople } from '../detectors/test-data.ts';
import { sampleFeatureSpec } from '../features/feature-spec.ts';
import { exportDetector } from '../onnx/export-detector.ts';
import { scoreOnnx, scoresAgree, SESSION_OPTIONS } from '../onnx/onnx-check.ts';
import type { FeatureMatrix } from '../samples.ts';
import { scoringModel } from '../scoring-pool.ts';
import { familyOf } from './model-families.ts';
import { scoreWindowBatch, useFamilies, type SessionSource } from './window-batch-scorer.ts';
import { batchModel, type BatchModel } from './window-batch.ts';
import { WindowSlab } from './window-slab.ts';

// Family scoring (many users' models in one onnxruntime run) against each model's own graph,
// in process, with real onnxruntime sessions.

const spec = sampleFeatureSpec({ rate: 20, channels: ['x', 'y', 'z'] });
const D = spec.names.length;
let seed = 4000;

function trained(name: DetectorName): { onnx: Uint8Array; rows: FeatureMatrix } {
  const [owner, ...cohort] = syntheticPeople(5, D, 40, seed++);
  return { onnx: exportDetector(trainDetector(name, { genuine: owner!, cohort }), D), rows: owner! };
}

/** Each model's rows as one `features` batch: row i belongs to model i % models.length. */
function batch(models: BatchModel[], rows: FeatureMatrix[], n: number): WindowSlab {
  const slab = new WindowSlab(n, n * D, 'features');
  const sink = { batchMark: 0, scored() {}, failed() {} };
  for (let i = 0; i < n; i++) {
    const k = i % models.length;
    const offset = slab.claim(sink, models[k]!, i, 0, D, 1, 1);
    const r = Math.floor(i / models.length) % rows[k]!.n;
    slab.values.set(rows[k]!.data.subarray(r * D, (r + 1) * D), offset);
  }
  return slab;
}

/** Own sessions, counting how often each model's own graph is asked for. */
function countingSessions(bytesFor: (key: string, bytes: Uint8Array) => Uint8Array = (_, b) => b) {
  const asked = new Map<string, number>();
  const sessions = new Map<string, Promise<ort.InferenceSession>>();
  const source: SessionSource = (ref) => {
    asked.set(ref.key, (asked.get(ref.key) ?? 0) + 1);
    let session = sessions.get(ref.key);
    if (!session) {
      const own = new Uint8Array(ref.bytes).slice();
      session = ort.InferenceSession.create(bytesFor(ref.key, own), SESSION_OPTIONS);
      sessions.set(ref.key, session);
    }
    return session;
  };
  return { source, asked };
}

let nextKey = 0;
const wrap = (onnx: Uint8Array) => batchModel(scoringModel(`family-test-${nextKey++}`, onnx), spec);

afterEach(() => useFamilies(true));

describe('model families', () => {
  it('recognises exactly the exported logistic-cohort and scaled-manhattan graphs', () => {
    expect(familyOf(trained('logistic-cohort').onnx)).toMatchObject({ family: 'affine', d: D });
    expect(familyOf(trained('scaled-manhattan').onnx)).toMatchObject({ family: 'l1', d: D, bias: 0 });
    for (const other of ['mlp-cohort', 'shrunk-mahalanobis', 'outlier-count'] as const)
      expect(familyOf(trained(other).onnx), other).toBeUndefined();
    expect(familyOf(new Uint8Array([1, 2, 3, 4]))).toBeUndefined();
  });

  it('scores a mixed batch exactly as each model’s own graph, and stops asking family models for their own session', async () => {
    const kinds: DetectorName[] = [
      'logistic-cohort',
      'logistic-cohort',
      'scaled-manhattan',
      'mlp-cohort',
      'logistic-cohort',
      'shrunk-mahalanobis',
    ];
    const people = kinds.map(trained);
    const models = people.map((p) => wrap(p.onnx));
    const rows = people.map((p) => p.rows);
    const { source, asked } = countingSessions();
    for (let round = 0; round < 3; round++) {
      const slab = batch(models, rows, 48);
      const task = slab.seal();
      const result = await scoreWindowBatch(task, source);
      expect(result.failures).toEqual([]);
      // Reference: every row through its own model's graph.
      for (let k = 0; k < models.length; k++) {
        const mine = Array.from({ length: task.n }, (_, i) => i).filter(
          (i) => task.rowModel[i] === slab.models.indexOf(models[k]!),
        );
        const x = new Float32Array(mine.length * D);
        mine.forEach((i, j) => {
          const at = task.offsets[i]!;
          x.set(task.values.subarray(at, at + D), j * D);
        });
        const expected = await scoreOnnx(people[k]!.onnx, { data: x, n: mine.length, d: D });
        mine.forEach((i, j) =>
          expect(scoresAgree(task.scores[i]!, expected[j]!), `round ${round} model ${k} (${kinds[k]})`).toBe(true),
        );
      }
    }
    // Family models ran their own graph once (the agreement check); the others every batch.
    models.forEach((m, k) => expect(asked.get(m.ref.key), kinds[k]).toBe(familyOf(people[k]!.onnx) ? 1 : 3));
  });

  it('keeps a model whose family scores disagree with its own graph on its own session', async () => {
    // The session source hands out a different model's graph for `odd`: its own scores are the
    // truth the family must match, and it does not.
    const odd = trained('logistic-cohort');
    const impostor = trained('logistic-cohort');
    const model = wrap(odd.onnx);
    const { source, asked } = countingSessions(() => impostor.onnx);
    for (let round = 0; round < 3; round++) {
      const task = batch([model], [odd.rows], 8).seal();
      await scoreWindowBatch(task, source);
      const x = new Float32Array(task.values.subarray(0, 8 * D));
      const expected = await scoreOnnx(impostor.onnx, { data: x, n: 8, d: D });
      for (let i = 0; i < 8; i++) expect(scoresAgree(task.scores[i]!, expected[i]!), `round ${round} row ${i}`).toBe(true);
    }
    expect(asked.get(model.ref.key)).toBe(3);
  });

  it('can be switched off: every model then runs its own graph every batch', async () => {
    useFamilies(false);
    const p = trained('logistic-cohort');
    const model = wrap(p.onnx);
    const { source, asked } = countingSessions();
    for (let round = 0; round < 3; round++) await scoreWindowBatch(batch([model], [p.rows], 8).seal(), source);
    expect(asked.get(model.ref.key)).toBe(3);
  });
});
