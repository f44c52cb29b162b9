import type { RedisClient } from '../../storage/redis.ts';

/** Longer than a client keeps retrying through a failover (the failover tests take ~10 s). */
const DEFAULT_TTL_MS = 10 * 60_000;

const key = (userId: string) => `pwchange:{${userId}}`;

/**
 * Which session changed the account's password in the last few minutes. A change answered 503
 * after the new password was stored cannot be asked again the ordinary way (the current password
 * it names is no longer current), yet its last revocation may not be done: the record lets the
 * same session's retry (same new password) finish it. It is written before the password and kept
 * until it expires, so the retry of a change whose 200 was lost is answered 200 again.
 */
export class PasswordChangeRetries {
  constructor(
    private readonly redis: RedisClient,
    private readonly ttlMs = DEFAULT_TTL_MS,
  ) {}

  async record(userId: string, sessionId: string): Promise<void> {
    await this.redis.set(key(userId), sessionId, 'PX', this.ttlMs);
  }

  /** Whether `sessionId` changed the account's password within the last few minutes. */
  async changedBy(userId: string, sessionId: string | undefined): Promise<boolean> {
    return sessionId !== undefined && (await this.redis.get(key(userId))) === sessionId;
  }
}
