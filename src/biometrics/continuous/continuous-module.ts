import type { StepUpProofs } from './trust-policy.ts';
import type { Config } from '../../config/schema.ts';
import type { RealtimeChannel } from '../../realtime/realtime-channel.ts';
import type { TokenResolver } from '../../realtime/stream-auth.ts';
import type { GatewayContext } from '../../server/context.ts';
import type { GatewayModule } from '../../server/gateway-module.ts';
import type { GenuineEvidenceStore } from '../assurance/genuine-evidence.ts';
import type { OwnerChanges } from '../assurance/owner-change.ts';
import type { ReplayIndexes } from '../assurance/replay-index.ts';
import type { SessionTrustStore } from '../assurance/session-trust.ts';
import type { BiometricService } from '../biometric-service.ts';
import { resolveTrustConfig } from '../trust.ts';
import { continuousHooks } from './continuous-hooks.ts';
import { createContinuousMetrics } from './continuous-metrics.ts';
import { EnrolmentFollows } from './enrolment-follows.ts';
import { LiveModels } from './live-models.ts';
import type { VerifierEnv } from './stream-verifier.ts';
import { TrustPolicy, type PolicyConfig, type PolicySessions } from './trust-policy.ts';
import { WindowBatcher, type WindowBatcherOptions } from './window-batcher.ts';
import { SessionStandings } from './session-standing.ts';
import { EvidencePolicy, type EvidenceConfig } from './evidence-policy.ts';
import { SessionEvidenceStore } from '../assurance/session-evidence.ts';
import { toVigilError } from '../../storage/dependency-errors.ts';

export function evidenceConfig(config: Config): EvidenceConfig {
  return {
    mode: config.VIGIL_CV_EVIDENCE_POLICY,
    maxGapSeconds: config.VIGIL_CV_EVIDENCE_MAX_GAP_SECONDS,
    stepUpTimeoutSeconds: config.VIGIL_CV_STEPUP_TIMEOUT_SECONDS,
  };
}

/** How often each process looks for step-ups that fell due with no socket to act on them. */
const STEPUP_SWEEP_MS = 1_000;

export interface ContinuousModule extends GatewayModule {
  /** The process's micro-batcher once started (tests inject scoring faults through it). */
  readonly batcher: WindowBatcher | undefined;
  readonly models: LiveModels;
  /** Where each session with a socket on this process stands (tests check none is left behind). */
  readonly standings: SessionStandings;
}

export function batcherOptions(config: Config): WindowBatcherOptions {
  return {
    batchSize: config.VIGIL_CV_BATCH_SIZE,
    deadlineMs: config.VIGIL_CV_BATCH_DEADLINE_MS,
    maxPendingWindows: Math.max(config.VIGIL_CV_MAX_PENDING_WINDOWS, config.VIGIL_CV_BATCH_SIZE),
    rows: config.VIGIL_CV_FEATURES === 'main' ? 'features' : 'samples',
  };
}

export function policyConfig(config: Config): PolicyConfig {
  return {
    uncertain: config.VIGIL_CV_POLICY_UNCERTAIN,
    impostor: config.VIGIL_CV_POLICY_IMPOSTOR,
    stepUpTimeoutSeconds: config.VIGIL_CV_STEPUP_TIMEOUT_SECONDS,
    stepUpTimeoutAction: config.VIGIL_CV_STEPUP_TIMEOUT_ACTION,
  };
}

/**
 * Continuous verification: attaches to the realtime channel and scores every
 * verification stream through the biometric service's scoring pool; socket enrolment goes
 * through the same service. Model versions that become ready anywhere (enrolment events over
 * Redis) are swapped into this process's live streams.
 */
