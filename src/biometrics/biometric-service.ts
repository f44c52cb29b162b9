import type { Queue } from 'bullmq';
import type { RedisClient } from '../storage/redis.ts';
import type { ObjectId } from 'mongodb';
import type { DetectorName, FeatureSpec, VerificationResult } from '../../protocol/biometrics.ts';
import { VigilError } from '../../protocol/errors.ts';
import type { EnrollmentAccepted, EnrollmentView, ModelDeleted, ModelView } from '../../protocol/http/biometrics.ts';
import { enforceLimit } from '../rate-limits/enforce-limit.ts';
import type { AuditContext, AuditLog } from '../audit/audit-log.ts';
import type { Logger } from '../observability/logger.ts';
import type { OwnerChanges } from './assurance/owner-change.ts';
import type { ReplayIndexes } from './assurance/replay-index.ts';
import type { RateLimiter } from '../rate-limits/rate-limiter.ts';
import { trainingJobId, type TrainingJob } from '../storage/queues.ts';
import type { EnrollmentEvents, EnrollmentListener, ModelsDeletedListener } from './enrollment/enrollment-events.ts';
import { publishEnrollmentEvent, publishModelsDeleted } from './enrollment/enrollment-events.ts';
import {
  ENROLLMENT_LIMITS,
  type EnrollmentRecord,
  type EnrollmentSource,
  type EnrollmentStore,
} from './enrollment/enrollment-store.ts';
import { assertPlausible } from './ingest/plausibility.ts';
import { BatchVerifier } from './batch-verifier.ts';
import { alignToSpec } from './features/extract-windows.ts';
import { rowFeatureSpec, sampleFeatureSpec } from './features/feature-spec.ts';
import { windowCount } from './features/windowing.ts';
import { ModelRegistry, type ActiveModel } from './models/model-registry.ts';
import type { ModelStore } from './models/model-store.ts';
import type { BiometricData } from './samples.ts';
import type { ScoringPool } from './scoring-pool.ts';
import { DEFAULT_TRAINING_OPTIONS } from './training.ts';
import type { DeclaredParams, UploadFile } from './uploads/decode-upload.ts';
import type { UploadDecoder } from './uploads/upload-decoder.ts';

/** How a new enrolment is set up (HTTP parameters, socket `enroll.begin`, legacy defaults). */
export interface EnrollmentSetup {
  /** Label (motion, ppg, keystroke…): default window, and which enrolments form a cohort. */
  modality?: string | undefined;
  /** Window and hop in seconds (samples only); default per modality. */
  window?: number | undefined;
  hop?: number | undefined;
  detector?: DetectorName | undefined;
  source: EnrollmentSource;
}

export type { ActiveModel };

export interface BiometricServiceOptions {
  enrollmentsPerHour: number;
  verifyPerMinute: number;
  /** Windows verified per account per hour (VIGIL_BIOMETRIC_VERIFY_WINDOWS_PER_HOUR). */
  verifyWindowsPerHour: number;
  maxVerifyWindows: number;
  redisPrefix: string;
  /** ONNX models kept in memory for scoring, by model id. Default 1024. */
  modelCacheSize?: number;
}

/** How often waitForEnrollment re-reads the record, in case a pub/sub event was missed. */
export const WAIT_POLL_MS = 1_000;

function setupError(err: unknown): never {
  if (err instanceof TypeError) {
    const match = /^options\.(\w+) (.*)$/.exec(err.message);
    const field = match?.[1] ?? 'window';
    const message = match ? `${match[1]} ${match[2]}` : err.message;
    throw new VigilError('VALIDATION_FAILED', { summary: `${field}: ${message}` }, { details: [{ field, message }] });
  }
  throw err;
}

/** The feature spec an enrolment's first upload fixes. */
export function enrollmentSpec(data: BiometricData, setup: Omit<EnrollmentSetup, 'source' | 'detector'>): FeatureSpec {
  try {
    if (data.kind === 'features') {
      if (setup.window !== undefined || setup.hop !== undefined) {
        throw new TypeError('options.window and hop apply to kind=samples; each feature row is one window');
      }
      return rowFeatureSpec({ columns: data.channels, modality: setup.modality ?? 'features' });
    }
    return sampleFeatureSpec({
      rate: data.rate,
      channels: data.channels,
      modality: setup.modality,
      window: setup.window,
      hop: setup.hop,
    });
  } catch (err) {
    return setupError(err);
  }
}

