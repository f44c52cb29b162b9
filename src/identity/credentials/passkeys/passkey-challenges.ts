import { createHash } from 'node:crypto';
import type { RedisClient } from '../../../storage/redis.ts';

/** What a challenge was issued for; a response is only accepted for the same purpose and binding. */
export type ChallengeBinding =
  | { purpose: 'register'; userId: string; sessionId: string }
  | { purpose: 'login' }
  | { purpose: 'mfa'; ticketDigest: string }
  | { purpose: 'stepup'; userId: string; sessionId: string };

/**
 * Ceremony challenges in Redis, single use with a short TTL. A response names its challenge in
 * clientDataJSON; `take` deletes it in the same command that reads it (GETDEL), so of two
 * responses to one challenge exactly one proceeds, and a failed verification spends it too.
 */
export class PasskeyChallenges {
  constructor(
    private readonly redis: RedisClient,
    readonly ttlSeconds: number,
  ) {}

  private key(challenge: string): string {
    return `webauthn:challenge:${challenge}`;
  }

  async issue(challenge: string, binding: ChallengeBinding): Promise<void> {
    await this.redis.set(this.key(challenge), JSON.stringify(binding), 'EX', this.ttlSeconds);
  }

  async take(challenge: string): Promise<ChallengeBinding | undefined> {
    if (!/^[A-Za-z0-9_-]{16,128}$/.test(challenge)) return undefined;
    const raw = await this.redis.getdel(this.key(challenge));
    return raw ? (JSON.parse(raw) as ChallengeBinding) : undefined;
  }
}

/** How a challenge is bound to an MFA ticket without storing the ticket itself. */
export const ticketDigest = (ticket: string) => createHash('sha256').update(ticket).digest('base64url');
