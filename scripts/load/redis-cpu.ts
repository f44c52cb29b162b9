import { Redis } from 'ioredis';

/**
 * CPU seconds the Redis server has used so far (user + system, all its threads), from INFO cpu.
 * Redis is shared with whatever else runs on the machine, so an interval's difference is an upper
 * bound on what the gateway caused. Undefined when Redis is not reachable.
 */
export async function redisCpuSeconds(url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'): Promise<number | undefined> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000, enableOfflineQueue: false });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const info = await redis.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
    const seconds = field('used_cpu_user') + field('used_cpu_sys');
    return Number.isFinite(seconds) ? seconds : undefined;
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}