function mismatch(reason: string): VigilError {
  return new VigilError('SAMPLES_SPEC_MISMATCH', { reason }, { details: [{ field: 'body', message: reason }] });
}

/** Later uploads must be the same kind of data as the first (channel order may differ). */
function checkSameData(data: BiometricData, spec: FeatureSpec): void {
  if (data.kind !== spec.kind) throw mismatch(`got ${data.kind}; this enrolment collects ${spec.kind}`);
  if (data.kind === 'samples' && Math.abs(data.rate - spec.rate) > 1e-6 * spec.rate) {
    throw mismatch(`rate is ${data.rate} Hz; this enrolment's first upload was ${spec.rate} Hz`);
  }
  const same = data.channels.length === spec.channels.length && spec.channels.every((c) => data.channels.includes(c));
  if (!same) throw mismatch(`channels are [${data.channels.join(', ')}]; this enrolment collects [${spec.channels.join(', ')}]`);
}

function windowsOf(spec: FeatureSpec, segmentRows: readonly number[]): number {
  return segmentRows.reduce((n, rows) => n + windowCount(rows, spec.windowSamples, spec.hopSamples), 0);
}

const notFound = () => new VigilError('NOT_FOUND', { what: 'Enrollment' });

function tooFew(spec: FeatureSpec, got: number): VigilError {
  const unit = spec.kind === 'samples' ? 'samples' : 'rows';
  return new VigilError(
    'SAMPLES_TOO_FEW',
    { required: spec.windowSamples, unit, got },
    { details: [{ field: 'body', message: `${got} ${unit}; one window needs ${spec.windowSamples}` }] },
  );
}

function tooManyRows(got: number): VigilError {
  return new VigilError('SAMPLES_TOO_MANY', { what: 'rows in one enrolment', got, limit: ENROLLMENT_LIMITS.maxRows });
}

/**
 * The biometric service, free of HTTP: enrolment (one upload, or an open enrolment collecting
 * uploads or socket frames until committed), training jobs and deletion, in front of the model
 * registry (models/model-registry.ts) and batch verification (batch-verifier.ts). Routes, the
 * socket channel and legacy dialect A all call it; repairs after crashes run in the sweeper
 * (enrollment/enrollment-reconciler.ts), never in a read.
 */
export class BiometricService {
  private readonly registry: ModelRegistry;
  private readonly verifier: BatchVerifier;

  constructor(
    private readonly deps: {
      enrollments: EnrollmentStore;
      models: ModelStore;
      queue: Queue<TrainingJob>;
      /** The process's scoring pool (created when the module starts). */
      pool: () => ScoringPool;
      events: EnrollmentEvents;
      /** Parses uploads; large ones in a worker thread. */
      decoder: UploadDecoder;
      /** Publishes enrolment events (any command connection). */
      redis: RedisClient;
      audit: AuditLog;
      /** Audits and notifies changes of who "the owner" is (a committed enrolment, a deletion). */
      ownerChanges: Pick<OwnerChanges, 'changed'>;
      /** Fingerprints of enrolled samples, so a replay of them over the socket is recognised. */
      replay: Pick<ReplayIndexes, 'addRecording' | 'erase'>;
      rateLimiter: RateLimiter;
      logger: Logger;
      options: BiometricServiceOptions;
    },
  ) {
    this.registry = new ModelRegistry(deps.models, deps.options.modelCacheSize ?? 1024);
    this.verifier = new BatchVerifier({
      registry: this.registry,
      pool: deps.pool,
      decoder: deps.decoder,
      rateLimiter: deps.rateLimiter,
      options: deps.options,
    });
  }

  /** The scoring pool, for callers that batch windows themselves (the socket micro-batcher). */
  get pool(): ScoringPool {
    return this.deps.pool();
  }

