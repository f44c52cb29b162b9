import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { VigilError } from '../../../protocol/errors.ts';
import type { AuditContext } from '../../audit/audit-log.ts';
import { clientKey } from '../../rate-limits/client-key.ts';
import { enforceLimit } from '../../rate-limits/enforce-limit.ts';
import type { LimitRule, RateLimiter } from '../../rate-limits/rate-limiter.ts';
import type { AccountFactors, SecondFactorMethod } from './account-factors.ts';
import type { CeremonyOptions, PasskeyCeremonies } from './passkeys/passkey-ceremonies.ts';
import type { TotpFactors } from './totp/totp-factors.ts';

/**
 * Proving a step-up on the socket with a factor alone (protocol/README.md §7): a passkey assertion
 * over a challenge issued with that `stepup.required` (bound to the socket's session, so it is
 * necessarily new), or an authenticator code no older than the request. Both are counted against
 * the account's second-factor budget (VIGIL_MFA_PER_ACCOUNT_HOURLY), shared with logins, so a
 * thief holding the device cannot guess codes on the socket faster than at the login's second step.
 */
export class StepUpFactors {
  constructor(
    private readonly deps: {
      factors: AccountFactors;
      totp: TotpFactors;
      passkeys: PasskeyCeremonies;
      rateLimiter: RateLimiter;
      perAccount: LimitRule;
      perIp: LimitRule;
    },
  ) {}

  methods(userId: string): Promise<SecondFactorMethod[]> {
    return this.deps.factors.methods(userId);
  }

  passkeyOptions(userId: string, sessionId: string): Promise<CeremonyOptions> {
    return this.deps.passkeys.authenticationOptions({ purpose: 'stepup', userId, sessionId }, userId);
  }

  async provePasskey(userId: string, sessionId: string, response: AuthenticationResponseJSON, meta: AuditContext): Promise<void> {
    await this.count(userId, meta);
    const { passkey } = await this.deps.passkeys.authenticate(
      response,
      (b) => b.purpose === 'stepup' && b.userId === userId && b.sessionId === sessionId,
      meta,
      userId,
    );
    if (passkey.userId !== userId) throw new VigilError('PASSKEY_UNKNOWN');
  }

  async proveTotp(userId: string, code: string, notBeforeMs: number, meta: AuditContext): Promise<void> {
    await this.count(userId, meta);
    if (!(await this.deps.totp.verify(userId, code, notBeforeMs))) throw new VigilError('MFA_CODE_INVALID');
  }

  private async count(userId: string, meta: AuditContext): Promise<void> {
    for (const [key, rule] of [
      [`login:ip:${clientKey(meta.ip)}`, this.deps.perIp],
      [`mfa:user:${userId}`, this.deps.perAccount],
    ] as const) {
      await enforceLimit(this.deps.rateLimiter, key, rule);
    }
  }
}
