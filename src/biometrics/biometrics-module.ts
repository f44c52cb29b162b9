import { availableParallelism } from 'node:os';
import { VigilError } from '../../protocol/errors.ts';
import type { AccountService } from '../identity/accounts/account-service.ts';
import type { PasswordService } from '../identity/credentials/password-service.ts';
import type { StepUpProofs } from './continuous/trust-policy.ts';
import type { GatewayContext } from '../server/context.ts';
import type { Authenticator } from '../server/http/route.ts';
import type { GatewayModule } from '../server/gateway-module.ts';
import type { Principal } from '../server/http/principal.ts';
import { createTrainingQueue } from '../storage/queues.ts';
import { connectRedis, createRedis } from '../storage/redis.ts';
import { startTrainingWorker, type TrainingWorker } from '../../workers/training-worker.ts';
import type { ScoringFaults } from './scoring-faults.ts';
import type { Notifier } from '../notify/notifier.ts';
import { dataCipher } from '../crypto/data-cipher.ts';
import { GenuineEvidenceStore } from './assurance/genuine-evidence.ts';
import { ModelChangeProofs } from './assurance/model-change-proof.ts';
import { OwnerChanges } from './assurance/owner-change.ts';
import { MATCH_SHARE, ReplayIndexes } from './assurance/replay-index.ts';
import { SessionTrustStore } from './assurance/session-trust.ts';
import { biometricRoutes } from './biometric-routes.ts';
import { BiometricService } from './biometric-service.ts';
import { EnrollmentEvents } from './enrollment/enrollment-events.ts';
import { EnrollmentReconciler } from './enrollment/enrollment-reconciler.ts';
import { EnrollmentStore } from './enrollment/enrollment-store.ts';
import { ModelStore } from './models/model-store.ts';
import { ScoringPool } from './scoring-pool.ts';
import { UploadDecoder } from './uploads/upload-decoder.ts';

/** Open enrolments untouched this long are deleted with their samples (checked hourly). */
const ABANDONED_AFTER_MS = 24 * 3600 * 1000;
const SWEEP_INTERVAL_MS = 3600 * 1000;
/** How often enrolments whose Mongo state and training queue disagree (after a crash) are repaired. */
const RECONCILE_INTERVAL_MS = 30_000;
/** A session that stays genuine rewrites its evidence this often at most (not once per window). */

export interface BiometricsModule extends GatewayModule {
  /** Other concerns (socket channel, legacy dialect A) and tests reach the service here. */
  readonly service: BiometricService;
  /** Repairs enrolments a crash left between Mongo and the queue (run by the sweeper; tests call it). */
  readonly reconciler: EnrollmentReconciler;
}

export interface Biometrics {
  service: BiometricService;
  /** The fresh-proof rule for changing the model (routes, socket enrolment, dialect A). */
  ownerChanges: OwnerChanges;
  /** Trust and owed step-ups per session, shared with continuous verification. */
  sessionTrust: SessionTrustStore;
  /** When each session last read genuine (continuous verification writes it, model changes read it). */
  genuineEvidence: GenuineEvidenceStore;
  /** Fingerprints of what each account sent (enrolment, streams), for replay detection. */
  replay: ReplayIndexes;
  module: BiometricsModule;
}

/**
 * Scoring threads: VIGIL_SCORING_THREADS, or one per core. Not cores − 1: the event loop is
 * mostly waiting on sockets, and with 10,000 streaming devices on 2 cores a second scoring
 * thread cut verdict p99 from 103 to 33 ms (docs/benchmarks.md).
 */
export function scoringThreads(configured: number): number {
  return configured > 0 ? configured : Math.max(1, availableParallelism());
}

/**
 * The biometric concern: enrolment and model stores, the training queue (and its
 * worker when VIGIL_EMBEDDED_WORKERS), the process's one Piscina scoring pool, enrolment events
 * over Redis pub/sub, the `/v1/biometrics/*` routes. Withdrawn accounts lose their models.
 */