  // ── enrolment ───────────────────────────────────────────────────────────

  /**
   * Opens an enrolment whose spec the given data fixes (kind, rate, channels, window). The data
   * is not stored: pass it (or more) to `append`. Socket enrolment calls this on `enroll.begin`
   * with the first frames, or with an empty sample set of the declared rate and channels.
   */
  async begin(userId: string, data: BiometricData, setup: EnrollmentSetup, meta: AuditContext = {}): Promise<EnrollmentRecord> {
    await this.limitEnrollment(userId);
    return this.open(userId, data, setup, meta);
  }

  private async open(userId: string, data: BiometricData, setup: EnrollmentSetup, meta: AuditContext): Promise<EnrollmentRecord> {
    const spec = enrollmentSpec(data, setup);
    const record = await this.deps.enrollments.create({ userId, source: setup.source, spec, detector: setup.detector });
    this.deps.logger.debug(
      { userId, enrollmentId: record._id.toHexString(), source: setup.source, ip: meta.ip },
      'enrolment opened',
    );
    return record;
  }

  /**
   * Adds data to an open enrolment. Each call is its own recording unless `continues` (a socket
   * stream flushed in pieces): windows never span two recordings. A recording must hold at
   * least one window, unless it is continued later.
   */
  async append(
    userId: string,
    enrollmentId: string | ObjectId,
    data: BiometricData,
    options: { continues?: boolean } = {},
  ): Promise<EnrollmentAccepted> {
    const { enrollments } = this.deps;
    const enrollment = await enrollments.get(userId, enrollmentId);
    if (!enrollment) throw notFound();
    this.assertOpen(enrollment);
    const { spec } = enrollment;
    checkSameData(data, spec);
    const continues = options.continues === true && enrollment.parts > 0;
    // Physically impossible values are fabricated data (they poisoned cohorts): refused at ingest.
    assertPlausible(data, spec.modality);
    if (options.continues !== true && data.length < spec.windowSamples) throw tooFew(spec, data.length);
    const limits = ENROLLMENT_LIMITS;
    if (enrollment.rows + data.length > limits.maxRows) throw tooManyRows(enrollment.rows + data.length);
    if (!continues && enrollment.uploads >= limits.maxUploads) {
      throw new VigilError('SAMPLES_TOO_MANY', {
        what: 'uploads in one enrolment',
        got: enrollment.uploads + 1,
        limit: limits.maxUploads,
      });
    }
    if (enrollment.parts >= limits.maxParts) {
      throw new VigilError('SAMPLES_TOO_MANY', {
        what: 'appends to one enrolment',
        got: enrollment.parts + 1,
        limit: limits.maxParts,
      });
    }
    if (data.length > 0) {
      const rows = alignToSpec(data, spec);
      await enrollments.appendRows(enrollment, rows, data.length, continues);
      if (spec.kind === 'samples') await this.deps.replay.addRecording(userId, rows, data.length, spec.channels.length);
    }
    return this.accepted(enrollment._id, spec, 'open');
  }

  /** Closes an open enrolment and queues its training. Repeating a commit answers the current state. */
  async commit(userId: string, enrollmentId: string | ObjectId, meta: AuditContext = {}): Promise<EnrollmentAccepted> {
    const { enrollments, queue } = this.deps;
    const enrollment = await enrollments.get(userId, enrollmentId);
    if (!enrollment) throw notFound();
    if (enrollment.status !== 'open') {
      if (enrollment.status === 'failed') this.assertOpen(enrollment);
      return this.accepted(enrollment._id, enrollment.spec, enrollment.status);
    }
    const segments = await enrollments.segmentRows(enrollment._id);
    const windows = windowsOf(enrollment.spec, segments);
    const required = DEFAULT_TRAINING_OPTIONS.minWindows;
    if (windows < required) throw new VigilError('ENROLLMENT_TOO_SMALL', { got: windows, required });
    if (!(await enrollments.markQueued(enrollment._id))) {
      const now = await enrollments.get(userId, enrollment._id);
      if (!now) throw notFound();
      return this.accepted(now._id, now.spec, now.status);
    }
    const id = enrollment._id.toHexString();
    try {
      await queue.add('train', { enrollmentId: id, userId }, { jobId: trainingJobId(id) });
    } catch (err) {
      await enrollments.reopen(enrollment._id);
      throw err;
    }
    await this.publish({ enrollmentId: id, userId, status: 'queued', progress: 0 });
    await this.deps.audit.record('biometric.enrollment_queued', 'success', {
      ...meta,
      userId,
      detail: { enrollmentId: id, source: enrollment.source, windows, uploads: segments.length },
    });
    await this.deps.ownerChanges.changed(userId, 'enrolled', {
      ...meta,
      detail: { enrollmentId: id, source: enrollment.source },
    });
    return { enrollmentId: id, status: 'queued', uploads: segments.length, windows };
  }

