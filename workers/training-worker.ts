import { Worker, type Job } from 'bullmq';
import { ERRORS, VigilError, type ErrorCode, type ErrorParams } from '../protocol/errors.ts';
import { AuditLog } from '../src/audit/audit-log.ts';
import { dataCipher } from '../src/crypto/data-cipher.ts';
import { publishEnrollmentEvent } from '../src/biometrics/enrollment/enrollment-events.ts';
import { EnrollmentStore, toObjectId, type EnrollmentFailure } from '../src/biometrics/enrollment/enrollment-store.ts';
import type { TrainingOutcome } from '../src/biometrics/enrollment/training-job.ts';
import type { Config } from '../src/config/schema.ts';
import type { Logger } from '../src/observability/logger.ts';
import { connectMongo, type MongoStore } from '../src/storage/mongo.ts';
import { JOB_LOCK_OPTIONS, QUEUE_NAMES, closeQueueConnection, queueConnection, type TrainingJob } from '../src/storage/queues.ts';
import { connectRedis, createRedis } from '../src/storage/redis.ts';
import { InFlight } from '../src/server/in-flight.ts';
import { TRAINING_SETTINGS_ENV, trainingSettings } from './training-settings.ts';

/**
 * Where the sandboxed processor lives, in both layouts: compiled (`dist/workers/*.js`, imported
 * as is) and source, where the child gets the tsx loader and a CommonJS entry that requires the
 * TypeScript file (training-entry.cjs says why).
 */
export function trainingProcessorLocation(): { file: URL; execArgv: string[] } {
  const typescript = import.meta.url.endsWith('.ts');
  return {
    file: new URL(typescript ? './training-entry.cjs' : './training-processor.js', import.meta.url),
    execArgv: typescript ? ['--import', 'tsx'] : [],
  };
}

export interface TrainingWorker {
  worker: Worker<TrainingJob, TrainingOutcome>;
  close(): Promise<void>;
}

/** The catalogued reason: the child's VigilError code, or MODEL_TRAINING_FAILED (child died, store failed). */
function failureOf(err: Error): EnrollmentFailure {
  const { code, params } = err as { code?: unknown; params?: unknown };
  if (typeof code === 'string' && code in ERRORS) {
    return {
      code: code as ErrorCode,
      message: err.message,
      params: typeof params === 'object' && params !== null ? (params as ErrorParams) : {},
    };
  }
  const reason = { reason: err.message };
  return { code: 'MODEL_TRAINING_FAILED', message: new VigilError('MODEL_TRAINING_FAILED', reason).message, params: reason };
}

function isFinal(job: Job<TrainingJob>, err: Error): boolean {
  return err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
}

/**
 * Runs the `training` queue in this process (embedded in the gateway, or workers/main.ts): each
 * job in a child process (workers/training-processor.ts). This side only does I/O: it turns
 * the job's lifecycle into enrolment events on Redis pub/sub, records a final failure (a child
 * that died cannot) and audits the outcome.
 */
export async function startTrainingWorker(config: Config, logger: Logger): Promise<TrainingWorker> {
  const redis = createRedis(config, 'vigil-training');
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'training redis error'));
  await connectRedis(redis, 15_000);
  let mongo: MongoStore;
  try {
    mongo = await connectMongo(config);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const enrollments = new EnrollmentStore(mongo.db, dataCipher(config));
  const audit = new AuditLog(mongo.db, logger);
  // What the job events below start runs after BullMQ's handler returns: close waits for it before
  // closing the stores it writes to.
  const writing = new InFlight();
  const track = (work: Promise<void>) => writing.track(work);
  const publish = (job: Job<TrainingJob>, event: Omit<Parameters<typeof publishEnrollmentEvent>[2], 'userId' | 'enrollmentId'>) =>
    publishEnrollmentEvent(redis, config.REDIS_PREFIX, {
      enrollmentId: job.data.enrollmentId,
      userId: job.data.userId,
      ...event,
    }).catch((err: unknown) => logger.warn({ err, jobId: job.id }, 'enrolment event not published'));

  const { file, execArgv } = trainingProcessorLocation();
  const connection = queueConnection(config);
  const worker = new Worker<TrainingJob, TrainingOutcome>(QUEUE_NAMES.training, file, {
    ...connection,
    // A job of a worker process that died is taken over within ~15 s, not BullMQ's up to a minute.
    ...JOB_LOCK_OPTIONS,
    concurrency: config.VIGIL_TRAINING_CONCURRENCY,
    // Child processes, not worker threads: training runs onnxruntime, and a thread ended inside an
    // onnxruntime call (BullMQ terminates a thread that does not stop in time) aborts the whole
    // process hosting it (src/biometrics/native-gate.ts); a child that dies costs one job attempt.
    // Children are reused across jobs, so the start-up (~1 s) is paid once per concurrent job.
    useWorkerThreads: false,
    workerForkOptions: {
      execArgv: [...execArgv, `--max-old-space-size=${config.VIGIL_TRAINING_MEMORY_MB}`],
      env: { ...process.env, [TRAINING_SETTINGS_ENV]: JSON.stringify(trainingSettings(config)) },
    },
  });
  worker.on('error', (err) => logger.warn({ err: err.message }, 'training worker error'));
  worker.on('active', (job) => track(publish(job, { status: 'training', progress: 0 })));
  worker.on('progress', (job, progress) => {
    if (typeof progress === 'number') track(publish(job, { status: 'training', progress }));
  });
  worker.on('completed', (job, outcome) => {
    if (outcome.status !== 'ready') {
      logger.info({ jobId: job.id, reason: outcome.reason }, 'training skipped');
      return;
    }
    logger.info(
      { jobId: job.id, modelVersion: outcome.modelVersion, detector: outcome.detector, eer: outcome.metrics.eer },
      'model trained',
    );
    track(publish(job, { status: 'ready', progress: 1, modelVersion: outcome.modelVersion }));
    track(
      audit.record('biometric.enrolled', 'success', {
        userId: job.data.userId,
        detail: {
          enrollmentId: job.data.enrollmentId,
          modelVersion: outcome.modelVersion,
          detector: outcome.detector,
          eer: outcome.metrics.eer ?? -1,
        },
      }),
    );
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = isFinal(job, err);
    logger.warn({ jobId: job.id, attempt: job.attemptsMade, final, err: err.message }, 'training failed');
    if (!final) return;
    const recording = (async () => {
      const id = toObjectId(job.data.enrollmentId);
      const error = failureOf(err);
      if (!id || !(await enrollments.markFailed(id, error))) return;
      await publish(job, { status: 'failed', progress: 0, error: { code: error.code, message: error.message } });
      await audit.record('biometric.enrolled', 'failure', {
        userId: job.data.userId,
        detail: { enrollmentId: job.data.enrollmentId, code: error.code },
      });
    })().catch((e: unknown) => logger.error({ err: e, jobId: job.id }, 'could not record a training failure'));
    track(recording);
  });
  await worker.waitUntilReady();
  return {
    worker,
    async close() {
      await worker.close();
      await writing.idle();
      await closeQueueConnection(connection.connection);
      await redis.quit().catch(() => redis.disconnect());
      await mongo.close();
    },
  };
}
