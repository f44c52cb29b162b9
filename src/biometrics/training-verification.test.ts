import { describe, expect, it, vi } from 'vitest';
import { VigilError } from '../../protocol/errors.ts';
import type { DetectorParams } from './detectors/detector-types.ts';
import type * as ExportDetector from './onnx/export-detector.ts';
import { syntheticPeople } from './detectors/test-data.ts';
import { rowFeatureSpec } from './features/feature-spec.ts';

// The exporter is replaced so that training produces a graph onnxruntime rejects, or one that
// scores differently from the reference: both must fail training, never return a model.
const mode = vi.hoisted((): { current: 'garbage' | 'skewed' } => ({ current: 'garbage' }));
vi.mock('./onnx/export-detector.ts', async (importOriginal) => {
  const original = await importOriginal<typeof ExportDetector>();
  return {
    ...original,
    exportDetector: (params: DetectorParams, d: number) => {
      if (mode.current === 'garbage') return new Uint8Array([8, 1, 0xff, 0xff]);
      const skewed = { ...params, mean: params.mean.map((v) => v + 0.5) } as DetectorParams;
      return original.exportDetector(skewed, d);
    },
  };
});

const { trainModel } = await import('./training.ts');
const D = 6;
const spec = rowFeatureSpec({ columns: Array.from({ length: D }, (_, i) => `f${i}`) });
const [owner] = syntheticPeople(1, D, 30, 5);

async function failure(): Promise<VigilError> {
  try {
    await trainModel({ featureRows: owner!, spec, detector: 'scaled-manhattan' });
  } catch (err) {
    if (err instanceof VigilError) return err;
    throw err;
  }
  throw new Error('training returned a model');
}

describe('trainModel ONNX verification', () => {
  it('fails the job when the graph does not load in onnxruntime', async () => {
    mode.current = 'garbage';
    const err = await failure();
    expect(err.code).toBe('MODEL_TRAINING_FAILED');
    expect(err.message).toMatch(/does not load in onnxruntime/);
  });

  it('fails the job when onnxruntime and the reference disagree', async () => {
    mode.current = 'skewed';
    const err = await failure();
    expect(err.code).toBe('MODEL_TRAINING_FAILED');
    expect(err.message).toMatch(/onnxruntime scores window 0 as .* the reference as/);
  });
});
