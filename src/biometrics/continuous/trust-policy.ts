import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { TrustDecision, VerdictDecision } from '../../../protocol/biometrics.ts';
import { VigilError } from '../../../protocol/errors.ts';
import type { HookControlMessage } from '../../realtime/channel-hooks.ts';
import type { TokenResolver } from '../../realtime/stream-auth.ts';
import { errorMessage, type StepUpReason } from '../../../protocol/messages.ts';
import type { AuditContext, AuditLog } from '../../audit/audit-log.ts';
import type { Logger } from '../../observability/logger.ts';
import { toVigilError } from '../../storage/dependency-errors.ts';
import type { SessionRecord } from '../../sessions/session-service.ts';
import type { DueSession, OwedStepUp, SessionTrustStore } from '../assurance/session-trust.ts';
import type { ContinuousConnection } from './continuous-connection.ts';
import type { ContinuousMetrics } from './continuous-metrics.ts';

/** Second factors that prove a step-up alone (the login concern's StepUpFactors). */
export interface StepUpProofs {
  methods(userId: string): Promise<Array<'totp' | 'recovery_code' | 'passkey'>>;
  /** Options for navigator.credentials.get(), with a challenge bound to this session's step-up. */
  passkeyOptions(userId: string, sessionId: string): Promise<{ options: { challenge: string }; expiresIn: number }>;
  provePasskey(userId: string, sessionId: string, response: AuthenticationResponseJSON, meta: AuditContext): Promise<void>;
  /** An authenticator code shown no earlier than `notBeforeMs`. */
  proveTotp(userId: string, code: string, notBeforeMs: number, meta: AuditContext): Promise<void>;
}

/** What a decision triggers. `genuine` always only notifies (the verdict itself). */
export type PolicyAction = 'notify' | 'step-up' | 'revoke';

export interface PolicyConfig {
  /** VIGIL_CV_POLICY_UNCERTAIN, default notify. */
  uncertain: PolicyAction;
  /** VIGIL_CV_POLICY_IMPOSTOR, default step-up. */
  impostor: PolicyAction;
  /** VIGIL_CV_STEPUP_TIMEOUT_SECONDS: time to prove after `stepup.required`, default 120. */
  stepUpTimeoutSeconds: number;
  /**
   * VIGIL_CV_STEPUP_TIMEOUT_ACTION: what an unproven step-up ends. `revoke` (default): the
   * session, so the HTTP API and refresh stop too; `close`: only the socket.
   */
  stepUpTimeoutAction: 'revoke' | 'close';
}

/** A reconnect after the deadline still gets this long to present a proof it already made. */
const LATE_PROOF_GRACE_MS = 10_000;
/** Due step-ups taken per sweep at most; the rest wait for the next one. */
const DUE_BATCH = 100;

/** What the policy needs from the session concern (SessionService provides it). */
export interface PolicySessions {
  get(sessionId: string): Promise<SessionRecord | undefined>;
  revoke(userId: string, sessionId: string, reason: string, audit?: AuditContext): Promise<boolean>;
}

/** Where a decision came from, for the client and the audit trail. */
export interface DecisionContext {
  stream: number;
  window: number;
  trust: number;
  modelVersion: number;
}

/** A step-up this socket is waiting for. */
export interface PendingStepUp {
  /** Logins (sessions created) from this moment on prove the holder (epoch ms). */
  requestedAt: number;
  reason: StepUpReason;
  deadline: number;
  timer: NodeJS.Timeout;
  /** A `stepup` proof is being checked: a second one waits for its answer. */
  checking: boolean;
  /** Sends `stepup.required` (again, with a new passkey challenge after a refused passkey proof). */
  ask?: () => void;
}

type StepUpMethod = 'password' | 'code' | 'totp' | 'passkey';

const round = (value: number) => Math.round(value * 1e4) / 1e4;

/**
 * Acts on trust decisions by configuration: notify only (the verdict), demand a step-up, or
 * revoke the session and close with STREAM_POLICY_FAILED. Acts on a decision when a stream
 * enters it, not on every window. Every step-up, revocation and impostor decision is audited.
 *
 * Step-up: the server sends `stepup.required`; the client logs in again over HTTP (password or
 * one-time code: a new session whose creation time proves a fresh credential) and sends that
 * session's access token in a `stepup` message. A token of the socket's own session (e.g. from a
 * refresh) proves nothing and is refused. On success every stream's trust restarts, the proof
 * session is ended and `stepup.passed` is sent; without a proof by the deadline the socket
 * closes with STREAM_STEPUP_TIMEOUT and, by default, the session is revoked (HTTP and refresh
 * stop too). An unproven step-up is kept in Redis for the session with its deadline, so a
 * reconnect is asked again at once, by the same deadline, instead of starting from fresh trust,
 * and a session none of whose sockets is left at the deadline is revoked by `revokeUnproven`.
 */
