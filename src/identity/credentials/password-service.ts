import { VigilError } from '../../../protocol/errors.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { Account } from '../accounts/account.ts';
import type { Channel } from '../../notify/notifier.ts';
import type { AccountService, RequestMeta } from '../accounts/account-service.ts';
import { fieldError } from '../../server/http/field-errors.ts';
import { enforceLimit } from '../../rate-limits/enforce-limit.ts';
import type { IdentitySessions } from '../identity-sessions.ts';
import type { CodeRequests } from '../codes/code-requests.ts';
import type { Tickets } from '../codes/tickets.ts';
import { clientKey } from '../../rate-limits/client-key.ts';
import type { RateLimiter } from '../../rate-limits/rate-limiter.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { checkPasswordPolicy } from './password-policy.ts';
import type { PasswordChangeRetries } from './password-change-retries.ts';

export type ResetProof = { ticket: string } | { channel?: Channel; to: string; code: string };

export interface PasswordChangeResult {
  account: Account;
  revokedSessions: number;
}

type Revocation = Parameters<IdentitySessions['revokeAllForUser']>[1];

/**
 * Password change (knowing the current one) and reset (proving a contact with a code or ticket).
 * Both revoke sessions: change keeps the caller's own, reset ends all of them.
 *
 * Either is answered 200 only once the new password is stored and the sessions are ended with
 * replicas holding their end; anything less is 503 (or the store's error), and the client asks
 * again with the same request, which must still work (docs/operations.md, password change):
 * - the sessions are ended before the new password is stored, so a failure there leaves the old
 *   password, and the retry proves it again and ends what is left;
 * - they are ended again after it: someone who knows the old password (why owners change it)
 *   can log in between the first revocation and the write;
 * - a reset spends its code or ticket last, so every earlier failure keeps it for the retry;
 * - a change's retry after the write names a password that is no longer current: a short-lived
 *   record of the session that changed it lets the same session, naming the new password,
 *   finish the last revocation (PasswordChangeRetries).
 */
export class PasswordService {
  constructor(
    private readonly deps: {
      accounts: AccountService;
      hasher: PasswordHasher;
      codeRequests: CodeRequests;
      tickets: Tickets;
      sessions: IdentitySessions;
      retries: PasswordChangeRetries;
      audit: AuditLog;
      rateLimiter: RateLimiter;
      /** Current-password checks per account per hour (signed in), or per account and client (not signed in). */
      checksPerUserHourly: number;
      /** Current-password checks per account per hour from callers that are not signed in, all clients together. */
      anonymousChecksPerUserHourly: number;
    },
  ) {}

  /**
   * Checks the account's current password, rate-limited before any bcrypt work. A signed-in caller
   * (`meta.sessionId`) is limited per account. A caller that is not (dialect B's withdrawal names
   * an account and a password) is limited per account and client, and all of them together per
   * account with a separate, larger budget: a stranger's guesses never spend the owner's checks.
   * Throws PASSWORD_INCORRECT naming `field`.
   */
  async assertCurrentPassword(
    account: Account,
    password: string,
    field: string,
    meta: RequestMeta,
    event: string,
  ): Promise<void> {
    if (!(await this.passwordMatches(account, password, meta))) {
      await this.deps.audit.record(event, 'failure', {
        ...meta,
        userId: account.id,
        detail: { reason: 'wrong current password' },
      });
      throw new VigilError('PASSWORD_INCORRECT', {}, { details: [{ field, message: 'does not match the current password' }] });
    }
  }

  /** Whether `password` is the account's, counted against the limits of `assertCurrentPassword`. */
  private async passwordMatches(account: Account, password: string, meta: RequestMeta): Promise<boolean> {
    const { hasher, rateLimiter, checksPerUserHourly, anonymousChecksPerUserHourly } = this.deps;
    if (meta.sessionId) {
      await enforceLimit(rateLimiter, `password:check:user:${account.id}`, { limit: checksPerUserHourly, windowSeconds: 3600 });
    } else {
      await enforceLimit(rateLimiter, `password:check:anon:${account.id}:${clientKey(meta.ip)}`, {
        limit: checksPerUserHourly,
        windowSeconds: 3600,
      });
      await enforceLimit(rateLimiter, `password:check:anon:${account.id}`, {
        limit: anonymousChecksPerUserHourly,
        windowSeconds: 3600,
      });
    }
    return hasher.verifyPassword(account, password);
  }

