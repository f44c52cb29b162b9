import { Type, type Static } from '@sinclair/typebox';

/**
 * Wire contracts for biometric uploads, feature specs and models.
 *
 * Score convention (every detector, every transport): one float32 per window,
 * **higher = more likely the account owner**. A window is accepted when
 * `score >= threshold`, where `threshold` is stored with the model version that produced the
 * score. Scores of different models are not comparable; the trust score (see TrustDecision)
 * is, because it is built from calibrated log-likelihood ratios.
 */

/** Upper bounds on one upload; the HTTP byte limit (UPLOAD_BODY_LIMIT) applies first. */
export const SAMPLE_LIMITS = {
  /** Channels of one sample set (e.g. 3 for an accelerometer, 6 with a gyroscope). */
  maxChannels: 64,
  /** Columns of one feature row (keystroke sets have 10–100). */
  maxFeatureColumns: 512,
  /** Rows of one upload: samples for `kind=samples`, observations for `kind=features`. */
  maxRows: 1_000_000,
  /** Rows × columns of one upload (4 M float32 = 16 MB in memory). */
  maxCells: 4_000_000,
  /** Highest declared sample rate, Hz. */
  maxRate: 10_000,
} as const;

const ChannelName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });

export const SampleSetJsonSchema = Type.Object(
  {
    kind: Type.Optional(Type.Literal('samples')),
    rate: Type.Number({ exclusiveMinimum: 0, maximum: SAMPLE_LIMITS.maxRate, description: 'Sample rate, Hz' }),
    channels: Type.Array(ChannelName, { minItems: 1, maxItems: SAMPLE_LIMITS.maxChannels }),
    samples: Type.Array(Type.Array(Type.Number()), {
      maxItems: SAMPLE_LIMITS.maxRows,
      description: 'One inner array per sample, one value per channel, in channel order',
    }),
  },
  { $id: 'BiometricSampleSet', additionalProperties: false },
);
export type SampleSetJson = Static<typeof SampleSetJsonSchema>;

export const FeatureRowsJsonSchema = Type.Object(
  {
    kind: Type.Literal('features'),
    columns: Type.Array(ChannelName, { minItems: 1, maxItems: SAMPLE_LIMITS.maxFeatureColumns }),
    rows: Type.Array(Type.Array(Type.Number()), {
      maxItems: SAMPLE_LIMITS.maxRows,
      description: 'One observation per row (e.g. keystroke hold/latency timings); each row is one test',
    }),
  },
  { $id: 'BiometricFeatureRows', additionalProperties: false },
);
export type FeatureRowsJson = Static<typeof FeatureRowsJsonSchema>;

export const DataKindSchema = Type.Union([Type.Literal('samples'), Type.Literal('features')]);
export type DataKind = Static<typeof DataKindSchema>;

/**
 * Everything needed to turn raw data into the exact feature vector a model was trained on.
 * Stored with every model version; scoring recomputes features from it, never from defaults.
 */
export const FeatureSpecSchema = Type.Object(
  {
    version: Type.Literal(1),
    kind: DataKindSchema,
    modality: Type.String({ minLength: 1, maxLength: 64 }),
    /** Sample rate, Hz (0 for feature rows). */
    rate: Type.Number({ minimum: 0 }),
    /** Input channel (or feature column) names, in the order the extractor reads them. */
    channels: Type.Array(ChannelName, { minItems: 1 }),
    /** Window length and hop in seconds, and the exact sample counts derived from them. */
    window: Type.Number({ minimum: 0 }),
    hop: Type.Number({ minimum: 0 }),
    windowSamples: Type.Integer({ minimum: 1 }),
    hopSamples: Type.Integer({ minimum: 1 }),
    /** Whether the vector magnitude of all channels is featurised as an extra signal. */
    magnitude: Type.Boolean(),
    /** Whether pairwise Pearson correlations of the raw channels are included. */
    correlations: Type.Boolean(),
    /** Spectral band edges in Hz (ascending); band i is [bands[i], bands[i+1]). */
    bands: Type.Array(Type.Number({ minimum: 0 })),
    /** Cadence search range for the autocorrelation peak, Hz. */
    cadence: Type.Tuple([Type.Number({ exclusiveMinimum: 0 }), Type.Number({ exclusiveMinimum: 0 })]),
    /** Output feature names, in vector order; their count is the model's input width D. */
    names: Type.Array(Type.String()),
  },
  { $id: 'BiometricFeatureSpec', additionalProperties: false },
);
export type FeatureSpec = Static<typeof FeatureSpecSchema>;

export const DETECTOR_NAMES = [
  'scaled-manhattan',
  'outlier-count',
  'shrunk-mahalanobis',
  'logistic-cohort',
  'mlp-cohort',
] as const;
export const DetectorNameSchema = Type.Union(DETECTOR_NAMES.map((name) => Type.Literal(name)));
export type DetectorName = (typeof DETECTOR_NAMES)[number];

const ScoreStats = Type.Object({
  count: Type.Integer({ minimum: 0 }),
  mean: Type.Number(),
  std: Type.Number(),
  /** 5th, 25th, 50th, 75th, 95th percentiles. */
  quantiles: Type.Array(Type.Number()),
});

