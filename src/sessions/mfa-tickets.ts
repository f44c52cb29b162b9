import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../storage/redis.ts';
import type { Channel } from '../notify/notifier.ts';
import type { DeviceInfo } from '../identity/devices/device-store.ts';

/** A first factor that passed, waiting for the second. */
export interface MfaPending {
  userId: string;
  /** How the first factor was proven (password, code, ticket). */
  method: string;
  /** Where a code or ticket login's code went. */
  channel?: Channel;
  device?: DeviceInfo;
}

/**
 * Short-lived, single-use MFA tickets in Redis, stored under a digest of the ticket. Each wrong
 * second-factor answer counts against the ticket; at `maxAttempts` it dies and the login starts
 * over (with its own limits and lockout).
 */
export class MfaTickets {
  constructor(
    private readonly redis: RedisClient,
    readonly ttlSeconds: number,
    private readonly maxAttempts: number,
  ) {}

  private key(ticket: string): string {
    return `mfa:${createHash('sha256').update(ticket).digest('base64url')}`;
  }

  async issue(pending: MfaPending): Promise<string> {
    const ticket = randomBytes(32).toString('base64url');
    const key = this.key(ticket);
    await this.redis
      .multi()
      .hset(key, { pending: JSON.stringify(pending), attempts: 0 })
      .expire(key, this.ttlSeconds)
      .exec();
    return ticket;
  }

  async peek(ticket: string): Promise<MfaPending | undefined> {
    const raw = await this.redis.hget(this.key(ticket), 'pending');
    return raw ? (JSON.parse(raw) as MfaPending) : undefined;
  }

  /** A wrong answer: the ticket dies at the attempt limit. */
  async failed(ticket: string): Promise<void> {
    const key = this.key(ticket);
    const attempts = await this.redis.hincrby(key, 'attempts', 1);
    if (attempts >= this.maxAttempts) await this.redis.del(key);
  }

  /** Spends the ticket; true for exactly one caller. */
  async consume(ticket: string): Promise<boolean> {
    return (await this.redis.del(this.key(ticket))) === 1;
  }
}
