import { VigilError } from '../../../protocol/errors.ts';
import type { Account } from '../../identity/accounts/account.ts';
import type { AuditContext, AuditLog } from '../../audit/audit-log.ts';
import type { Notifier } from '../../notify/notifier.ts';
import type { BiometricChange } from '../../notify/templates.ts';
import type { Logger } from '../../observability/logger.ts';
import { toVigilError } from '../../storage/dependency-errors.ts';
import type { ModelChangeProofs, Reauthentication } from './model-change-proof.ts';
import type { SessionTrustStore } from './session-trust.ts';

/** Who asks for the change: the account and the session whose token came with the request. */
export interface ChangeRequester {
  userId: string;
  sessionId: string;
}

export interface OwnerChangeDeps {
  sessions: { loginProof(sessionId: string, userId: string): Promise<{ ageMs: number }> };
  trust: Pick<SessionTrustStore, 'owedStepUp'>;
  accounts: { findById(id: string): Promise<Account | null> };
  notifier: Pick<Notifier, 'canDeliver' | 'send'>;
  audit: AuditLog;
  logger: Logger;
  /** VIGIL_BIOMETRIC_PROOF_MAX_AGE_SECONDS: how recent the login behind the session must be. */
  maxAgeSeconds: number;
  /** What replacing or deleting an existing model needs on top (re-authentication or genuine standing). */
  proofs: ModelChangeProofs;
}

/**
 * The biometric model is the owner's credential: whoever replaces or deletes it decides who the
 * gateway recognises from then on. So enrolment, re-enrolment and deletion — over HTTP, the
 * socket and dialect A — need what a step-up needs: a session created by a login (password or
 * one-time code) within the configured age, and no step-up owed by that session. A refreshed
 * token keeps its session's creation time, so refreshing proves nothing. Every change is audited
 * and told to the account by mail or SMS, so an owner learns of a change they did not make.
 *
 * A fresh login only proves someone held the unlocked device lately. The request that replaces or
 * deletes an existing model therefore also needs what a thief holding it lacks (`assertReplace`,
 * ModelChangeProofs): the current password or an authenticator code with the request, or recent
 * genuine standing of the session under the current model.
 */
export class OwnerChanges {
  constructor(private readonly deps: OwnerChangeDeps) {}

  /** Throws BIOMETRIC_PROOF_STALE or BIOMETRIC_STEPUP_OWED (audited) unless the requester may change the model. */
  async assertFresh(requester: ChangeRequester, change: BiometricChange, meta: AuditContext = {}): Promise<void> {
    const { sessions, trust, maxAgeSeconds } = this.deps;
    const [{ ageMs: age }, owed] = await Promise.all([
      sessions.loginProof(requester.sessionId, requester.userId),
      trust.owedStepUp(requester.sessionId),
    ]);
    const refuse = (error: VigilError) => this.refuse(requester, change, meta, error);
    if (owed) return refuse(new VigilError('BIOMETRIC_STEPUP_OWED', { reason: owed.reason }));
    // A session that ended meanwhile is as stale as an old one (and the next request says TOKEN_REVOKED).
    if (!(age <= maxAgeSeconds * 1000)) {
      const seconds = Number.isFinite(age) ? Math.floor(age / 1000) : 'unknown';
      return refuse(new VigilError('BIOMETRIC_PROOF_STALE', { seconds: maxAgeSeconds, age: seconds }));
    }
  }

  /**
   * The request that replaces (trains) or deletes the model: `assertFresh`, then, when the account
   * already has a model, BIOMETRIC_REAUTH_REQUIRED (or the re-authentication's own refusal:
   * PASSWORD_INCORRECT, MFA_CODE_INVALID, RATE_LIMITED), audited, unless proven.
   */
  async assertReplace(
    requester: ChangeRequester,
    change: BiometricChange,
    reauth: Reauthentication | undefined,
    meta: AuditContext = {},
  ): Promise<void> {
    await this.assertFresh(requester, change, meta);
    await this.assertReplaceProof(requester, change, reauth, meta);
  }

  /** Only the re-authentication part of `assertReplace`, for a request already past `assertFresh`. */
  async assertReplaceProof(
    requester: ChangeRequester,
    change: BiometricChange,
    reauth: Reauthentication | undefined,
    meta: AuditContext = {},
  ): Promise<void> {
    let proof;
    try {
      proof = await this.deps.proofs.prove(requester, reauth, meta);
    } catch (err) {
      return this.refuse(requester, change, meta, toVigilError(err));
    }
    if (proof === 'first-model') return;
    // How the owner was proven, next to the change's own record: a thief's way in would show here.
    await this.deps.audit.record('biometric.reauth', 'success', {
      ...meta,
      userId: requester.userId,
      sessionId: requester.sessionId,
      detail: { change, proof },
    });
  }

  private async refuse(
    requester: ChangeRequester,
    change: BiometricChange,
    meta: AuditContext,
    error: VigilError,
  ): Promise<never> {
    await this.deps.audit.record('biometric.owner_change', 'failure', {
      ...meta,
      userId: requester.userId,
      sessionId: requester.sessionId,
      detail: { change, code: error.code },
    });
    throw error;
  }

  /** A change happened: audit it and tell the account (mail first, SMS otherwise); never fails the change. */
  async changed(
    userId: string,
    change: BiometricChange,
    meta: AuditContext & { detail?: Record<string, string | number | boolean> } = {},
  ): Promise<void> {
    const { detail = {}, ...context } = meta;
    await this.deps.audit.record('biometric.owner_change', 'success', { ...context, userId, detail: { change, ...detail } });
    try {
      const account = await this.deps.accounts.findById(userId);
      const { notifier } = this.deps;
      if (!account || account.status === 'withdrawn') return;
      const target =
        account.email && notifier.canDeliver('email')
          ? { channel: 'email' as const, to: account.email }
          : account.phone && notifier.canDeliver('sms')
            ? { channel: 'sms' as const, to: account.phone }
            : undefined;
      if (!target) return;
      await notifier.send({ ...target, locale: account.locale, message: { template: 'biometric-changed', change } });
    } catch (err) {
      this.deps.logger.warn({ err, userId, change }, 'biometric change not notified');
    }
  }
}
