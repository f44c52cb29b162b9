import type { RedisClient } from '../../src/storage/redis.ts';

/**
 * Brings a key's Redis expiry (PX/EX) forward to now and waits until Redis has dropped it. A test
 * cannot move Redis' clock: it checks the TTL the gateway set, then lets Redis expire the key as
 * it would when that TTL runs out, instead of sleeping through it.
 */
export async function expireNow(redis: RedisClient, key: string): Promise<void> {
  if ((await redis.pexpire(key, 1)) !== 1) throw new Error(`expireNow: no key ${key}`);
  while ((await redis.exists(key)) === 1) await new Promise((resolve) => setTimeout(resolve, 2));
}
