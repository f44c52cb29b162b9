import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { DETECTOR_NAMES } from '../../../protocol/biometrics.ts';
import { scoreReference, trainDetector } from '../detectors/index.ts';
import { gaussianRows, syntheticPeople } from '../detectors/test-data.ts';
import type { FeatureMatrix } from '../samples.ts';
import { ONNX_INPUT, ONNX_OUTPUT, exportDetector } from './export-detector.ts';
import { SESSION_OPTIONS, scoreOnnx, scoresAgree } from './onnx-check.ts';

const D = 40;
const [owner, ...others] = syntheticPeople(8, D, 60, 4) as [FeatureMatrix, ...FeatureMatrix[]];
// In-distribution rows plus far-away ones (large distances stress float32 accumulation).
const probe: FeatureMatrix = (() => {
  const near = gaussianRows(48, new Array(D).fill(5), 1.5, 77);
  const far = gaussianRows(16, new Array(D).fill(-20), 30, 78);
  return { data: Float32Array.from([...near.data, ...far.data]), n: 64, d: D };
})();

describe('ONNX export', () => {
  it.each(DETECTOR_NAMES)('%s: onnxruntime reproduces the TypeScript reference scores', async (name) => {
    const params = trainDetector(name, { genuine: owner, cohort: others.slice(0, 6) }, { mlpEpochs: 60 });
    const model = exportDetector(params, D);
    const session = await ort.InferenceSession.create(model, SESSION_OPTIONS);
    expect(session.inputNames).toEqual([ONNX_INPUT]);
    expect(session.outputNames).toEqual([ONNX_OUTPUT]);

    const reference = scoreReference(params, probe);
    const onnx = await scoreOnnx(session, probe);
    expect(onnx.length).toBe(probe.n);
    let worst = 0;
    for (let i = 0; i < probe.n; i++) {
      worst = Math.max(worst, Math.abs(onnx[i]! - reference[i]!) / Math.max(1, Math.abs(reference[i]!)));
      expect(scoresAgree(onnx[i]!, reference[i]!), `window ${i}: onnx ${onnx[i]} vs reference ${reference[i]}`).toBe(true);
    }
    expect(worst).toBeLessThan(1e-4);
    // A single window and an odd batch size go through the same graph.
    const one = await scoreOnnx(session, { data: probe.data.subarray(0, D), n: 1, d: D });
    expect(one[0]).toBeCloseTo(onnx[0]!, 5);
  });

  it('scaled Manhattan on sign·log inputs with a cohort scale prior: onnxruntime reproduces the reference', async () => {
    const params = trainDetector(
      'scaled-manhattan',
      { genuine: owner, cohort: others.slice(0, 6) },
      { manhattanLogInputs: true, manhattanScalePrior: 5 },
    );
    const session = await ort.InferenceSession.create(exportDetector(params, D), SESSION_OPTIONS);
    const reference = scoreReference(params, probe); // probe has negative values too
    const onnx = await scoreOnnx(session, probe);
    for (let i = 0; i < probe.n; i++)
      expect(scoresAgree(onnx[i]!, reference[i]!), `window ${i}: onnx ${onnx[i]} vs reference ${reference[i]}`).toBe(true);
  });

  it('refuses an input of the wrong width', async () => {
    const model = exportDetector(trainDetector('scaled-manhattan', { genuine: owner, cohort: [] }), D);
    await expect(scoreOnnx(model, { data: new Float32Array(2 * (D + 1)), n: 2, d: D + 1 })).rejects.toThrow();
  });

  it('stores only what the graph needs: a one-class model is a few kB', () => {
    const model = exportDetector(trainDetector('scaled-manhattan', { genuine: owner, cohort: [] }), D);
    expect(model.byteLength).toBeLessThan(2 * D * 4 + 1024);
  });
});