/**
 * What turns one window score into evidence. `llr(score) = clamp(slope·score + intercept,
 * ±clamp)` is the natural-log likelihood ratio genuine:impostor, fitted on held-out scores with
 * equal class weight (so it carries no prior). Histograms are kept for diagnostics and plots.
 */
export const CalibrationSchema = Type.Object({
  genuine: ScoreStats,
  impostor: Type.Union([ScoreStats, Type.Null()]),
  histogram: Type.Object({
    edges: Type.Array(Type.Number()),
    genuine: Type.Array(Type.Integer()),
    impostor: Type.Array(Type.Integer()),
  }),
  llr: Type.Object({ slope: Type.Number(), intercept: Type.Number(), clamp: Type.Number({ exclusiveMinimum: 0 }) }),
});
export type Calibration = Static<typeof CalibrationSchema>;

export const ModelMetricsSchema = Type.Object({
  /** Equal-error rate of held-out enrolment windows vs cohort impostor windows; null without a cohort. */
  eer: Type.Union([Type.Number(), Type.Null()]),
  /** False accept / reject rates of those held-out windows at the stored threshold. */
  far: Type.Union([Type.Number(), Type.Null()]),
  frr: Type.Number(),
  genuineWindows: Type.Integer(),
  cohortWindows: Type.Integer(),
  cohortMembers: Type.Integer(),
  folds: Type.Integer(),
  /** How the threshold was chosen. */
  thresholdRule: Type.Union([Type.Literal('eer'), Type.Literal('target-far'), Type.Literal('genuine-quantile')]),
  trainingMs: Type.Number(),
});
export type ModelMetrics = Static<typeof ModelMetricsSchema>;

/** A model version as stored and served, minus the ONNX bytes. */
export const ModelSummarySchema = Type.Object(
  {
    format: Type.Literal('vigil-biometric-model/1'),
    detector: DetectorNameSchema,
    requestedDetector: DetectorNameSchema,
    /** True when a cohort detector was requested but the cohort was too small. */
    oneClassFallback: Type.Boolean(),
    featureSpec: FeatureSpecSchema,
    threshold: Type.Number(),
    metrics: ModelMetricsSchema,
    calibration: CalibrationSchema,
    /** The ONNX graph: `input` float32[N, D] → `output` float32[N] (the window scores). */
    graph: Type.Object({ opset: Type.Integer(), bytes: Type.Integer(), input: Type.String(), output: Type.String() }),
  },
  { $id: 'BiometricModelSummary' },
);
export type ModelSummary = Static<typeof ModelSummarySchema>;

export const TrustDecisionSchema = Type.Union([Type.Literal('genuine'), Type.Literal('uncertain'), Type.Literal('impostor')]);
export type TrustDecision = Static<typeof TrustDecisionSchema>;

/**
 * What a verdict says: the trust decision, or `replay` when the window repeats data the account
 * sent before (its enrolment, an earlier stream) or its timestamps run ahead of arrival. The
 * policy treats `replay` like `impostor`, and trust drops to its floor.
 */
export const VerdictDecisionSchema = Type.Union([...TrustDecisionSchema.anyOf, Type.Literal('replay')]);
export type VerdictDecision = Static<typeof VerdictDecisionSchema>;

/** One window of a batch verification. */
export const WindowVerdictSchema = Type.Object({
  index: Type.Integer({ minimum: 0 }),
  /** First sample (samples) or row (feature rows) of the window in the uploaded data. */
  start: Type.Integer({ minimum: 0 }),
  score: Type.Number(),
  accepted: Type.Boolean(),
});

/**
 * Batch check_user answer: the legacy shape (total tests, accepted tests, ratio, verdict) plus
 * the scores. `score` is the mean window score and `verdict` is "accept" when it reaches the
 * threshold (fusing windows by their mean; docs/biometrics.md has the measured error rates).
 */
export const VerificationResultSchema = Type.Object(
  {
    total: Type.Integer({ minimum: 1 }),
    accepted: Type.Integer({ minimum: 0 }),
    ratio: Type.Number({ minimum: 0, maximum: 1 }),
    score: Type.Number(),
    threshold: Type.Number(),
    verdict: Type.Union([Type.Literal('accept'), Type.Literal('reject')]),
    modelVersion: Type.Integer({ minimum: 1 }),
    windows: Type.Array(WindowVerdictSchema),
  },
  { $id: 'BiometricVerificationResult' },
);
export type VerificationResult = Static<typeof VerificationResultSchema>;

/**
 * What the account itself is told about a verification: the counts and the fused decision (what
 * dialect A's check_user shows), never per-window scores, the mean score or the threshold —
 * released scores would let an attacker tune a synthetic signal until it passes.
 */
export const VerificationSummarySchema = Type.Object(
  {
    total: Type.Integer({ minimum: 1 }),
    accepted: Type.Integer({ minimum: 0 }),
    ratio: Type.Number({ minimum: 0, maximum: 1 }),
    verdict: Type.Union([Type.Literal('accept'), Type.Literal('reject')]),
    modelVersion: Type.Integer({ minimum: 1 }),
  },
  { $id: 'BiometricVerificationSummary' },
);
export type VerificationSummary = Static<typeof VerificationSummarySchema>;