export class TrustPolicy {
  constructor(
    private readonly deps: {
      config: PolicyConfig;
      sessions: PolicySessions;
      tokens: TokenResolver;
      audit: AuditLog;
      trust: SessionTrustStore;
      logger: Logger;
      metrics: ContinuousMetrics;
      /** The account's second factors: listed in `stepup.required`, and each proves a step-up alone. */
      stepUpFactors?: StepUpProofs;
      /** A step-up of the socket's session was proven (here or, once this socket's deadline came, elsewhere). */
      onPassed?(state: ContinuousConnection): void;
    },
  ) {}

  get config(): PolicyConfig {
    return this.deps.config;
  }

  /** How long after its deadline a reconnect may still present a proof it already made. */
  private get lateProofGraceMs(): number {
    return Math.min(LATE_PROOF_GRACE_MS, this.deps.config.stepUpTimeoutSeconds * 1000);
  }

  /** A step-up the session still owes from an earlier socket, read at authentication. */
  owedStepUp(sessionId: string): Promise<OwedStepUp | undefined> {
    return this.deps.trust.owedStepUp(sessionId);
  }

  /** A stream's decision changed to `decision`. */
  onDecision(state: ContinuousConnection, verdict: VerdictDecision, context: DecisionContext): void {
    if (verdict === 'genuine') return;
    // A replayed recording is someone else presenting the owner's data: an impostor.
    const decision: TrustDecision = verdict === 'replay' ? 'impostor' : verdict;
    const action = this.deps.config[decision];
    this.deps.metrics.policyActions.inc({ action });
    if (action === 'notify') {
      // An impostor decision is a security event even when the deployment only notifies.
      if (decision === 'impostor') this.audit(state, 'notify', decision, context);
      return;
    }
    if (action === 'step-up') {
      this.requireStepUp(state, decision, context.stream, context.trust, Date.now());
      this.audit(state, 'step-up', decision, context);
      return;
    }
    this.revoke(state, decision, context);
  }

  /** Right after `ready`: ask again for a step-up this session still owes. */
  onReady(state: ContinuousConnection): void {
    const owed = state.owedStepUp;
    state.owedStepUp = undefined;
    if (owed) this.askOwed(state, owed);
  }

  /** Asks this socket for a step-up its session owes (already stored), unless it was asked already. */
  askOwed(state: ContinuousConnection, owed: OwedStepUp): void {
    if (!state.conn.isOpen) return;
    // The deadline is the session's, not the socket's: reconnecting does not buy time.
    const deadline = Math.max(owed.deadline, Date.now() + this.lateProofGraceMs);
    this.requireStepUp(state, owed.reason, undefined, state.lowestTrust(), owed.requestedAt, deadline);
  }

  /**
   * Ends every session whose step-up fell due unproven, whether or not a socket of it is open
   * anywhere: hanging up when asked must not keep the session (nor the HTTP API and refresh).
   * A socket holding the step-up acts at the deadline itself; this takes over once the grace
   * a reconnect gets to present a proof has passed too. Run by every process; never rejects.
   */
  async revokeUnproven(now = Date.now()): Promise<number> {
    const { trust, sessions, config, logger } = this.deps;
    const grace = this.lateProofGraceMs;
    let revoked = 0;
    let due: DueSession[];
    try {
      due = await trust.claimDue(now - grace, DUE_BATCH);
    } catch (err) {
      logger.warn({ err }, 'step-ups due could not be read; trying again');
      return 0;
    }
    for (const { userId, sessionId } of due) {
      try {
        const owed = await trust.owedStepUp(sessionId);
        if (!owed) continue; // proven meanwhile
        // A reconnect moved the deadline while we claimed the old one.
        if (owed.deadline + grace > now) {
          await trust.due(userId, sessionId, owed.deadline);
          continue;
        }
        if (config.stepUpTimeoutAction !== 'revoke') continue;
        if (!(await sessions.revoke(userId, sessionId, 'stepup_timeout', { sessionId }))) continue;
        revoked++;
        this.deps.metrics.policyActions.inc({ action: 'step-up-timeout' });
        void this.deps.audit.record('biometric.stepup', 'failure', {
          userId,
          sessionId,
          detail: { outcome: 'timeout', seconds: config.stepUpTimeoutSeconds, action: 'revoke', socket: false },
        });
      } catch (err) {
        logger.warn({ err, sessionId }, 'an unproven step-up could not revoke its session; trying again');
        // Back in the index for the next sweep (Redis may be away for this too).
        await trust.due(userId, sessionId, now - grace).catch(() => undefined);
      }
    }
    return revoked;
  }

  onDisconnect(state: ContinuousConnection): void {
    if (state.stepUp) clearTimeout(state.stepUp.timer);
    state.stepUp = undefined;
  }

