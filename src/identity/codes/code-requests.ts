import type { Locale } from '../../../protocol/http/accounts.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { Account } from '../accounts/account.ts';
import type { Channel } from '../../notify/notifier.ts';
import type { AccountService, RequestMeta } from '../accounts/account-service.ts';
import { enforceLimit } from '../../rate-limits/enforce-limit.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Notifier } from '../../notify/notifier.ts';
import type { RateLimiter } from '../../rate-limits/rate-limiter.ts';
import type { CodePurpose, CodeTarget, OneTimeCodes } from './one-time-codes.ts';
import type { Tickets } from './tickets.ts';
import { clientKey } from '../../rate-limits/client-key.ts';

export interface CodeRequestLimits {
  perDestinationHourly: number;
  perIpHourly: number;
  verifyPerIpHourly: number;
}

export interface CodeRequestInput {
  channel: Channel;
  /** As the client typed it; normalised here (errors name the field `to`). */
  to: string;
  purpose: CodePurpose;
  locale?: Locale;
  /** Overrides the configured lifetime (a legacy dialect documents its own). */
  ttlSeconds?: number;
}

export interface CodeRequestResult {
  channel: Channel;
  to: string;
  purpose: CodePurpose;
  expiresIn: number;
  resendIn: number;
}

export interface CodeCheckInput {
  channel: Channel;
  to: string;
  purpose: CodePurpose;
  code: string;
}

/**
 * The one-time-code flows clients see: who gets a code, with which limits, and what verifying it
 * yields. Enumeration-safe: whether or not an account exists (or, for sign-up, is free), the same
 * code record, cooldown and quotas apply and the caller gets the same answer; only the delivery
 * differs, and a code that was never delivered can only be guessed.
 */
export class CodeRequests {
  constructor(
    private readonly deps: {
      codes: OneTimeCodes;
      tickets: Tickets;
      accounts: AccountService;
      notifier: Notifier;
      rateLimiter: RateLimiter;
      audit: AuditLog;
      logger: Logger;
      limits: CodeRequestLimits;
    },
  ) {}

  /** Sends a code if the purpose allows for this destination; always answers the same way. */
  async request(input: CodeRequestInput, meta: RequestMeta = {}): Promise<CodeRequestResult> {
    const { codes, accounts, notifier, rateLimiter, audit, limits } = this.deps;
    const to = accounts.normalizeContact(input.channel, input.to, 'to');
    notifier.assertDeliverable(input.channel);
    const target: CodeTarget = { channel: input.channel, to, purpose: input.purpose };
    if (meta.ip)
      await enforceLimit(rateLimiter, `codes:ip:${clientKey(meta.ip)}`, { limit: limits.perIpHourly, windowSeconds: 3600 });
    await codes.claimCooldown(target);
    await enforceLimit(rateLimiter, `codes:to:${input.channel}:${to}`, {
      limit: limits.perDestinationHourly,
      windowSeconds: 3600,
    });

    const account = await accounts.findByContact(input.channel, to);
    const deliver = this.shouldDeliver(input.purpose, account);
    const issued = await codes.issue(target, input.ttlSeconds ?? codes.ttlFor(target));
    await audit.record('code.sent', 'success', {
      ...meta,
      userId: account?.id,
      detail: { channel: input.channel, purpose: input.purpose, delivered: deliver },
    });
    if (deliver) {
      // Queued once the answer is on its way (this is the last step before it): the answer must
      // take as long whether or not a message goes out, or its timing would tell who has an
      // account. A failed enqueue is logged; the client asks again.
      const message = {
        channel: input.channel,
        to,
        locale: input.locale ?? account?.locale ?? accounts.options.defaultLocale,
        message: { template: 'code' as const, purpose: input.purpose, code: issued.code, ttlSeconds: issued.expiresIn },
      };
      setImmediate(() => {
        notifier
          .send(message)
          .catch((err: unknown) =>
            this.deps.logger.warn({ err, purpose: input.purpose, channel: input.channel }, 'code delivery could not be queued'),
          );
      });
    }
    return { channel: input.channel, to, purpose: input.purpose, expiresIn: issued.expiresIn, resendIn: issued.resendIn };
  }

  /** Sign-up codes go to free destinations; every other purpose needs the account to exist. */
  private shouldDeliver(purpose: CodePurpose, account: Account | null): boolean {
    if (purpose === 'signup') return account === null;
    return account !== null && account.status !== 'withdrawn';
  }

  /**
   * Verifies and consumes a code, returning the normalised target. For purpose `verify` the
   * account owning the destination is marked verified (and leaves `unverified`). Use this for
   * code login: `verifyCode({ channel, to, purpose: 'login', code })`, then `findByContact`.
   */
  async verifyCode(input: CodeCheckInput, meta: RequestMeta = {}): Promise<CodeTarget & { account: Account | null }> {
    const { channel, to, purpose, account } = await this.checked(input, meta, (target) =>
      this.deps.codes.verify(target, input.code).then(() => ({ spend: async () => true })),
    );
    return { channel, to, purpose, account };
  }

  /**
   * Like `verifyCode`, but the code stays valid until the caller's `spend` (it resolves false if the
   * code was spent or replaced meanwhile): for a step that must stay retryable until it is done.
   */
  async checkCode(
    input: CodeCheckInput,
    meta: RequestMeta = {},
  ): Promise<CodeTarget & { account: Account | null; spend: () => Promise<boolean> }> {
    return this.checked(input, meta, (target) => this.deps.codes.check(target, input.code));
  }

  private async checked(
    input: CodeCheckInput,
    meta: RequestMeta,
    check: (target: CodeTarget) => Promise<{ spend: () => Promise<boolean> }>,
  ): Promise<CodeTarget & { account: Account | null; spend: () => Promise<boolean> }> {
    const { accounts, rateLimiter, audit, limits } = this.deps;
    const to = accounts.normalizeContact(input.channel, input.to, 'to');
    const target: CodeTarget = { channel: input.channel, to, purpose: input.purpose };
    if (meta.ip)
      await enforceLimit(rateLimiter, `codes:verify:ip:${clientKey(meta.ip)}`, {
        limit: limits.verifyPerIpHourly,
        windowSeconds: 3600,
      });
    let spend: () => Promise<boolean>;
    try {
      ({ spend } = await check(target));
    } catch (err) {
      const owner = await accounts.findByContact(input.channel, to).catch(() => null);
      await audit.record('code.failed', 'failure', {
        ...meta,
        userId: owner?.id,
        detail: { channel: input.channel, purpose: input.purpose, reason: (err as { code?: string }).code ?? 'error' },
      });
      throw err;
    }
    let account = await accounts.findByContact(input.channel, to);
    if (input.purpose === 'verify' && account) {
      account = (await accounts.markVerified(account, input.channel === 'email' ? 'email' : 'phone', meta, 'code')) ?? account;
    }
    await audit.record('code.verified', 'success', {
      ...meta,
      userId: account?.id,
      detail: { channel: input.channel, purpose: input.purpose },
    });
    return { ...target, account, spend };
  }

  /** POST /v1/codes/verify: verifies, then hands out a single-use ticket for the next step. */
  async verifyForTicket(
    input: CodeCheckInput,
    meta: RequestMeta = {},
  ): Promise<{ ticket: string; expiresIn: number; account: Account | null }> {
    const verified = await this.verifyCode(input, meta);
    const { ticket, expiresIn } = await this.deps.tickets.issue({
      purpose: verified.purpose,
      channel: verified.channel,
      to: verified.to,
    });
    return { ticket, expiresIn, account: verified.account };
  }
}
