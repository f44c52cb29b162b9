import type { VerdictDecision } from '../../../protocol/biometrics.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { Logger } from '../../observability/logger.ts';
import type { SessionEvidenceStore } from '../assurance/session-evidence.ts';
import type { OwedStepUp, SessionTrustStore } from '../assurance/session-trust.ts';
import type { ContinuousConnection } from './continuous-connection.ts';
import type { ContinuousMetrics } from './continuous-metrics.ts';
import type { SessionStanding, SessionStandings } from './session-standing.ts';

/**
 * VIGIL_CV_EVIDENCE_POLICY, default `streamed`: a session is watched from its first scored window
 * on; `always`: from its creation (every session of an account with a model must stream); `off`.
 */
export type EvidenceMode = 'off' | 'streamed' | 'always';

export interface EvidenceConfig {
  mode: EvidenceMode;
  /** VIGIL_CV_EVIDENCE_MAX_GAP_SECONDS: longest a watched session may go without a scored window, default 180. */
  maxGapSeconds: number;
  /** VIGIL_CV_STEPUP_TIMEOUT_SECONDS: the deadline of the step-up silence asks for. */
  stepUpTimeoutSeconds: number;
}

/** Sessions due taken per sweep, and held sessions checked per tick, at most; the rest wait for the next one. */
const DUE_BATCH = 100;
/** A check or judgement that failed (Redis or Mongo away) is tried again this much later. */
const RETRY_MS = 5_000;

/** What the policy needs besides its store. */
export interface EvidenceDeps {
  config: EvidenceConfig;
  store: SessionEvidenceStore;
  trust: Pick<SessionTrustStore, 'owe' | 'owedStepUp'>;
  standings: SessionStandings;
  /** Whether the session is live (an ended one is never judged). */
  sessionLive(sessionId: string): Promise<boolean>;
  /** Whether the account has a model to stream against (none: nothing to show, nothing owed). */
  hasModel(userId: string): Promise<boolean>;
  /** Asks a socket for the step-up its session now owes (TrustPolicy.askOwed). */
  ask(state: ContinuousConnection, owed: OwedStepUp): void;
  audit: AuditLog;
  metrics: ContinuousMetrics;
  logger: Logger;
}

/** Only windows that read as the owner (or not clearly not) are evidence of the owner. */
const isEvidence = (decision: VerdictDecision) => decision === 'genuine' || decision === 'uncertain';

/**
 * Evidence must stay fresh: a session watched by continuous verification owes a step-up (reason
 * `silent`) once none of its windows was scored for the gap, whether its holder closed the
 * stream, hung up, broke every window with sequence gaps or flooded until windows were dropped.
 *
 * Cost: the index (`cv:evidence-due`, one entry per session, scored by when evidence is due) is
 * written at most once per gap/4 per session per process, never per window. Since it may lag the
 * latest window by up to gap/4, a process flushes a session's unwritten evidence once the written
 * deadline is less than gap/4 away, so an owner's pause shorter than the gap is never judged.
 * Two paths act on a due session, both owing idempotently (the step-up store keeps the first):
 * each process checks the sessions it holds sockets of (and asks those sockets), and every
 * process sweeps the index each second for sessions with no socket anywhere.
 */
export class EvidencePolicy {
  private readonly gapMs: number;

  constructor(private readonly deps: EvidenceDeps) {
    this.gapMs = deps.config.maxGapSeconds * 1000;
  }

  get enabled(): boolean {
    return this.deps.config.mode !== 'off';
  }

  /** When the session must next show evidence, read when a socket authenticates. */
  async dueOf(userId: string, sessionId: string): Promise<number | undefined> {
    return this.enabled ? this.deps.store.dueBy(userId, sessionId) : undefined;
  }

  /** A new session (policy `always`): it must stream within the gap from its creation. */
  started(userId: string, sessionId: string, createdAt: number): void {
    if (this.deps.config.mode !== 'always') return;
    this.deps.store
      .expect(userId, sessionId, createdAt + this.gapMs)
      .catch((err: unknown) => this.deps.logger.warn({ err, sessionId }, 'new session not indexed for evidence'));
  }

  /** A socket became ready: its standing learns what the index held for the session. */
  held(standing: SessionStanding, stored: number | undefined, now = Date.now()): void {
    if (!this.enabled) return;
    const clock = standing.evidence;
    if (stored !== undefined) clock.due = Math.max(clock.due ?? 0, stored);
    // Under `always` a session from before the policy (or whose index write failed) is watched from now.
    else if (clock.due === undefined && this.deps.config.mode === 'always') this.write(standing, now, false);
  }

  /** A window of the session was scored with the session now reading `decision`. */
  scored(standing: SessionStanding, decision: VerdictDecision, now = Date.now()): void {
    if (!this.enabled) return;
    const clock = standing.evidence;
    if (isEvidence(decision)) {
      clock.last = now;
      if (clock.due === undefined || now - clock.written >= this.gapMs / 4) this.write(standing, now);
    } else if (clock.due === undefined) {
      // Scored but not evidence (impostor, replay): the session is watched from now all the same.
      this.write(standing, now, false);
    }
  }

