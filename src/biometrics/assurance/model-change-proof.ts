import { VigilError } from '../../../protocol/errors.ts';
import type { AuditContext } from '../../audit/audit-log.ts';
import type { Account } from '../../identity/accounts/account.ts';
import type { PasswordService } from '../../identity/credentials/password-service.ts';
import { clientKey } from '../../rate-limits/client-key.ts';
import { enforceLimit } from '../../rate-limits/enforce-limit.ts';
import type { LimitRule, RateLimiter } from '../../rate-limits/rate-limiter.ts';
import type { StepUpProofs } from '../continuous/trust-policy.ts';
import type { GenuineEvidenceStore } from './genuine-evidence.ts';

/**
 * A re-authentication sent with the request that replaces or deletes the model. `field` names
 * where it came from (a header, a message field, a form field), for the error that refuses it.
 */
export type Reauthentication = { password: string; field: string } | { totp: string; field: string };

/** How the change was proven, for the audit trail. */
export type ReplaceProof = 'first-model' | 'genuine-standing' | 'password' | 'totp';

export interface ModelChangeProofDeps {
  /** The account's newest stored model version, or undefined when it has none yet. */
  currentVersion(userId: string): Promise<number | undefined>;
  evidence: Pick<GenuineEvidenceStore, 'read' | 'clock'>;
  accounts: { findById(id: string): Promise<Account | null> };
  /** The current-password check of password change and withdrawal (its per-account budget). */
  passwords: Pick<PasswordService, 'assertCurrentPassword'>;
  /** Authenticator codes, as a step-up checks them (counted against the second-factor budget). */
  factors: Pick<StepUpProofs, 'proveTotp' | 'methods'> | undefined;
  rateLimiter: RateLimiter;
  /** The login's per-IP rule (VIGIL_LOGIN_PER_IP per VIGIL_LOGIN_WINDOW_SECONDS): guesses here count as logins. */
  loginPerIp: LimitRule;
  /** VIGIL_BIOMETRIC_GENUINE_PROOF_SECONDS: how recent the genuine window must be. */
  maxAgeSeconds: number;
}

/**
 * What replacing or deleting an existing model needs beyond a fresh login: a fresh login only
 * proves someone held the unlocked device lately, and a thief who takes it in that window would
 * otherwise make their own motion the owner's. So, like a privileged session's re-authentication,
 * the request must carry the current password or an authenticator code — or the session must have
 * read `genuine` under the current model version within the proof age, which the owner who streams
 * has and a thief who never streamed has not. The first enrolment needs neither.
 */
export class ModelChangeProofs {
  constructor(private readonly deps: ModelChangeProofDeps) {}

  async prove(
    requester: { userId: string; sessionId: string },
    reauth: Reauthentication | undefined,
    meta: AuditContext,
  ): Promise<ReplaceProof> {
    const { deps } = this;
    const version = await deps.currentVersion(requester.userId);
    if (version === undefined) return 'first-model';
    if (reauth) return this.reauthenticate(requester, reauth, meta);
    const evidence = await deps.evidence.read(requester.sessionId);
    if (evidence && evidence.modelVersion === version && deps.evidence.clock.now() - evidence.at <= deps.maxAgeSeconds * 1000) {
      return 'genuine-standing';
    }
    const methods = ['password'];
    if ((await deps.factors?.methods(requester.userId))?.includes('totp')) methods.push('totp');
    throw new VigilError('BIOMETRIC_REAUTH_REQUIRED', {
      methods: methods.join(' or '),
      seconds: deps.maxAgeSeconds,
      version,
    });
  }

  private async reauthenticate(
    requester: { userId: string; sessionId: string },
    reauth: Reauthentication,
    meta: AuditContext,
  ): Promise<ReplaceProof> {
    const { deps } = this;
    const context = { ...meta, sessionId: requester.sessionId };
    if ('totp' in reauth) {
      const factors = deps.factors;
      if (!factors) throw new VigilError('MFA_CODE_INVALID');
      // Counted per IP (as logins) and per account (as second steps); a code of the current step (or the
      // one before) only. The authenticator's steps run on the machine's clock, not the gateway's.
      await factors.proveTotp(requester.userId, reauth.totp, Date.now(), context);
      return 'totp';
    }
    // Counted as a login from this address first, then against the account's current-password budget.
    await enforceLimit(deps.rateLimiter, `login:ip:${clientKey(meta.ip)}`, deps.loginPerIp);
    const account = await deps.accounts.findById(requester.userId);
    if (!account) throw new VigilError('TOKEN_REVOKED');
    await deps.passwords.assertCurrentPassword(account, reauth.password, reauth.field, context, 'biometric.reauth');
    return 'password';
  }
}
