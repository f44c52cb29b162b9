import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../../storage/redis.ts';
import { VigilError } from '../../../protocol/errors.ts';
import type { Channel } from '../../notify/notifier.ts';
import type { CodePurpose } from './one-time-codes.ts';

/** What a verified code proved: this destination was reachable, for this purpose, just now. */
export interface TicketClaims {
  purpose: CodePurpose;
  channel: Channel;
  to: string;
}

const hashOf = (ticket: string) => createHash('sha256').update(ticket).digest('base64url');

/**
 * Single-use, short-lived tickets handed out by POST /v1/codes/verify and spent by the next step
 * (sign-up, password reset, code login, withdrawal). Stored hashed so a Redis dump cannot be
 * replayed; consumed with GETDEL so two concurrent uses cannot both succeed.
 */
export class Tickets {
  constructor(
    private readonly redis: RedisClient,
    private readonly ttlSeconds: number,
  ) {}

  async issue(claims: TicketClaims): Promise<{ ticket: string; expiresIn: number }> {
    const ticket = randomBytes(32).toString('base64url');
    await this.redis.set(`ticket:${hashOf(ticket)}`, JSON.stringify(claims), 'EX', this.ttlSeconds);
    return { ticket, expiresIn: this.ttlSeconds };
  }

  /**
   * Spends a ticket issued for `purpose`. A ticket presented for the wrong purpose is spent too,
   * so it cannot be probed. Throws TICKET_INVALID naming `field`.
   */
  async consume(ticket: string, purpose: CodePurpose, field = 'ticket'): Promise<TicketClaims> {
    const raw = await this.redis.getdel(`ticket:${hashOf(ticket)}`);
    const claims = raw ? (JSON.parse(raw) as TicketClaims) : undefined;
    if (!claims || claims.purpose !== purpose) throw ticketInvalid(field);
    return claims;
  }

  /**
   * Checks a ticket without spending it, for a step that must stay retryable until it is done (a
   * password reset answered 503 half-way is asked again with the same ticket); `spend` then
   * consumes it, resolving false if another use got there first. A ticket of another purpose is
   * spent at once, as by `consume`.
   */
  async check(
    ticket: string,
    purpose: CodePurpose,
    field = 'ticket',
  ): Promise<{ claims: TicketClaims; spend: () => Promise<boolean> }> {
    const key = `ticket:${hashOf(ticket)}`;
    const raw = await this.redis.get(key);
    const claims = raw ? (JSON.parse(raw) as TicketClaims) : undefined;
    if (!claims) throw ticketInvalid(field);
    if (claims.purpose !== purpose) {
      await this.redis.del(key);
      throw ticketInvalid(field);
    }
    return { claims, spend: async () => (await this.redis.del(key)) === 1 };
  }
}

function ticketInvalid(field: string): VigilError {
  return new VigilError('TICKET_INVALID', {}, { details: [{ field, message: 'invalid, expired, used or for another purpose' }] });
}