  /** A step-up of the session passed: evidence starts over. */
  restarted(standing: SessionStanding, now = Date.now()): void {
    if (this.enabled) this.write(standing, now);
  }

  /** The socket is the session's last here: evidence seen here and not yet written is written now. */
  releasing(standing: SessionStanding): void {
    const clock = standing.evidence;
    if (this.enabled && standing.holders.size === 1 && clock.due !== undefined && clock.last > clock.written) {
      this.write(standing, clock.last);
    }
  }

  /** Each second on every process; never rejects. */
  async tick(now = Date.now()): Promise<void> {
    if (!this.enabled) return;
    const checks: Array<Promise<void>> = [];
    for (const standing of this.deps.standings.values()) {
      const clock = standing.evidence;
      if (clock.due === undefined || clock.checking) continue;
      // Evidence seen here that the index does not hold yet, and the index's deadline is near.
      if (clock.last > clock.written && clock.due - now < this.gapMs / 4) this.write(standing, clock.last);
      else if (clock.due <= now && checks.length < DUE_BATCH) checks.push(this.check(standing, now));
    }
    await Promise.all(checks);
    await this.sweep(now);
  }

  /** A session held here looks silent: the index may know of evidence elsewhere; otherwise it owes. */
  private async check(standing: SessionStanding, now: number): Promise<void> {
    const clock = standing.evidence;
    clock.checking = true;
    try {
      const due = await this.deps.store.dueBy(standing.userId, standing.sessionId);
      if (due !== undefined && due > now) {
        clock.due = due; // another process (another socket of the session) wrote evidence
        return;
      }
      const owed = await this.judge(standing.userId, standing.sessionId, now);
      clock.due = undefined; // watched again once evidence or a passed step-up writes it
      if (owed) for (const holder of standing.holders) this.deps.ask(holder, owed);
    } catch (err) {
      this.deps.logger.warn({ err, sessionId: standing.sessionId }, 'silent session not judged; trying again');
      clock.due = now + RETRY_MS;
    } finally {
      clock.checking = false;
    }
  }

  /** Sessions due with no socket held here (or anywhere): one process takes each from the index. */
  private async sweep(now: number): Promise<void> {
    let due;
    try {
      due = await this.deps.store.claimDue(now, DUE_BATCH);
    } catch (err) {
      this.deps.logger.warn({ err }, 'sessions due for evidence could not be read; trying again');
      return;
    }
    for (const { userId, sessionId } of due) {
      try {
        const owed = await this.judge(userId, sessionId, now);
        const standing = this.deps.standings.get(sessionId);
        if (!owed || !standing) continue;
        standing.evidence.due = undefined;
        for (const holder of standing.holders) this.deps.ask(holder, owed);
      } catch (err) {
        this.deps.logger.warn({ err, sessionId }, 'silent session not judged; trying again');
        await this.deps.store.expect(userId, sessionId, now + RETRY_MS).catch(() => undefined);
      }
    }
  }

  /**
   * The session showed no evidence for the gap: it owes a step-up (or one it owes already stands),
   * unless it ended or its account has no model left. Returns the step-up it owes.
   */
  private async judge(userId: string, sessionId: string, now: number): Promise<OwedStepUp | undefined> {
    const { trust, config } = this.deps;
    const standing = await trust.owedStepUp(sessionId);
    if (standing) return standing;
    if (!(await this.deps.sessionLive(sessionId))) return undefined;
    if (!(await this.deps.hasModel(userId))) return undefined;
    const owed = await trust.owe(userId, sessionId, {
      requestedAt: now,
      reason: 'silent',
      deadline: now + config.stepUpTimeoutSeconds * 1000,
    });
    if (owed.requestedAt === now && owed.reason === 'silent') {
      this.deps.metrics.policyActions.inc({ action: 'step-up-silent' });
      void this.deps.audit.record('biometric.policy_action', 'success', {
        userId,
        sessionId,
        detail: { action: 'step-up', decision: 'silent', maxGapSeconds: config.maxGapSeconds },
      });
    }
    return owed;
  }

  /** Indexes the session as due `gap` after `evidenceAt`; `evidence` false: watched from now without evidence. */
  private write(standing: SessionStanding, evidenceAt: number, evidence = true): void {
    const clock = standing.evidence;
    const due = evidenceAt + this.gapMs;
    clock.due = Math.max(clock.due ?? 0, due);
    if (evidence) clock.written = Math.max(clock.written, evidenceAt);
    const written = clock.written;
    this.deps.store.expect(standing.userId, standing.sessionId, due).catch((err: unknown) => {
      // Redis away: the next window writes again.
      if (clock.written === written) clock.written = 0;
      this.deps.logger.warn({ err, sessionId: standing.sessionId }, 'evidence not indexed');
    });
  }
}
