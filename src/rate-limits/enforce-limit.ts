import { VigilError } from '../../protocol/errors.ts';
import type { LimitRule, RateLimiter } from '../rate-limits/rate-limiter.ts';

/** Counts a hit and throws RATE_LIMITED (with Retry-After) once the rule's limit is passed. */
export async function enforceLimit(limiter: RateLimiter, key: string, rule: LimitRule, cost = 1): Promise<void> {
  const result = await limiter.hit(key, rule, cost);
  if (!result.allowed) throw rateLimited(result.retryAfter);
}

/** RATE_LIMITED with its Retry-After header: the one way every limit answers. */
export function rateLimited(retryAfterSeconds: number): VigilError {
  return new VigilError(
    'RATE_LIMITED',
    { retryAfter: retryAfterSeconds },
    { headers: { 'retry-after': String(retryAfterSeconds) } },
  );
}
