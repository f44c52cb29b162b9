import type { RedisClient } from '../storage/redis.ts';

export interface LimitRule {
  /** Most hits allowed per window. */
  limit: number;
  windowSeconds: number;
}

export interface LimitResult {
  allowed: boolean;
  remaining: number;
  /** Seconds until the window resets (0 when allowed). */
  retryAfter: number;
}

// INCR and EXPIRE in one script: concurrent hits can never exceed the limit, and a key can
// never be left without a TTL by a crash between the two commands.
const HIT = `
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
`;

/**
 * Fixed-window counters in Redis, shared by every gateway process. Keys are namespaced by the
 * caller ("login:ip:1.2.3.4"); the client's REDIS_PREFIX applies on top.
 */
export class RateLimiter {
  constructor(private readonly redis: RedisClient) {
    redis.defineCommand('vigilRateHit', { numberOfKeys: 1, lua: HIT });
  }

  /** Counts `cost` hits (e.g. windows of one upload) against the rule. */
  async hit(key: string, rule: LimitRule, cost = 1): Promise<LimitResult> {
    const [count, ttl] = (await (this.redis as unknown as RateCommands).vigilRateHit(`rl:${key}`, rule.windowSeconds, cost)) as [
      number,
      number,
    ];
    const allowed = count <= rule.limit;
    return { allowed, remaining: Math.max(0, rule.limit - count), retryAfter: allowed ? 0 : Math.max(1, ttl) };
  }

  /** Current count without counting a hit (for tests and introspection). */
  async peek(key: string): Promise<number> {
    return Number((await this.redis.get(`rl:${key}`)) ?? 0);
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(`rl:${key}`);
  }
}

interface RateCommands {
  vigilRateHit(key: string, windowSeconds: number, cost: number): Promise<unknown>;
}
