import type { RedisClient } from '../storage/redis.ts';

export interface LockoutPolicy {
  /** Failures within `windowSeconds` that lock the identifier. */
  maxFailures: number;
  windowSeconds: number;
  /** First lock length; each further lock within `memorySeconds` doubles it, up to `maxLockSeconds`. */
  lockSeconds: number;
  maxLockSeconds: number;
  memorySeconds: number;
}

// Counts a failure; at the threshold sets the lock (length doubling per earlier lock) and
// clears the counter. Returns the lock TTL in seconds, or 0 when not locked.
const FAIL = `
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if failures < tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
local strikes = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[5])
local seconds = math.min(tonumber(ARGV[3]) * 2 ^ (strikes - 1), tonumber(ARGV[4]))
redis.call('SET', KEYS[2], strikes, 'EX', seconds)
return seconds
`;

/** Progressive lockout of an identifier (username, email, phone) after repeated failures. */
export class Lockout {
  constructor(
    private readonly redis: RedisClient,
    private readonly policy: LockoutPolicy,
  ) {
    redis.defineCommand('vigilLockoutFail', { numberOfKeys: 3, lua: FAIL });
  }

  private keys(identifier: string) {
    // One hash tag, so the failure script's three keys share a slot on a Redis Cluster.
    return [`lock:fail:{${identifier}}`, `lock:on:{${identifier}}`, `lock:strikes:{${identifier}}`] as const;
  }

  /** Seconds the identifier stays locked, 0 if it is not. */
  async lockedFor(identifier: string): Promise<number> {
    const ttl = await this.redis.ttl(this.keys(identifier)[1]);
    return ttl > 0 ? ttl : 0;
  }

  /** Records a failed attempt; returns the new lock length in seconds if this failure locked it. */
  async fail(identifier: string): Promise<number> {
    const p = this.policy;
    const [failures, lock, strikes] = this.keys(identifier);
    return Number(
      await (this.redis as unknown as LockoutCommands).vigilLockoutFail(
        failures,
        lock,
        strikes,
        p.maxFailures,
        p.windowSeconds,
        p.lockSeconds,
        p.maxLockSeconds,
        p.memorySeconds,
      ),
    );
  }

  /** A successful login forgets earlier failures (but not strikes, which decay by themselves). */
  async succeed(identifier: string): Promise<void> {
    await this.redis.del(this.keys(identifier)[0]);
  }
}

interface LockoutCommands {
  vigilLockoutFail(...args: Array<string | number>): Promise<unknown>;
}
