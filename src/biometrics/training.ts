import * as ort from 'onnxruntime-node';
import type { DetectorName, FeatureSpec, ModelMetrics, ModelSummary } from '../../protocol/biometrics.ts';
import { VigilError } from '../../protocol/errors.ts';
import { calibrate, equalErrorPoint, errorRates, thresholdAtFar, type OperatingPoint } from './calibration.ts';
import { overlapGap, planFolds } from './cross-validation.ts';
import {
  DEFAULT_DETECTOR_OPTIONS,
  needsCohort,
  scoreReference,
  trainDetector,
  type DetectorOptions,
  type DetectorParams,
} from './detectors/index.ts';
import { ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUT, exportDetector } from './onnx/export-detector.ts';
import { SESSION_OPTIONS, scoreOnnx, worstDisagreement } from './onnx/onnx-check.ts';
import { NOVELTY_METADATA_KEY, noveltyStats } from './novelty.ts';
import { pickRows, stackRows, type FeatureMatrix } from './samples.ts';

/** The detector for sample signals when none is requested (picked by cross-validation, docs/biometrics.md). */
export const DEFAULT_DETECTOR: DetectorName = 'logistic-cohort';

/**
 * Per kind of data, the detector and options that subject-level cross-validation picked
 * (docs/biometrics.md): a cohort logistic regression for windowed signals; for ready-made
 * feature rows (few, low-dimensional, e.g. keystroke latencies), scaled Manhattan on log inputs
 * with its spread shrunk towards the cohort's, which beat every cohort model on Keystroke100.
 * The options also apply when feature rows request a detector by name (or fall back to one).
 */
export const KIND_DEFAULTS: Readonly<Record<FeatureSpec['kind'], { detector: DetectorName; options: Partial<DetectorOptions> }>> =
  Object.freeze({
    samples: { detector: DEFAULT_DETECTOR, options: {} },
    features: { detector: 'scaled-manhattan', options: { manhattanLogInputs: true, manhattanScalePrior: 5 } },
  });

export interface TrainingOptions {
  /** Cross-validation folds for the held-out scores that set threshold and calibration. Default 4. */
  folds: number;
  /** Fewest genuine windows accepted (ENROLLMENT_TOO_SMALL below). Default 10. */
  minWindows: number;
  /** Fewest cohort members for a cohort detector; fewer falls back to `fallbackDetector`. Default 3. */
  minCohortMembers: number;
  /** Fewest cohort windows in total for a cohort detector. Default 30. */
  minCohortWindows: number;
  /** Most windows taken from each cohort member (evenly spaced) to bound training time. Default 150. */
  maxWindowsPerMember: number;
  /** One-class detector used when the cohort is too small. Default 'scaled-manhattan'. */
  fallbackDetector: DetectorName;
  /** Threshold rule: undefined → the equal-error point; a number → the lowest threshold with FAR ≤ it. */
  targetFar: number | undefined;
  /** Without any impostor scores: the threshold rejects this share of held-out genuine windows. Default 0.05. */
  genuineRejectRate: number;
  detector: Partial<DetectorOptions>;
}

export const DEFAULT_TRAINING_OPTIONS: Readonly<TrainingOptions> = Object.freeze({
  folds: 4,
  minWindows: 10,
  minCohortMembers: 3,
  minCohortWindows: 30,
  maxWindowsPerMember: 150,
  fallbackDetector: 'scaled-manhattan',
  targetFar: undefined,
  genuineRejectRate: 0.05,
  detector: {},
});

export interface TrainModelInput {
  /** The owner's windows (features per window, spec.names order), in time order. */
  featureRows: FeatureMatrix;
  /** Other people's windows for the same spec, one matrix per person. */
  cohortRows?: readonly FeatureMatrix[] | undefined;
  spec: FeatureSpec;
  detector?: DetectorName | undefined;
  options?: Partial<TrainingOptions> | undefined;
  /** Called with 0…1 as training proceeds (e.g. BullMQ job.updateProgress). */
  onProgress?: ((fraction: number) => void) | undefined;
}

/** A trained, verified model: the summary stored and served, plus the ONNX bytes. */
export interface ModelArtifact extends ModelSummary {
  onnx: Uint8Array;
  /** The final detector's parameters (float32, what the graph holds): the input of `scoreReference`. */
  params: DetectorParams;
}

