import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../../storage/redis.ts';
import { VigilError } from '../../../protocol/errors.ts';
import type { Locale } from '../../../protocol/http/accounts.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { Account } from '../accounts/account.ts';
import type { AccountService, RequestMeta } from '../accounts/account-service.ts';
import { enforceLimit } from '../../rate-limits/enforce-limit.ts';
import type { Notifier } from '../../notify/notifier.ts';
import type { Logger } from '../../observability/logger.ts';
import type { RateLimiter } from '../../rate-limits/rate-limiter.ts';
import { clientKey } from '../../rate-limits/client-key.ts';

export interface EmailLinkOptions {
  /** Default lifetime (VIGIL_VERIFY_LINK_TTL_SECONDS); each send may choose its own. */
  ttlSeconds: number;
  /** Base URL the default link points at (VIGIL_PUBLIC_URL). */
  publicUrl: string;
  resendSeconds: number;
  perDestinationHourly: number;
  perIpHourly: number;
}

export interface SendLinkOptions {
  /** Lifetime of this link; a legacy dialect uses 60 s. */
  ttlSeconds?: number;
  /** Builds the URL around the token (dialects serve their own verification path). */
  url?: (token: string) => string;
  locale?: Locale;
}

interface LinkClaims {
  userId: string;
  email: string;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');

/**
 * Email verification links: a random token in a URL, stored hashed in Redis with its TTL, single
 * use (GETDEL), bound to the account and the address it was sent to.
 */
export class EmailLinks {
  constructor(
    private readonly deps: {
      redis: RedisClient;
      accounts: AccountService;
      notifier: Notifier;
      rateLimiter: RateLimiter;
      audit: AuditLog;
      logger: Logger;
      options: EmailLinkOptions;
    },
  ) {}

  defaultUrl(token: string): string {
    return `${this.deps.options.publicUrl.replace(/\/+$/, '')}/v1/accounts/verify-email?token=${token}`;
  }

  /** Issues a link for the account's email and queues the mail. Resolves with the link's lifetime. */
  async send(account: Account, options: SendLinkOptions = {}, meta: RequestMeta = {}): Promise<{ expiresIn: number }> {
    if (!account.email) throw new VigilError('ACCOUNT_STATUS_INVALID', { status: 'without email', action: 'send a link to' });
    const ttlSeconds = options.ttlSeconds ?? this.deps.options.ttlSeconds;
    const token = randomBytes(32).toString('base64url');
    const claims: LinkClaims = { userId: account.id, email: account.email };
    await this.deps.redis.set(`link:${hashOf(token)}`, JSON.stringify(claims), 'EX', ttlSeconds);
    const url = (options.url ?? ((t: string) => this.defaultUrl(t)))(token);
    await this.deps.notifier.send({
      channel: 'email',
      to: account.email,
      locale: options.locale ?? account.locale,
      message: { template: 'verify-link', url, ttlSeconds },
    });
    await this.deps.audit.record('code.sent', 'success', {
      ...meta,
      userId: account.id,
      detail: { channel: 'email', purpose: 'verify', kind: 'link' },
    });
    return { expiresIn: ttlSeconds };
  }

  /**
   * Client-triggered resend: rate-limited and enumeration-safe (the same answer whether or not
   * the address belongs to an unverified account; only then is mail sent).
   */
  async resend(email: string, locale: Locale | undefined, meta: RequestMeta = {}): Promise<void> {
    const { accounts, rateLimiter, redis, options } = this.deps;
    const to = accounts.normalize('email', email);
    if (meta.ip)
      await enforceLimit(rateLimiter, `links:ip:${clientKey(meta.ip)}`, { limit: options.perIpHourly, windowSeconds: 3600 });
    if (options.resendSeconds > 0) {
      const fresh = await redis.set(`link:cool:${to}`, '1', 'EX', options.resendSeconds, 'NX');
      if (fresh !== 'OK') {
        const ttl = Math.max(1, await redis.ttl(`link:cool:${to}`));
        throw new VigilError('CODE_COOLDOWN', { retryAfter: ttl }, { headers: { 'retry-after': String(ttl) } });
      }
    }
    await enforceLimit(rateLimiter, `links:to:${to}`, { limit: options.perDestinationHourly, windowSeconds: 3600 });
    const account = await accounts.findByContact('email', to);
    // Sent after answering: awaiting it only for unverified accounts would let the response time
    // tell which addresses have one. A failure is logged; the client asks again.
    if (account && !account.emailVerifiedAt && account.status !== 'withdrawn') {
      setImmediate(() => {
        this.send(account, { locale }, meta).catch((err: unknown) =>
          this.deps.logger.warn({ err, userId: account.id }, 'verification link could not be sent'),
        );
      });
    }
  }

  /** Spends a link token: marks the email verified (activating an unverified account). */
  async consume(token: string, meta: RequestMeta = {}): Promise<Account> {
    const raw = await this.deps.redis.getdel(`link:${hashOf(token)}`);
    const claims = raw ? (JSON.parse(raw) as LinkClaims) : undefined;
    const account = claims ? await this.deps.accounts.findById(claims.userId) : null;
    // The address must still be the one the link went to.
    if (!claims || !account || account.email !== claims.email) {
      await this.deps.audit.record('code.failed', 'failure', {
        ...meta,
        userId: account?.id,
        detail: { channel: 'email', purpose: 'verify', kind: 'link' },
      });
      throw new VigilError(
        'LINK_INVALID',
        {},
        { details: [{ field: 'query.token', message: 'invalid, expired or already used' }] },
      );
    }
    const updated = await this.deps.accounts.markVerified(account, 'email', meta, 'link');
    if (!updated) throw new VigilError('LINK_INVALID');
    return updated;
  }
}
