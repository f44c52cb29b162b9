import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.ts';

/**
 * Command client: every key is prefixed with REDIS_PREFIX. No offline queue, one retry — while
 * Redis is away a command fails at once and the request answers 503 instead of hanging.
 */
export function createRedis(config: Config, name = 'vigil'): Redis {
  return new Redis(config.REDIS_URL, {
    connectionName: name,
    keyPrefix: config.REDIS_PREFIX,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(50 * attempt, 1_000),
    lazyConnect: true,
  });
}

/**
 * Connection options for BullMQ, which forbids ioredis' keyPrefix (it prefixes queues itself)
 * and must retry forever so workers ride out a Redis restart.
 */
export function bullConnection(config: Config): RedisOptions {
  const url = new URL(config.REDIS_URL);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    db: Number(url.pathname.slice(1) || 0),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
  };
}

/** BullMQ queue prefix derived from REDIS_PREFIX ("vigil:" → "vigil:bull"). */
export function bullPrefix(config: Config): string {
  return `${config.REDIS_PREFIX}bull`;
}

/** Waits for the first successful connection, or throws after `timeoutMs`. */
export async function connectRedis(redis: Redis, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (redis.status === 'wait' || redis.status === 'end') await redis.connect();
      if (redis.status !== 'ready') await new Promise((resolve) => setTimeout(resolve, 100));
      if (redis.status === 'ready') return;
    } catch (err) {
      lastError = err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new Error(`Redis at ${redacted(redis)} did not become ready within ${timeoutMs} ms`, { cause: lastError });
}

function redacted(redis: Redis): string {
  return `${redis.options.host}:${redis.options.port}`;
}
