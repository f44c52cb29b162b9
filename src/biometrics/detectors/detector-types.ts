import type { DetectorName } from '../../../protocol/biometrics.ts';
import type { FeatureMatrix } from '../samples.ts';

export type { DetectorName };

/**
 * Trained parameters, float32 exactly as the ONNX graph stores them, so the TypeScript
 * reference scorer and onnxruntime read the same numbers. Every detector scores with the
 * convention of protocol/biometrics.ts: higher = more likely the owner.
 */
export type DetectorParams =
  | {
      name: 'scaled-manhattan';
      /** Inputs pass through sign(x)·ln(1 + |x|) before anything else (see `manhattanLogInputs`). */
      logInputs: boolean;
      mean: Float32Array;
      /** 1 / (D · mean absolute deviation): score = −Σ |x − mean| · weight. */
      weight: Float32Array;
    }
  | {
      name: 'outlier-count';
      mean: Float32Array;
      invStd: Float32Array;
      /** A feature is an outlier when |x − mean| / std > z. Score = −(outliers / D). */
      z: number;
    }
  | {
      name: 'shrunk-mahalanobis';
      mean: Float32Array;
      /** D×D row-major: y = (x − mean)·T has identity covariance; score = −‖y‖² / D. */
      transform: Float32Array;
      shrinkage: number;
    }
  | {
      name: 'logistic-cohort';
      mean: Float32Array;
      invStd: Float32Array;
      weights: Float32Array;
      bias: number;
    }
  | {
      name: 'mlp-cohort';
      mean: Float32Array;
      invStd: Float32Array;
      hidden: number;
      /** D×H row-major. */
      w1: Float32Array;
      b1: Float32Array;
      w2: Float32Array;
      b2: number;
    };

/** Genuine windows of the owner, and other people's windows (one matrix per person). */
export interface DetectorTrainingData {
  genuine: FeatureMatrix;
  cohort: readonly FeatureMatrix[];
}

export interface DetectorOptions {
  /** Seed of every random choice (MLP initialisation); same data + seed → same model. Default 1. */
  seed: number;
  /**
   * Scaled Manhattan: pseudo-rows of the cohort's typical within-person spread mixed into the
   * owner's (0 = the owner's alone, as Killourhy & Maxion). Default 0.
   */
  manhattanScalePrior: number;
  /**
   * Scaled Manhattan on sign(x)·ln(1 + |x|) instead of x: timings (keystroke latencies) are
   * roughly log-normal, so a slow typing's long tail stops dominating the distance. Default false.
   */
  manhattanLogInputs: boolean;
  /** Outlier-count z threshold. Default 1.96 (Killourhy & Maxion). */
  outlierZ: number;
  /** Smallest Mahalanobis shrinkage, whatever Ledoit–Wolf estimates. Default 0.01. */
  minShrinkage: number;
  /** L2 penalty of the logistic regression, on balanced mean log-loss. Default 0.01. */
  logisticL2: number;
  /** MLP hidden units. Default 16. */
  mlpHidden: number;
  /** MLP epochs of minibatch Adam. Default 40. */
  mlpEpochs: number;
  /** MLP L2 penalty. Default 0.001. */
  mlpL2: number;
}

export const DEFAULT_DETECTOR_OPTIONS: Readonly<DetectorOptions> = Object.freeze({
  seed: 1,
  manhattanScalePrior: 0,
  manhattanLogInputs: false,
  outlierZ: 1.96,
  minShrinkage: 0.01,
  logisticL2: 0.01,
  mlpHidden: 16,
  mlpEpochs: 40,
  mlpL2: 0.001,
});

/** Detectors that learn from other people's windows and need a cohort. */
export const COHORT_DETECTORS: ReadonlySet<DetectorName> = new Set(['logistic-cohort', 'mlp-cohort']);
