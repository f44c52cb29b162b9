import type { DetectorName, ModelMetrics } from '../../../protocol/biometrics.ts';
import type { TrainingJob } from '../../storage/queues.ts';
import { alignToSpec, extractWindows } from '../features/extract-windows.ts';
import { FeatureExtractor } from '../features/feature-extractor.ts';
import { windowCount } from '../features/windowing.ts';
import { withBackground, type BackgroundPopulation } from '../background/background-population.ts';
import type { ModelStore } from '../models/model-store.ts';
import { featureRowSet, sampleSet, stackRows, type BiometricData, type FeatureMatrix } from '../samples.ts';
import { DEFAULT_TRAINING_OPTIONS, trainModel } from '../training.ts';
import type { PoolAccounts, PoolRules } from '../cohort/cohort-pool.ts';
import { trainingCohort, type BackgroundSet, type NO_BACKGROUND } from '../cohort/training-cohort.ts';
import { toObjectId, type EnrollmentRecord, type EnrollmentStore, type Segment } from './enrollment-store.ts';

export interface TrainingJobOptions {
  /** Other accounts sampled as the cohort (VIGIL_BIOMETRIC_COHORT_MEMBERS). */
  cohortMembers: number;
  /** Who may join cohorts (VIGIL_BIOMETRIC_COHORT_VETTING, _MIN_ACCOUNT_AGE_SECONDS, _PER_SIGNUP_IP_DAILY). */
  pool: PoolRules;
  /** Detector for sample signals when the enrolment names none (VIGIL_BIOMETRIC_DETECTOR). */
  defaultDetector: DetectorName;
  /** Detector for feature rows when the enrolment names none (VIGIL_BIOMETRIC_ROWS_DETECTOR). */
  defaultRowsDetector: DetectorName;
  /** Tops a small live cohort up to `cohortMembers` when built for the same spec (VIGIL_BIOMETRIC_BACKGROUND). */
  background?: BackgroundPopulation | undefined;
}

export type TrainingOutcome =
  | {
      status: 'ready';
      modelId: string;
      modelVersion: number;
      detector: DetectorName;
      metrics: ModelMetrics;
      /** Process that trained: a child of the queue worker's process, never the gateway itself. */
      pid: number;
    }
  | { status: 'skipped'; reason: string };

/** Share of the progress bar spent before trainModel starts (loading and featurising). */
const PREPARED = 0.2;

function asData(
  enrollment: Pick<EnrollmentRecord, 'spec'>,
  data: Float32Array,
  channels = enrollment.spec.channels,
): BiometricData {
  const { spec } = enrollment;
  return spec.kind === 'samples' ? sampleSet(spec.rate, channels, data) : featureRowSet(channels, data);
}

/** Windows of every segment, stacked in time order (windows never span two recordings). */
function featurise(segments: Segment[], owner: EnrollmentRecord, member: EnrollmentRecord = owner): FeatureMatrix | undefined {
  const { spec } = owner;
  const extractor = new FeatureExtractor(spec);
  const parts: FeatureMatrix[] = [];
  for (const s of segments) {
    if (windowCount(s.rows, spec.windowSamples, spec.hopSamples) === 0) continue;
    // A cohort member may list the same channels in another order: reorder to the owner's.
    const data =
      member === owner ? asData(owner, s.data) : asData(owner, alignToSpec(asData(member, s.data, member.spec.channels), spec));
    parts.push(extractWindows(data, spec, extractor).features);
  }
  return parts.length > 0 ? stackRows(parts) : undefined;
}

/**
 * One training job: owner's windows + a bounded cohort sample → trainModel (which proves the
 * ONNX graph in onnxruntime) → the next model version → enrolment `ready`. Runs in a BullMQ
 * sandbox thread. Throws VigilError for unusable data (the job fails at once) and anything
 * else for transient trouble (BullMQ retries). Safe to re-run after a crash: a version already
 * stored for the enrolment is reused, and a model whose enrolment vanished meanwhile (deleted
 * by its owner) is removed again.
 */
export async function runTrainingJob(
  deps: {
    enrollments: EnrollmentStore;
    models: ModelStore;
    /** Candidate accounts' status, verification, age and sign-up address. */
    accounts: PoolAccounts;
    /** The shipped background population, or NO_BACKGROUND. */
    background: BackgroundSet | typeof NO_BACKGROUND;
    options: TrainingJobOptions;
  },
  job: TrainingJob,
  progress: (fraction: number) => Promise<void>,
): Promise<TrainingOutcome> {
  const { enrollments, models, options } = deps;
  const id = toObjectId(job.enrollmentId);
  const enrollment = id && (await enrollments.get(job.userId, id));
  if (!id || !enrollment) return { status: 'skipped', reason: 'enrolment no longer exists' };
  if (enrollment.status !== 'queued' && enrollment.status !== 'training') {
    return { status: 'skipped', reason: `enrolment is ${enrollment.status}` };
  }

  const earlier = await models.byEnrollment(id, job.userId);
  if (earlier) {
    // A previous attempt stored the model and died before saying so.
    await enrollments.markReady(id, { modelId: earlier._id, version: earlier.version, metrics: earlier.metrics });
    return {
      status: 'ready',
      modelId: earlier._id.toHexString(),
      modelVersion: earlier.version,
      detector: earlier.detector,
      metrics: earlier.metrics,
      pid: process.pid,
    };
  }
  if (!(await enrollments.markTraining(id))) return { status: 'skipped', reason: 'enrolment settled meanwhile' };
  await progress(0.02);

  const genuine = featurise(await enrollments.segments(enrollment), enrollment);
  // Enough rows for the per-member window cap, so a huge enrolment is not read to use 150 windows.
  const { spec } = enrollment;
  const rowsPerMember = spec.windowSamples + (DEFAULT_TRAINING_OPTIONS.maxWindowsPerMember - 1) * spec.hopSamples;
  const cohort = await trainingCohort(
    { enrollments, accounts: deps.accounts, rules: options.pool, background: deps.background },
    enrollment,
    genuine,
    options.cohortMembers,
    async (member) => featurise(await enrollments.segments(member, rowsPerMember), enrollment, member),
  );
  await progress(PREPARED);

  const pending: Promise<void>[] = [];
  const artifact = await trainModel({
    featureRows: genuine ?? { data: new Float32Array(0), n: 0, d: spec.names.length },
    cohortRows: withBackground(cohort, spec, options.background, options.cohortMembers),
    spec,
    detector: enrollment.detector ?? (spec.kind === 'features' ? options.defaultRowsDetector : options.defaultDetector),
    onProgress: (f) => void pending.push(progress(PREPARED + f * (0.95 - PREPARED))),
  });
  await Promise.all(pending);

  const model = await models.insertVersion(job.userId, id, artifact);
  if (!(await enrollments.markReady(id, { modelId: model._id, version: model.version, metrics: model.metrics }))) {
    await models.deleteById(model._id);
    return { status: 'skipped', reason: 'enrolment deleted during training' };
  }
  await progress(1);
  return {
    status: 'ready',
    modelId: model._id.toHexString(),
    modelVersion: model.version,
    detector: model.detector,
    metrics: model.metrics,
    pid: process.pid,
  };
}