export function createBiometrics(
  ctx: GatewayContext,
  deps: {
    accounts: AccountService;
    authenticator: Authenticator<Principal>;
    sessions: { loginProof(sessionId: string, userId: string): Promise<{ ageMs: number }> };
    notifier: Notifier;
    /** The current-password check (re-authentication for replacing or deleting a model). */
    passwords: Pick<PasswordService, 'assertCurrentPassword'>;
    /** Authenticator codes as a step-up checks them (the login concern's). */
    factors?: Pick<StepUpProofs, 'proveTotp' | 'methods'> | undefined;
    /** Planted scoring faults (a test gateway's StartOptions.scoringFaults); they crash real workers. */
    scoringFaults?: ScoringFaults | undefined;
  },
): Biometrics {
  const { config, logger, mongo } = ctx;
  const sessionTrust = new SessionTrustStore(ctx.redis, config.VIGIL_SESSION_ABSOLUTE_TTL_SECONDS);
  // Samples, graphs and parameters are sealed at rest under VIGIL_BIOMETRIC_KEYS (required in production).
  const cipher = dataCipher(config);
  const enrollments = new EnrollmentStore(mongo.db, cipher);
  const models = new ModelStore(mongo.db, cipher);
  const maxAgeSeconds = config.VIGIL_BIOMETRIC_PROOF_MAX_AGE_SECONDS;
  // Short, unlike the login's age: evidence inherited by a thief who grabbed a device that read
  // genuine lasts this long; rewritten four times as often while the session stays genuine.
  const genuineSeconds = config.VIGIL_BIOMETRIC_GENUINE_PROOF_SECONDS;
  const genuineEvidence = new GenuineEvidenceStore(ctx.redis, ctx.clock, genuineSeconds, (genuineSeconds * 1000) / 4);
  const ownerChanges = new OwnerChanges({
    sessions: deps.sessions,
    trust: sessionTrust,
    accounts: deps.accounts,
    notifier: deps.notifier,
    audit: ctx.audit,
    logger,
    maxAgeSeconds,
    proofs: new ModelChangeProofs({
      currentVersion: async (userId) => (await models.latest(userId))?.version,
      evidence: genuineEvidence,
      accounts: deps.accounts,
      passwords: deps.passwords,
      factors: deps.factors,
      rateLimiter: ctx.rateLimiter,
      loginPerIp: { limit: config.VIGIL_LOGIN_PER_IP, windowSeconds: config.VIGIL_LOGIN_WINDOW_SECONDS },
      maxAgeSeconds: genuineSeconds,
    }),
  });
  const queue = createTrainingQueue(config);
  queue.on('error', (err: Error) => logger.warn({ err: err.message }, 'training queue error'));
  const subscriber = createRedis(config, 'vigil-biometric-events');
  subscriber.on('error', (err: Error) => logger.warn({ err: err.message }, 'biometric events redis error'));
  const events = new EnrollmentEvents(subscriber, config.REDIS_PREFIX, logger);
  const decoder = new UploadDecoder();
  let pool: ScoringPool | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let reconciling: NodeJS.Timeout | undefined;
  const reconciler = new EnrollmentReconciler({ enrollments, queue, logger });
  let worker: TrainingWorker | undefined;

  const replay = new ReplayIndexes(
    ctx.redis,
    {
      enabled: config.VIGIL_CV_REPLAY_DETECTION,
      quantum: config.VIGIL_CV_REPLAY_QUANTUM,
      matchShare: MATCH_SHARE,
      ttlSeconds: 180 * 86_400,
    },
    (err) => logger.warn({ err }, 'replay fingerprints not stored'),
  );
  const service = new BiometricService({
    enrollments,
    models,
    queue,
    pool: () => {
      if (!pool) throw new VigilError('SCORING_FAILED', { reason: 'the scoring pool is not running' });
      return pool;
    },
    events,
    decoder,
    redis: ctx.redis,
    audit: ctx.audit,
    ownerChanges,
    replay,
    rateLimiter: ctx.rateLimiter,
    logger,
    options: {
      enrollmentsPerHour: config.VIGIL_BIOMETRIC_ENROLLMENTS_PER_HOUR,
      verifyPerMinute: config.VIGIL_BIOMETRIC_VERIFY_PER_MINUTE,
      verifyWindowsPerHour: config.VIGIL_BIOMETRIC_VERIFY_WINDOWS_PER_HOUR,
      maxVerifyWindows: config.VIGIL_BIOMETRIC_MAX_VERIFY_WINDOWS,
      redisPrefix: config.REDIS_PREFIX,
    },
  });

  // A withdrawn account's samples and models go with it (its id stays for the audit trail).
  deps.accounts.onWithdrawn(async ({ account, meta }) => {
    await service.deleteAll(account.id, { ...meta, reason: 'account withdrawn' });
  });

  return {
    service,
    ownerChanges,
    sessionTrust,
    genuineEvidence,
    replay,
    module: {
      name: 'biometrics',
      service,
      reconciler,
      routes: biometricRoutes({
        service,
        owner: ownerChanges,
        auth: deps.authenticator,
        admin: ctx.admin,
        uploadLimit: config.UPLOAD_BODY_LIMIT,
      }),
      async start() {
        await enrollments.ensureIndexes();
        await models.ensureIndexes();
        await connectRedis(subscriber, 15_000);
        await events.start();
        pool = new ScoringPool({
          threads: scoringThreads(config.VIGIL_SCORING_THREADS),
          maxBatch: config.VIGIL_SCORING_MAX_BATCH,
          maxSessionsPerWorker: config.VIGIL_SCORING_SESSIONS_PER_WORKER,
          taskTimeoutMs: config.VIGIL_SCORING_TIMEOUT_MS,
          faults: deps.scoringFaults,
        });
        if (config.VIGIL_EMBEDDED_WORKERS) worker = await startTrainingWorker(config, logger.child({ component: 'training' }));
        // No TTL indexes on FerretDB: enrolments opened and never committed are swept here.
        sweeper = setInterval(() => {
          enrollments
            .sweepAbandoned(new Date(Date.now() - ABANDONED_AFTER_MS))
            .then((n) => n > 0 && logger.info({ enrollments: n }, 'abandoned open enrolments deleted'))
            .catch((err: unknown) => logger.warn({ err }, 'sweeping abandoned enrolments failed'));
        }, SWEEP_INTERVAL_MS);
        sweeper.unref();
        // A status read only reads; repairs after crashes happen here.
        reconciling = setInterval(() => {
          reconciler.sweep().catch((err: unknown) => logger.warn({ err }, 'reconciling enrolments failed'));
        }, RECONCILE_INTERVAL_MS);
        reconciling.unref();
      },
      async close() {
        if (sweeper) clearInterval(sweeper);
        if (reconciling) clearInterval(reconciling);
        await worker?.close();
        await pool?.close();
        await decoder.close();
        await events.close();
        await queue.close();
      },
    },
  };
}