export function createContinuousModule(
  ctx: GatewayContext,
  deps: {
    channel: RealtimeChannel;
    biometrics: BiometricService;
    ownerChanges: OwnerChanges;
    sessionTrust: SessionTrustStore;
    /** Where sessions that read genuine say so (for changing the model without a password). */
    genuineEvidence?: GenuineEvidenceStore;
    replay: ReplayIndexes;
    sessions: PolicySessions;
    tokens: TokenResolver;
    /** Where verdicts go besides the socket (the console's live trust feed). */
    onVerdict?: VerifierEnv['onVerdict'];
    /** Second factors: a step-up lists the account's and accepts a proof by one alone. */
    stepUpFactors?: StepUpProofs;
    /** Every new session (SessionService.onStart): policy `always` watches sessions from creation. */
    sessionStarts?(listener: (session: { id: string; userId: string; createdAt: number }) => void): () => void;
  },
): ContinuousModule {
  const { config, logger } = ctx;
  const log = logger.child({ component: 'continuous' });
  const metrics = createContinuousMetrics(ctx.metrics.registry);
  const trust = resolveTrustConfig();
  const models = new LiveModels(deps.biometrics, log, (count) => metrics.models.set(count));
  const standings = new SessionStandings(trust, deps.sessionTrust, deps.genuineEvidence);
  const evidence = new EvidencePolicy({
    config: evidenceConfig(config),
    store: new SessionEvidenceStore(ctx.redis),
    trust: deps.sessionTrust,
    standings,
    sessionLive: async (sessionId) => (await deps.sessions.get(sessionId)) !== undefined,
    hasModel: (userId) =>
      deps.biometrics.model(userId).then(
        () => true,
        (err: unknown) => {
          if (toVigilError(err).code === 'BIOMETRIC_MODEL_MISSING') return false;
          throw err;
        },
      ),
    ask: (state, owed) => policy.askOwed(state, owed),
    audit: ctx.audit,
    metrics,
    logger: log,
  });
  const policy = new TrustPolicy({
    config: policyConfig(config),
    sessions: deps.sessions,
    tokens: deps.tokens,
    audit: ctx.audit,
    trust: deps.sessionTrust,
    logger: log,
    metrics,
    ...(deps.stepUpFactors ? { stepUpFactors: deps.stepUpFactors } : {}),
    onPassed: (state) => state.standing && evidence.restarted(state.standing),
  });
  let batcher: WindowBatcher | undefined;
  const follows = new EnrolmentFollows();
  let unsubscribe: (() => void) | undefined;
  let sweeping: NodeJS.Timeout | undefined;
  let sweep: Promise<unknown> | undefined;
  let evidenceTick: Promise<unknown> | undefined;

  return {
    name: 'continuous',
    models,
    standings,
    get batcher() {
      return batcher;
    },
    async start() {
      // The pool belongs to the biometrics module, which starts first.
      batcher = new WindowBatcher(deps.biometrics.pool, batcherOptions(config), metrics);
      const offReady = deps.biometrics.onEnrollmentEvent((event) => {
        // refresh never rejects: a model that does not load is logged and read again with backoff; streams keep the previous one meanwhile.
        if (event.status === 'ready') void models.refresh(event.userId);
      });
      // DELETE /v1/biometrics/model or withdrawal: live streams stop scoring with the deleted versions.
      const offDeleted = deps.biometrics.onModelsDeleted((event) => void models.dropped(event.userId));
      const offStarts = deps.sessionStarts?.((session) => evidence.started(session.userId, session.id, session.createdAt));
      unsubscribe = () => {
        offReady();
        offDeleted();
        offStarts?.();
      };
      // An owed step-up is the session's: it ends the session at its deadline even if every socket hung up.
      sweeping = setInterval(() => {
        // One of each at a time, apart: a slow evidence check (it reads sessions and models) must not
        // hold back revoking a session whose step-up fell due. Neither rejects.
        sweep ??= policy.revokeUnproven().finally(() => (sweep = undefined));
        evidenceTick ??= evidence.tick().finally(() => (evidenceTick = undefined));
      }, STEPUP_SWEEP_MS);
      sweeping.unref();
      deps.channel.attach(
        continuousHooks({
          models,
          policy,
          evidence,
          metrics,
          trust,
          sessionTrust: deps.sessionTrust,
          standings,
          replay: deps.replay,
          verifier: {
            batcher,
            policy,
            evidence,
            metrics,
            trust,
            lateFrameMs: config.VIGIL_CV_LATE_FRAME_MS,
            replay: deps.replay,
            clockSkewMs: config.VIGIL_CV_CLOCK_SKEW_MS,
            onVerdict: deps.onVerdict,
          },
          enrolment: {
            admission: { open: 0, max: config.VIGIL_CV_MAX_ENROLMENT_STREAMS },
            follows,
            service: deps.biometrics,
            owner: deps.ownerChanges,
            models,
            metrics,
            logger: log,
          },
        }),
      );
    },
    async close() {
      clearInterval(sweeping);
      await Promise.all([sweep, evidenceTick]);
      unsubscribe?.();
      models.close();
      batcher?.close();
      // Before the store closes under them.
      await follows.close();
    },
  };
}
