/**
 * BullMQ sandboxed processor for the `training` queue: BullMQ runs it in a child process, so
 * feature extraction, detector training and the onnxruntime check never touch the event loop of
 * the process that hosts the queue worker (the gateway when workers are embedded), and a child
 * that crashes or is killed mid-job costs one job attempt, never that process. The child opens
 * its own Mongo connection, reused across the jobs it runs.
 */
import type { Job } from 'bullmq';
import { MongoClient, type Db } from 'mongodb';
import { VigilError } from '../protocol/errors.ts';
import { dataCipher } from '../src/crypto/data-cipher.ts';
import { loadBackground, type BackgroundPopulation } from '../src/biometrics/background/background-population.ts';
import { EnrollmentStore } from '../src/biometrics/enrollment/enrollment-store.ts';
import { poolAccountsOf } from '../src/biometrics/cohort/cohort-pool.ts';
import { NO_BACKGROUND } from '../src/biometrics/cohort/training-cohort.ts';
import { runTrainingJob, type TrainingOutcome } from '../src/biometrics/enrollment/training-job.ts';
import { ModelStore } from '../src/biometrics/models/model-store.ts';
import type { TrainingJob } from '../src/storage/queues.ts';
import { inheritedTrainingSettings } from './training-settings.ts';

/** What a sandboxed job rejects with when retrying cannot help; the parent reads `name` and `code`. */
export interface TrainingFailure {
  name: 'UnrecoverableError';
  message: string;
  code: VigilError['code'];
  params: VigilError['params'];
}

const config = inheritedTrainingSettings();
// A parent killed outright (SIGKILL) leaves this child running: its Mongo connection keeps the
// event loop alive. Whatever it was training is taken over by another worker once the job lock
// expires, and nobody could hear its result, so it leaves with its parent.
process.on('disconnect', () => process.exit(0));
const cipher = dataCipher(config);
let db: Promise<Db> | undefined;
let background: Promise<BackgroundPopulation | undefined> | undefined;

function database(): Promise<Db> {
  db ??= (async () => {
    const client = new MongoClient(config.MONGO_URL, {
      serverSelectionTimeoutMS: 5_000,
      maxPoolSize: 2,
      appName: 'vigil-training',
    });
    await client.connect();
    return client.db(config.MONGO_DB ?? (new URL(config.MONGO_URL).pathname.slice(1) || 'vigil'));
  })().catch((err: unknown) => {
    db = undefined;
    throw err;
  });
  return db;
}

export default async function train(job: Job<TrainingJob>): Promise<TrainingOutcome> {
  const store = await database();
  // Read once per child; a missing or malformed file fails the job loudly (and is retried).
  background ??= loadBackground(config.VIGIL_BIOMETRIC_BACKGROUND).catch((err: unknown) => {
    background = undefined;
    throw err;
  });
  try {
    return await runTrainingJob(
      {
        enrollments: new EnrollmentStore(store, cipher),
        models: new ModelStore(store, cipher),
        accounts: poolAccountsOf(store),
        // Screening's population: the shipped background enters through options.background (fills small cohorts).
        background: NO_BACKGROUND,
        options: {
          cohortMembers: config.VIGIL_BIOMETRIC_COHORT_MEMBERS,
          defaultDetector: config.VIGIL_BIOMETRIC_DETECTOR,
          defaultRowsDetector: config.VIGIL_BIOMETRIC_ROWS_DETECTOR,
          background: await background,
          pool: {
            vetting: config.VIGIL_BIOMETRIC_COHORT_VETTING,
            minAccountAgeSeconds: config.VIGIL_BIOMETRIC_COHORT_MIN_ACCOUNT_AGE_SECONDS,
            perSignupIpDaily: config.VIGIL_BIOMETRIC_COHORT_PER_SIGNUP_IP_DAILY,
          },
        },
      },
      job.data,
      (fraction) => job.updateProgress(Math.round(fraction * 1000) / 1000),
    );
  } catch (err) {
    // Catalogued errors are about the data (too small, not finite, graph refused): final.
    if (err instanceof VigilError) {
      const failure = new Error(err.message) as Error & TrainingFailure;
      failure.name = 'UnrecoverableError';
      failure.code = err.code;
      failure.params = err.params;
      throw failure;
    }
    throw err;
  }
}
