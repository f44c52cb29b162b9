import { VigilError } from '../../protocol/errors.ts';
import type { LimitRule, RateLimiter } from '../rate-limits/rate-limiter.ts';

/** Counts a hit and throws RATE_LIMITED (with Retry-After) once the rule's limit is passed. */
export async function enforceLimit(limiter: RateLimiter, key: string, rule: LimitRule, cost = 1): Promise<void> {
  const result = await limiter.hit(key, rule, cost);
  if (!result.allowed) {
    throw new VigilError(
      'RATE_LIMITED',
      { retryAfter: result.retryAfter },
      { headers: { 'retry-after': String(result.retryAfter) } },
    );
  }
}