  /** One-shot enrolment: begin, append, and (unless `open`) commit. */
  async enroll(
    userId: string,
    data: BiometricData,
    setup: EnrollmentSetup & { open?: boolean | undefined },
    meta: AuditContext = {},
  ): Promise<EnrollmentAccepted> {
    await this.limitEnrollment(userId);
    return this.enrollCounted(userId, data, setup, meta);
  }

  private async enrollCounted(
    userId: string,
    data: BiometricData,
    setup: EnrollmentSetup & { open?: boolean | undefined },
    meta: AuditContext,
  ): Promise<EnrollmentAccepted> {
    // Refuse what the append or commit would refuse before anything is stored, so a one-shot
    // upload that fails leaves no open enrolment behind.
    const spec = enrollmentSpec(data, setup);
    assertPlausible(data, spec.modality);
    if (data.length < spec.windowSamples) throw tooFew(spec, data.length);
    if (data.length > ENROLLMENT_LIMITS.maxRows) throw tooManyRows(data.length);
    const windows = windowCount(data.length, spec.windowSamples, spec.hopSamples);
    const required = DEFAULT_TRAINING_OPTIONS.minWindows;
    if (!setup.open && windows < required) throw new VigilError('ENROLLMENT_TOO_SMALL', { got: windows, required });
    const enrollment = await this.open(userId, data, setup, meta);
    const appended = await this.append(userId, enrollment._id, data);
    return setup.open ? appended : this.commit(userId, enrollment._id, meta);
  }

  /** Enrolment from an upload (HTTP body, multipart file, an adapter's untyped file): decode with the declared parameters, then `enroll`. */
  async enrollUpload(
    userId: string,
    file: UploadFile,
    source: 'body' | 'file' | 'untyped',
    params: DeclaredParams & Omit<EnrollmentSetup, 'source'> & { open?: boolean | undefined; source?: EnrollmentSource },
    meta: AuditContext = {},
    /** What the upload may leave unsaid (an untyped file's sample rate). */
    fallback: DeclaredParams = {},
  ): Promise<EnrollmentAccepted> {
    // Counted before decoding: parsing a large upload is the expensive part.
    await this.limitEnrollment(userId);
    const data = await this.deps.decoder.decode(file, source, params, fallback);
    return this.enrollCounted(userId, data, { ...params, source: params.source ?? 'http' }, meta);
  }

  /** A further upload to an open enrolment; kind, rate and channels default to the enrolment's. */
  async appendUpload(
    userId: string,
    enrollmentId: string,
    file: UploadFile,
    source: 'body' | 'file',
    params: DeclaredParams,
  ): Promise<EnrollmentAccepted> {
    const enrollment = await this.deps.enrollments.get(userId, enrollmentId);
    if (!enrollment) throw notFound();
    this.assertOpen(enrollment);
    await this.limitEnrollment(userId);
    const { spec } = enrollment;
    const data = await this.deps.decoder.decode(file, source, params, {
      kind: spec.kind,
      ...(spec.kind === 'samples' ? { rate: spec.rate } : {}),
      channels: spec.channels,
    });
    return this.append(userId, enrollment._id, data);
  }

