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

export type ResetProof = { ticket: string } | { channel?: Channel; to: string; code: string };

export interface PasswordChangeResult {
  account: Account;
  revokedSessions: number;
}

/**
 * Password change (knowing the current one) and reset (proving a contact with a code or ticket).
 * Both revoke sessions: change keeps the caller's own, reset ends all of them.
 */
export class PasswordService {
  constructor(
    private readonly deps: {
      accounts: AccountService;
      hasher: PasswordHasher;
      codeRequests: CodeRequests;
      tickets: Tickets;
      sessions: IdentitySessions;
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
    const { hasher, rateLimiter, audit, checksPerUserHourly, anonymousChecksPerUserHourly } = this.deps;
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
    if (!(await hasher.verifyPassword(account, password))) {
      await audit.record(event, 'failure', { ...meta, userId: account.id, detail: { reason: 'wrong current password' } });
      throw new VigilError('PASSWORD_INCORRECT', {}, { details: [{ field, message: 'does not match the current password' }] });
    }
  }

  /** Authenticated change; `meta.sessionId` (the caller's session) survives, every other is revoked. */
  async change(
    userId: string,
    currentPassword: string,
    newPassword: string,
    meta: RequestMeta = {},
  ): Promise<PasswordChangeResult> {
    const { accounts, hasher, sessions, audit } = this.deps;
    const account = await accounts.findById(userId);
    if (!account || account.status === 'withdrawn') throw new VigilError('NOT_FOUND', { what: 'Account' });
    checkPasswordPolicy(newPassword, {
      field: 'newPassword',
      username: account.username,
      email: account.email,
      phone: account.phone,
    });
    await this.assertCurrentPassword(account, currentPassword, 'currentPassword', meta, 'password.changed');
    const updated = await accounts.setPasswordHash(account.id, await hasher.hash(newPassword));
    if (!updated) throw new VigilError('NOT_FOUND', { what: 'Account' });
    const revokedSessions = await sessions.revokeAllForUser(account.id, {
      exceptSessionId: meta.sessionId,
      reason: 'password changed',
    });
    await audit.record('password.changed', 'success', { ...meta, userId: account.id, detail: { revokedSessions } });
    return { account: updated, revokedSessions };
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
    const { accounts, hasher, codeRequests, tickets, sessions, audit } = this.deps;
    let channel: Channel;
    let to: string;
    if ('ticket' in proof) {
      // Length/bytes first: a policy failure must not spend the proof.
      checkPasswordPolicy(newPassword, { field: 'newPassword', minLength: options.minLength });
      ({ channel, to } = await tickets.consume(proof.ticket, 'reset'));
    } else {
      channel = proof.channel ?? (proof.to.includes('@') ? 'email' : 'sms');
      checkPasswordPolicy(newPassword, {
        field: 'newPassword',
        minLength: options.minLength,
        [channel === 'email' ? 'email' : 'phone']: accounts.normalizeContact(channel, proof.to),
      });
      ({ to } = await codeRequests.verifyCode({ channel, to: proof.to, purpose: 'reset', code: proof.code }, meta));
    }
    const account = await accounts.findByContact(channel, to);
    if (!account) {
      // A valid proof for a destination without an account (it was withdrawn meanwhile).
      throw 'ticket' in proof ? new VigilError('TICKET_INVALID') : new VigilError('CODE_INVALID');
    }
    checkPasswordPolicy(newPassword, {
      field: 'newPassword',
      minLength: options.minLength,
      username: account.username,
      email: account.email,
      phone: account.phone,
    });
    const updated = await accounts.setPasswordHash(account.id, await hasher.hash(newPassword));
    if (!updated) throw new VigilError('NOT_FOUND', { what: 'Account' });
    const revokedSessions = await sessions.revokeAllForUser(account.id, { reason: 'password reset' });
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