function fail(reason: string, cause?: unknown): VigilError {
  return new VigilError('MODEL_TRAINING_FAILED', { reason }, { cause });
}

function checkOptions(o: TrainingOptions): void {
  const int = (name: keyof TrainingOptions, min: number) => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      throw new TypeError(`options.${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  };
  int('folds', 2);
  int('minWindows', 4);
  int('minCohortMembers', 1);
  int('minCohortWindows', 1);
  int('maxWindowsPerMember', 2);
  if (o.targetFar !== undefined && !(o.targetFar > 0 && o.targetFar < 1)) {
    throw new TypeError(`options.targetFar must be between 0 and 1, got ${String(o.targetFar)}`);
  }
  if (!(o.genuineRejectRate >= 0 && o.genuineRejectRate < 1)) {
    throw new TypeError(`options.genuineRejectRate must be in [0, 1), got ${String(o.genuineRejectRate)}`);
  }
  if (needsCohort(o.fallbackDetector))
    throw new TypeError(`options.fallbackDetector must be a one-class detector, got ${o.fallbackDetector}`);
}

function checkFinite(m: FeatureMatrix, what: string): void {
  const values = m.data.subarray(0, m.n * m.d);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new VigilError('SAMPLES_INVALID', {
        reason: `${what} window ${Math.floor(i / m.d)} has a non-finite feature (values too large?)`,
      });
    }
  }
}

/**
 * Refuses an enrolment where at least half the features never change: the data cannot tell
 * its owner from anyone (a sensor stuck at one value, a file of repeated rows), and every
 * detector's spread estimate would be the floor, so any later window would look like an impostor.
 */
function checkVaries(m: FeatureMatrix, required: number): void {
  let constant = 0;
  for (let j = 0; j < m.d; j++) {
    const first = m.data[j] as number;
    let same = true;
    for (let i = 1; i < m.n && same; i++) same = m.data[i * m.d + j] === first;
    if (same) constant++;
  }
  if (constant * 2 >= m.d) throw new VigilError('ENROLLMENT_TOO_UNIFORM', { constant, features: m.d, required });
}

/** At most `max` rows, evenly spaced, so one chatty cohort member cannot dominate or slow training. */
function thin(m: FeatureMatrix, max: number): FeatureMatrix {
  if (m.n <= max) return m;
  return pickRows(
    m,
    Array.from({ length: max }, (_, i) => Math.floor((i * m.n) / max)),
  );
}

/**
 * Trains one model version: held-out scores from time-blocked cross-validation set the threshold
 * and the calibration, the final detector is trained on everything, exported to ONNX, and the
 * graph is loaded in onnxruntime and must reproduce the reference scores — otherwise this throws
 * MODEL_TRAINING_FAILED and nothing is returned. CPU-heavy: run it in a BullMQ processor.
 */
export async function trainModel(input: TrainModelInput): Promise<ModelArtifact> {
  const started = performance.now();
  const o: TrainingOptions = { ...DEFAULT_TRAINING_OPTIONS, ...input.options };
  checkOptions(o);
  const { spec, featureRows: genuine } = input;
  const kindDefaults = KIND_DEFAULTS[spec.kind];
  const detectorOptions = { ...DEFAULT_DETECTOR_OPTIONS, ...kindDefaults.options, ...o.detector };
  const d = spec.names.length;
  if (genuine.d !== d) throw new RangeError(`featureRows have ${genuine.d} columns; the spec names ${d} features`);
  if (genuine.n < o.minWindows) throw new VigilError('ENROLLMENT_TOO_SMALL', { got: genuine.n, required: o.minWindows });
  checkFinite(genuine, 'enrolment');
  checkVaries(genuine, o.minWindows);
  const cohort = (input.cohortRows ?? []).filter((m) => m.n > 0).map((m) => thin(m, o.maxWindowsPerMember));
  cohort.forEach((m, i) => {
    if (m.d !== d) throw new RangeError(`cohort member ${i} has ${m.d} columns; the spec names ${d} features`);
    checkFinite(m, `cohort member ${i}`);
  });

  const requested = input.detector ?? kindDefaults.detector;
  const cohortWindows = cohort.reduce((a, m) => a + m.n, 0);
  const cohortTooSmall = cohort.length < o.minCohortMembers || cohortWindows < o.minCohortWindows;
  const detector = needsCohort(requested) && cohortTooSmall ? o.fallbackDetector : requested;
  const progress = input.onProgress ?? (() => {});

  // Held-out scores, each window scored by a model that never saw it (nor its overlapping neighbours).
  // At least two folds (so every fold trains on something), at most one per three windows.
  const folds = Math.max(2, Math.min(o.folds, Math.floor(genuine.n / 3)));
  const plan = planFolds(genuine.n, cohort.length, folds, overlapGap(spec.windowSamples, spec.hopSamples));
  const genuineScores = new Float32Array(genuine.n);
  const impostorScores: number[] = [];
  for (const [f, fold] of plan.entries()) {
    const params = trainDetector(
      detector,
      { genuine: pickRows(genuine, fold.genuineTrain), cohort: fold.cohortTrain.map((m) => cohort[m] as FeatureMatrix) },
      detectorOptions,
    );
    const held = scoreReference(params, pickRows(genuine, fold.genuineTest));
    fold.genuineTest.forEach((row, i) => (genuineScores[row] = held[i] as number));
    for (const m of fold.cohortTest) impostorScores.push(...scoreReference(params, cohort[m] as FeatureMatrix));
    progress(((f + 1) / (plan.length + 1)) * 0.9);
  }

  let point: OperatingPoint;
  let rule: ModelMetrics['thresholdRule'];
  let eer: number | null = null;
  if (impostorScores.length > 0) {
    const equal = equalErrorPoint(genuineScores, impostorScores);
    eer = equal.eer;
    if (o.targetFar === undefined) {
      point = equal;
      rule = 'eer';
    } else {
      point = thresholdAtFar(genuineScores, impostorScores, o.targetFar);
      rule = 'target-far';
    }
  } else {
    const sorted = Float64Array.from(genuineScores).sort();
    const threshold = sorted[Math.floor(o.genuineRejectRate * sorted.length)] as number;
    point = { ...errorRates(genuineScores, [], threshold), far: Number.NaN };
    rule = 'genuine-quantile';
  }
  const calibration = calibrate(genuineScores, impostorScores, point.threshold);

  const params = trainDetector(detector, { genuine, cohort }, detectorOptions);
  // Motion windows only: the gate's thresholds were chosen on them (npm run eval:novelty).
  const novelty = spec.kind === 'samples' ? noveltyStats(genuine, point.threshold, calibration.llr) : undefined;
  const onnx = exportDetector(params, d, novelty ? { [NOVELTY_METADATA_KEY]: JSON.stringify(novelty) } : {});
  await verifyGraph(onnx, params, genuine, cohort);
  progress(1);

  return {
    format: 'vigil-biometric-model/1',
    detector,
    requestedDetector: requested,
    oneClassFallback: detector !== requested,
    featureSpec: spec,
    threshold: Math.fround(point.threshold),
    metrics: {
      eer,
      far: Number.isNaN(point.far) ? null : point.far,
      frr: point.frr,
      genuineWindows: genuine.n,
      cohortWindows,
      cohortMembers: cohort.length,
      folds: plan.length,
      thresholdRule: rule,
      trainingMs: Math.round(performance.now() - started),
    },
    calibration,
    graph: { opset: ONNX_OPSET, bytes: onnx.byteLength, input: ONNX_INPUT, output: ONNX_OUTPUT },
    onnx,
    params,
  };
}

/** Loads the graph in onnxruntime and compares its scores with the reference on real rows. */
async function verifyGraph(
  onnx: Uint8Array,
  params: DetectorParams,
  genuine: FeatureMatrix,
  cohort: readonly FeatureMatrix[],
): Promise<void> {
  const rows = [thin(genuine, 32), ...cohort.slice(0, 8).map((m) => thin(m, 4))];
  const probe = stackRows(rows);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnx, SESSION_OPTIONS);
  } catch (err) {
    throw fail(`the exported ONNX graph does not load in onnxruntime: ${(err as Error).message}`, err);
  }
  try {
    const onnxScores = await scoreOnnx(session, probe);
    const reference = scoreReference(params, probe);
    const worst = worstDisagreement(onnxScores, reference);
    if (worst) {
      throw fail(`onnxruntime scores window ${worst.index} as ${worst.onnx}, the reference as ${worst.reference}`);
    }
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw fail(`onnxruntime could not run the exported graph: ${(err as Error).message}`, err);
  } finally {
    await session.release();
  }
}