  /** The enrolment's state: status, progress of its training job, model version, metrics, failure. */
  async status(userId: string, enrollmentId: string | ObjectId): Promise<EnrollmentView> {
    const enrollment = await this.deps.enrollments.get(userId, enrollmentId);
    if (!enrollment) throw notFound();
    return this.view(enrollment);
  }

  /**
   * Resolves once the enrolment is ready or failed, or with its state after `timeoutMs`. Aborted
   * through `signal`, it rejects with the signal's reason once the reads already sent have returned,
   * so a caller that closes the store next never cuts one short.
   */
  async waitForEnrollment(
    userId: string,
    enrollmentId: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<EnrollmentView> {
    const settled = (v: EnrollmentView) => v.status === 'ready' || v.status === 'failed' || v.status === 'open';
    let latest = await this.status(userId, enrollmentId);
    if (settled(latest)) return latest;
    signal?.throwIfAborted();
    return new Promise<EnrollmentView>((resolve, reject) => {
      let done = false;
      const reads = new Set<Promise<void>>();
      const stop = () => {
        done = true;
        off();
        clearInterval(poll);
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
      };
      const finish = (view: EnrollmentView) => {
        if (done) return;
        stop();
        resolve(view);
      };
      const fail = (err: unknown) => {
        if (done) return;
        stop();
        reject(err);
      };
      const abort = () => {
        if (done) return;
        stop();
        const reason: unknown = signal!.reason;
        void Promise.allSettled(reads).then(() => reject(reason instanceof Error ? reason : new Error('aborted')));
      };
      const check = () => {
        const read = this.status(userId, enrollmentId).then((view) => {
          latest = view;
          if (settled(view)) finish(view);
        }, fail);
        reads.add(read);
        const done = () => void reads.delete(read);
        read.then(done, done);
      };
      const off = this.onEnrollmentEvent((event) => {
        if (event.enrollmentId === enrollmentId && (event.status === 'ready' || event.status === 'failed')) check();
      });
      const poll = setInterval(check, WAIT_POLL_MS);
      const timer = setTimeout(() => finish(latest), timeoutMs);
      signal?.addEventListener('abort', abort, { once: true });
      check();
    });
  }

  /**
   * `waitForEnrollment`, with a failed training re-thrown as its catalogued error (ENROLLMENT_TOO_SMALL,
   * SAMPLES_INVALID, MODEL_TRAINING_FAILED…): what a synchronous legacy make_model answers.
   */
  async awaitTraining(userId: string, enrollmentId: string, timeoutMs: number): Promise<EnrollmentView> {
    const view = await this.waitForEnrollment(userId, enrollmentId, timeoutMs);
    if (view.status !== 'failed') return view;
    const failure = (await this.deps.enrollments.get(userId, enrollmentId))?.error;
    throw failure ? new VigilError(failure.code, failure.params) : new VigilError('MODEL_TRAINING_FAILED', { reason: 'unknown' });
  }

  /** Enrolment changes from every gateway process (queued, training + progress, ready, failed). */
  onEnrollmentEvent(listener: EnrollmentListener): () => void {
    return this.deps.events.on(listener);
  }

  /** An account's models were all deleted (on any gateway process): drop what scores with them. */
  onModelsDeleted(listener: ModelsDeletedListener): () => void {
    return this.deps.events.onModelsDeleted(listener);
  }

  // ── models and verification ─────────────────────────────────────────────

  /** The latest version, loaded for scoring; BIOMETRIC_MODEL_MISSING when the account has none. */
  activeModel(userId: string): Promise<ActiveModel> {
    return this.registry.activeModel(userId);
  }

  /** Metadata of the latest (or a given) version, without the ONNX bytes. */
  model(userId: string, version?: number): Promise<ModelView> {
    return this.registry.view(userId, version);
  }

  /** Batch verification (check_user) of decoded data. */
  verify(userId: string, data: BiometricData): Promise<VerificationResult> {
    return this.verifier.verify(userId, data);
  }

  /** Verification of an upload (see BatchVerifier.verifyUpload). */
  verifyUpload(
    userId: string,
    file: UploadFile,
    source: 'body' | 'file' | 'untyped',
    params: DeclaredParams = {},
    options: { operator?: boolean } = {},
  ): Promise<VerificationResult> {
    return this.verifier.verifyUpload(userId, file, source, params, options);
  }

  /** Deletes every model version and all enrolment data of the account (DELETE /model, withdrawal). */
  async deleteAll(userId: string, meta: AuditContext & { reason?: string } = {}): Promise<ModelDeleted> {
    const { enrollments, models, queue, logger } = this.deps;
    // Queued jobs go; a running one finds its enrolment gone and discards its model.
    for (const id of await enrollments.pending(userId)) {
      await queue
        .remove(trainingJobId(id.toHexString()))
        .catch((err: unknown) => logger.debug({ err }, 'training job not removed'));
    }
    const deletedEnrollments = await enrollments.deleteForUser(userId);
    const deletedVersions = await models.deleteForUser(userId);
    await this.deps.replay.erase(userId);
    await publishModelsDeleted(this.deps.redis, this.deps.options.redisPrefix, userId).catch((err: unknown) =>
      logger.warn({ err, userId }, 'model deletion not published'),
    );
    const { reason = 'requested', ...context } = meta;
    await this.deps.audit.record('biometric.model_deleted', 'success', {
      ...context,
      userId,
      detail: { versions: deletedVersions, enrollments: deletedEnrollments, reason },
    });
    if (reason === 'requested') await this.deps.ownerChanges.changed(userId, 'deleted', context);
    return { deletedVersions, deletedEnrollments };
  }

  // ── helpers ─────────────────────────────────────────────────────────────

  private limitEnrollment(userId: string): Promise<void> {
    return enforceLimit(this.deps.rateLimiter, `bio:enrol:${userId}`, {
      limit: this.deps.options.enrollmentsPerHour,
      windowSeconds: 3600,
    });
  }

  private assertOpen(enrollment: EnrollmentRecord): void {
    if (enrollment.status !== 'open') {
      throw new VigilError('ENROLLMENT_NOT_OPEN', { enrollmentId: enrollment._id.toHexString(), status: enrollment.status });
    }
  }

  private async accepted(id: ObjectId, spec: FeatureSpec, status: EnrollmentRecord['status']): Promise<EnrollmentAccepted> {
    const segments = await this.deps.enrollments.segmentRows(id);
    return { enrollmentId: id.toHexString(), status, uploads: segments.length, windows: windowsOf(spec, segments) };
  }

  private async publish(event: Parameters<typeof publishEnrollmentEvent>[2]): Promise<void> {
    await publishEnrollmentEvent(this.deps.redis, this.deps.options.redisPrefix, event).catch((err: unknown) =>
      this.deps.logger.warn({ err, enrollmentId: event.enrollmentId }, 'enrolment event not published'),
    );
  }

  /** The enrolment as stored, with its job's live state and progress. A read: it never writes or queues. */
  private async view(e: EnrollmentRecord): Promise<EnrollmentView> {
    const id = e._id.toHexString();
    let status = e.status;
    let progress = status === 'ready' ? 1 : 0;
    if (status === 'queued' || status === 'training') {
      const job = await this.deps.queue.getJob(trainingJobId(id));
      if (job) {
        if ((await job.getState()) === 'active') status = 'training';
        if (typeof job.progress === 'number') progress = Math.min(1, Math.max(0, job.progress));
      }
    }
    const segments = await this.deps.enrollments.segmentRows(e._id);
    return {
      enrollmentId: id,
      status,
      progress,
      kind: e.spec.kind,
      modality: e.spec.modality,
      uploads: segments.length,
      rows: segments.reduce((a, b) => a + b, 0),
      windows: windowsOf(e.spec, segments),
      ...(e.detector ? { detector: e.detector } : {}),
      createdAt: e.createdAt.toISOString(),
      updatedAt: e.updatedAt.toISOString(),
      ...(e.modelVersion !== undefined ? { modelVersion: e.modelVersion } : {}),
      ...(e.metrics ? { metrics: e.metrics } : {}),
      ...(e.error ? { error: { code: e.error.code, message: e.error.message } } : {}),
    };
  }
}
