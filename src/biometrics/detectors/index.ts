import type { FeatureMatrix } from '../samples.ts';
import {
  COHORT_DETECTORS,
  DEFAULT_DETECTOR_OPTIONS,
  type DetectorName,
  type DetectorOptions,
  type DetectorParams,
  type DetectorTrainingData,
} from './detector-types.ts';
import { scoreLogisticCohort, trainLogisticCohort } from './logistic-cohort.ts';
import { scoreMlpCohort, trainMlpCohort } from './mlp-cohort.ts';
import { scoreOutlierCount, trainOutlierCount } from './outlier-count.ts';
import { scoreScaledManhattan, trainScaledManhattan } from './scaled-manhattan.ts';
import { scoreShrunkMahalanobis, trainShrunkMahalanobis } from './shrunk-mahalanobis.ts';

export * from './detector-types.ts';

export function trainDetector(
  name: DetectorName,
  data: DetectorTrainingData,
  options: Partial<DetectorOptions> = {},
): DetectorParams {
  const o = { ...DEFAULT_DETECTOR_OPTIONS, ...options };
  if (data.genuine.n < 2) throw new RangeError('a detector needs at least two genuine windows');
  for (const m of data.cohort)
    if (m.d !== data.genuine.d) throw new RangeError(`cohort rows have ${m.d} features, genuine rows ${data.genuine.d}`);
  switch (name) {
    case 'scaled-manhattan':
      return trainScaledManhattan(data, o.manhattanScalePrior, o.manhattanLogInputs);
    case 'outlier-count':
      return trainOutlierCount(data, o.outlierZ);
    case 'shrunk-mahalanobis':
      return trainShrunkMahalanobis(data, o.minShrinkage);
    case 'logistic-cohort':
      return trainLogisticCohort(data, o.logisticL2);
    case 'mlp-cohort':
      return trainMlpCohort(data, { hidden: o.mlpHidden, epochs: o.mlpEpochs, l2: o.mlpL2, seed: o.seed });
  }
}

/** The TypeScript reference scorer: what the ONNX graph must reproduce. */
export function scoreReference(params: DetectorParams, x: FeatureMatrix, out = new Float32Array(x.n)): Float32Array {
  switch (params.name) {
    case 'scaled-manhattan':
      scoreScaledManhattan(params, x, out);
      break;
    case 'outlier-count':
      scoreOutlierCount(params, x, out);
      break;
    case 'shrunk-mahalanobis':
      scoreShrunkMahalanobis(params, x, out);
      break;
    case 'logistic-cohort':
      scoreLogisticCohort(params, x, out);
      break;
    case 'mlp-cohort':
      scoreMlpCohort(params, x, out);
      break;
  }
  return out;
}

export function needsCohort(name: DetectorName): boolean {
  return COHORT_DETECTORS.has(name);
}