  /** Authenticated change; `meta.sessionId` (the caller's session) survives, every other is revoked. */
  async change(
    userId: string,
    currentPassword: string,
    newPassword: string,
    meta: RequestMeta = {},
  ): Promise<PasswordChangeResult> {
    const { accounts, sessions, retries, audit } = this.deps;
    const account = await accounts.findById(userId);
    if (!account || account.status === 'withdrawn') throw new VigilError('NOT_FOUND', { what: 'Account' });
    checkPasswordPolicy(newPassword, {
      field: 'newPassword',
      username: account.username,
      email: account.email,
      phone: account.phone,
    });
    const revocation: Revocation = { exceptSessionId: meta.sessionId, reason: 'password changed', requireReplicas: true };
    // The retry of this session's change, answered 503 after the new password was stored.
    if ((await retries.changedBy(account.id, meta.sessionId)) && (await this.passwordMatches(account, newPassword, meta))) {
      const revokedSessions = await sessions.revokeAllForUser(account.id, revocation);
      await audit.record('password.changed', 'success', {
        ...meta,
        userId: account.id,
        detail: { revokedSessions, retry: true },
      });
      return { account, revokedSessions };
    }
    await this.assertCurrentPassword(account, currentPassword, 'currentPassword', meta, 'password.changed');
    const { updated, revokedSessions } = await this.replacePassword(account.id, newPassword, revocation, async () => {
      if (meta.sessionId) await retries.record(account.id, meta.sessionId);
    });
    await audit.record('password.changed', 'success', { ...meta, userId: account.id, detail: { revokedSessions } });
    return { account: updated, revokedSessions };
  }

  /**
   * Ends the sessions, stores the new password, and ends them again (see the class comment);
   * `beforeWrite` runs just before the password is stored. Each revocation answers 503
   * (ReplicationTimeout) unless replicas hold it, and a failure part-way is thrown as is.
   */
  private async replacePassword(
    userId: string,
    newPassword: string,
    revocation: Revocation,
    beforeWrite?: () => Promise<void>,
  ): Promise<{ updated: Account; revokedSessions: number }> {
    const { accounts, hasher, sessions } = this.deps;
    // Hashed first: bcrypt between the revocation and the write would only widen the window.
    const hash = await hasher.hash(newPassword);
    const before = await sessions.revokeAllForUser(userId, revocation);
    await beforeWrite?.();
    const updated = await accounts.setPasswordHash(userId, hash);
    if (!updated) throw new VigilError('NOT_FOUND', { what: 'Account' });
    const after = await sessions.revokeAllForUser(userId, revocation);
    return { updated, revokedSessions: before + after };
  }

  /**
   * Reset by proof of a contact: a ticket from POST /v1/codes/verify (purpose reset), or the code
   * itself. Every session of the account is revoked.
   */
  async reset(
    proof: ResetProof,
    newPassword: string,
    meta: RequestMeta = {},
    options: { minLength?: number } = {},
  ): Promise<PasswordChangeResult> {
    const { accounts, codeRequests, tickets, audit } = this.deps;
    let channel: Channel;
    let to: string;
    let spend: () => Promise<boolean>;
    if ('ticket' in proof) {
      // Length/bytes first: a policy failure must not spend the proof.
      checkPasswordPolicy(newPassword, { field: 'newPassword', minLength: options.minLength });
      ({
        claims: { channel, to },
        spend,
      } = await tickets.check(proof.ticket, 'reset'));
    } else {
      channel = proof.channel ?? (proof.to.includes('@') ? 'email' : 'sms');
      checkPasswordPolicy(newPassword, {
        field: 'newPassword',
        minLength: options.minLength,
        [channel === 'email' ? 'email' : 'phone']: accounts.normalizeContact(channel, proof.to),
      });
      ({ to, spend } = await codeRequests.checkCode({ channel, to: proof.to, purpose: 'reset', code: proof.code }, meta));
    }
    const account = await accounts.findByContact(channel, to);
    if (!account) {
      // A valid proof for a destination without an account (it was withdrawn meanwhile).
      await spend();
      throw 'ticket' in proof ? new VigilError('TICKET_INVALID') : new VigilError('CODE_INVALID');
    }
    checkPasswordPolicy(newPassword, {
      field: 'newPassword',
      minLength: options.minLength,
      username: account.username,
      email: account.email,
      phone: account.phone,
    });
    const { updated, revokedSessions } = await this.replacePassword(account.id, newPassword, {
      reason: 'password reset',
      requireReplicas: true,
    });
    // Spent only now, so a reset answered 503 before this is asked again with the same proof. A
    // concurrent use of the same proof may have spent it first: both set a password and ended
    // every session, and the later write stands.
    await spend();
    await audit.record('password.reset', 'success', { ...meta, userId: account.id, detail: { channel, revokedSessions } });
    return { account: updated, revokedSessions };
  }

  /** Parses the reset body shape shared by the core route and dialects. */
  static proofFrom(input: { ticket?: string; channel?: Channel; to?: string; code?: string }): ResetProof {
    if (input.ticket !== undefined) return { ticket: input.ticket };
    if (input.to === undefined) throw fieldError('to', 'give a ticket, or the destination and the code sent to it');
    if (input.code === undefined) throw fieldError('code', 'required with to');
    return { channel: input.channel, to: input.to, code: input.code };
  }
}