  /** A `stepup` message: check the proof and lift the step-up. */
  onStepUp(state: ContinuousConnection, message: HookControlMessage): void {
    void this.checkProof(state, message); // never rejects: a bad proof is answered on the socket
  }

  private requireStepUp(
    state: ContinuousConnection,
    reason: StepUpReason,
    stream: number | undefined,
    trust: number,
    requestedAt: number,
    deadline = Date.now() + this.deps.config.stepUpTimeoutSeconds * 1000,
  ): void {
    if (state.stepUp) return; // already asked; the first deadline stands
    const { stepUpTimeoutSeconds } = this.deps.config;
    const timer = setTimeout(() => this.timedOut(state), Math.max(0, deadline - Date.now()));
    timer.unref();
    state.stepUp = { requestedAt, reason, deadline, timer, checking: false };
    this.deps.trust
      .owe(state.userId, state.sessionId, { requestedAt, reason, deadline })
      .catch((err: unknown) => this.deps.logger.warn({ err, sessionId: state.sessionId }, 'pending step-up not remembered'));
    const send = (methods: StepUpMethod[], passkey?: { options: { challenge: string }; expiresIn: number }) => {
      if (!state.conn.isOpen) return;
      state.conn.send({
        type: 'stepup.required',
        reason,
        ...(stream !== undefined ? { stream } : {}),
        trust: round(trust),
        deadline,
        timeoutSeconds: stepUpTimeoutSeconds,
        methods,
        ...(passkey ? { passkey } : {}),
      });
    };
    const factors = this.deps.stepUpFactors;
    if (!factors) return send(['password', 'code']);
    const ask = () => {
      // The deadline already runs; an unreachable store still asks, naming what every account has.
      void (async () => {
        const has = await factors.methods(state.userId);
        const methods: StepUpMethod[] = ['password', 'code'];
        if (has.includes('totp')) methods.push('totp');
        if (!has.includes('passkey')) return send(methods);
        methods.push('passkey');
        send(methods, await factors.passkeyOptions(state.userId, state.sessionId));
      })().catch(() => send(['password', 'code']));
    };
    state.stepUp.ask = ask;
    ask();
  }

  /**
   * This socket's deadline came. The step-up is the session's: proven on another socket
   * meanwhile, it is lifted here too; a later one the session owes now sets this socket's
   * deadline. Unreadable (Redis away), it stands.
   */
  private timedOut(state: ContinuousConnection): void {
    const pending = state.stepUp;
    if (!pending || !state.conn.isOpen) return;
    const current = () => state.stepUp === pending && state.conn.isOpen;
    this.deps.trust
      .owedStepUp(state.sessionId)
      .then(
        (owed) => {
          if (!current()) return;
          if (!owed) return this.liftedElsewhere(state);
          if (owed.deadline <= Date.now()) return this.expire(state);
          pending.deadline = owed.deadline;
          pending.timer = setTimeout(() => this.timedOut(state), owed.deadline - Date.now());
          pending.timer.unref();
        },
        () => current() && this.expire(state),
      )
      .catch((err: unknown) => this.deps.logger.error({ err, sessionId: state.sessionId }, 'step-up deadline not handled'));
  }

  /** Proven on another socket of the session: this one starts over too. */
  private liftedElsewhere(state: ContinuousConnection): void {
    state.stepUp = undefined;
    state.conn.send({ type: 'stepup.passed', trust: state.restartTrust() });
    this.deps.onPassed?.(state);
  }

  private expire(state: ContinuousConnection): void {
    const seconds = this.deps.config.stepUpTimeoutSeconds;
    state.stepUp = undefined;
    this.deps.metrics.policyActions.inc({ action: 'step-up-timeout' });
    const action = this.deps.config.stepUpTimeoutAction;
    void this.deps.audit.record('biometric.stepup', 'failure', {
      ...this.auditContext(state),
      detail: { outcome: 'timeout', seconds, action },
    });
    // Close first with the step-up code: the revocation that follows closes the session's other sockets.
    state.conn.close('STREAM_STEPUP_TIMEOUT', { seconds });
    if (action !== 'revoke') return;
    this.deps.sessions
      .revoke(state.userId, state.sessionId, 'stepup_timeout', { ip: state.conn.ip, sessionId: state.sessionId })
      .catch((err: unknown) =>
        this.deps.logger.error({ err, sessionId: state.sessionId }, 'an unproven step-up could not revoke the session'),
      );
  }

  private async checkProof(state: ContinuousConnection, message: HookControlMessage): Promise<void> {
    const pending = state.stepUp;
    const refuse = (error: VigilError) => {
      state.conn.send(errorMessage(error, 'stepup'));
    };
    if (!pending) return refuse(new VigilError('STEPUP_INVALID', { reason: 'no step-up is pending on this socket' }));
    if (pending.checking) return refuse(new VigilError('STEPUP_INVALID', { reason: 'a step-up proof is already being checked' }));
    const given = [message.token, message.code, message.passkey].filter((v) => v !== undefined).length;
    if (given !== 1) {
      return refuse(new VigilError('STEPUP_INVALID', { reason: 'send exactly one of token, code or passkey' }));
    }
    pending.checking = true;
    let proof: SessionRecord | undefined;
    const method = message.token !== undefined ? 'login' : message.code !== undefined ? 'totp' : 'passkey';
    const factors = this.deps.stepUpFactors;
    try {
      if (method !== 'login') {
        if (!factors) throw new VigilError('STEPUP_INVALID', { reason: 'only a fresh login proves a step-up here' });
        const meta = { ip: state.conn.ip, sessionId: state.sessionId };
        if (message.code !== undefined) await factors.proveTotp(state.userId, message.code, pending.requestedAt, meta);
        else await factors.provePasskey(state.userId, state.sessionId, message.passkey as AuthenticationResponseJSON, meta);
      } else {
        const token = message.token!;
        const principal = await this.deps.tokens.resolve(token);
        if (principal.userId !== state.userId)
          throw new VigilError('STEPUP_INVALID', { reason: 'the token belongs to another account' });
        if (principal.sessionId === state.sessionId) {
          throw new VigilError('STEPUP_INVALID', { reason: 'a token of this same session proves nothing; log in again' });
        }
        proof = await this.deps.sessions.get(principal.sessionId);
        if (!proof || proof.createdAt < pending.requestedAt) {
          throw new VigilError('STEPUP_INVALID', { reason: 'the login must be newer than the step-up request' });
        }
      }
    } catch (err) {
      pending.checking = false;
      const error = toVigilError(err);
      this.deps.metrics.policyActions.inc({ action: 'step-up-refused' });
      void this.deps.audit.record('biometric.stepup', 'failure', {
        ...this.auditContext(state),
        detail: { outcome: 'refused', code: error.code, method },
      });
      refuse(error);
      // The passkey challenge was spent by the refused answer: a new one for the next try.
      if (method === 'passkey' && state.stepUp === pending) pending.ask?.();
      return;
    }
    if (state.stepUp !== pending || !state.conn.isOpen) return; // timed out or closed meanwhile
    clearTimeout(pending.timer);
    state.stepUp = undefined;
    const trust = state.restartTrust();
    this.deps.metrics.policyActions.inc({ action: 'step-up-passed' });
    state.conn.send({ type: 'stepup.passed', trust });
    this.deps.onPassed?.(state);
    this.deps.trust
      .passed(state.sessionId, trust)
      .catch((err: unknown) => this.deps.logger.warn({ err, sessionId: state.sessionId }, 'passed step-up not forgotten'));
    void this.deps.audit.record('biometric.stepup', 'success', {
      ...this.auditContext(state),
      detail: proof ? { outcome: 'passed', proofSessionId: proof.id, method } : { outcome: 'passed', method },
    });
    if (!proof) return;
    const proofId = proof.id;
    // The proof session did its job; it must not linger as a second login of the device.
    this.deps.sessions
      .revoke(state.userId, proofId, 'stepup_proof', { ip: state.conn.ip })
      .catch((err: unknown) => this.deps.logger.warn({ err, sessionId: proofId }, 'step-up proof session not ended'));
  }

  private revoke(state: ContinuousConnection, decision: TrustDecision, context: DecisionContext): void {
    this.audit(state, 'revoke', decision, context);
    // Close first, with the policy code: the revocation that follows closes this session's other sockets with TOKEN_REVOKED.
    state.conn.close('STREAM_POLICY_FAILED', {
      reason: `stream ${context.stream} reads ${decision} (trust ${round(context.trust)} after window ${context.window})`,
    });
    this.deps.sessions
      .revoke(state.userId, state.sessionId, 'biometric_policy', { ip: state.conn.ip, sessionId: state.sessionId })
      .catch((err: unknown) =>
        this.deps.logger.error({ err, sessionId: state.sessionId }, 'continuous verification could not revoke the session'),
      );
  }

  private audit(state: ContinuousConnection, action: PolicyAction, decision: TrustDecision, context: DecisionContext): void {
    void this.deps.audit.record('biometric.policy_action', 'success', {
      ...this.auditContext(state),
      detail: {
        action,
        decision,
        stream: context.stream,
        window: context.window,
        trust: round(context.trust),
        modelVersion: context.modelVersion,
      },
    });
  }

  private auditContext(state: ContinuousConnection): { userId: string; sessionId: string; ip: string } {
    return { userId: state.userId, sessionId: state.sessionId, ip: state.conn.ip };
  }
}
