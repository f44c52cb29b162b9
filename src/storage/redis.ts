import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.ts';

/**
 * A command client: one Redis (standalone, or the master Sentinel names) or a Redis Cluster.
 * Both take the same commands; what differs is that on a cluster every MULTI, pipeline and
 * script must keep its keys in one hash slot (docs/operations.md, "Hash tags").
 */
export type RedisClient = Redis | Cluster;

/** Which Redis deployment the configuration names. */
export type RedisTopology = 'standalone' | 'cluster' | 'sentinel';

export function redisTopology(config: Config): RedisTopology {
  if (config.REDIS_CLUSTER_NODES) return 'cluster';
  if (config.REDIS_SENTINELS) return 'sentinel';
  return 'standalone';
}

/**
 * Command client: every key is prefixed with REDIS_PREFIX. No offline queue, one retry — while
 * Redis is away a command fails at once and the request answers 503 instead of hanging.
 */
export function createRedis(config: Config, name = 'vigil'): RedisClient {
  const options: RedisOptions = {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(50 * attempt, 1_000),
    lazyConnect: true,
  };
  return createClient(config, options, config.REDIS_PREFIX);
}

/**
 * What BullMQ connects with: it forbids ioredis' keyPrefix (it prefixes queues itself) and must
 * retry forever so workers ride out a Redis restart or failover. BullMQ builds standalone and
 * sentinel clients from these options itself; a cluster client is built here (`createBullCluster`).
 */
const BULL_OPTIONS: RedisOptions = { maxRetriesPerRequest: null, retryStrategy: (attempt) => Math.min(100 * attempt, 2_000) };

export function bullRedisOptions(config: Config): RedisOptions {
  return clientOptions(config, BULL_OPTIONS);
}

export function createBullCluster(config: Config): Cluster {
  return createCluster(config, BULL_OPTIONS);
}

function createClient(config: Config, options: RedisOptions, keyPrefix?: string): RedisClient {
  if (redisTopology(config) === 'cluster') return createCluster(config, options, keyPrefix);
  return new Redis(clientOptions(config, options, keyPrefix));
}

function createCluster(config: Config, options: RedisOptions, keyPrefix?: string): Cluster {
  const { lazyConnect, enableOfflineQueue, retryStrategy: _perNode, ...nodeOptions } = options;
  return new Cluster(hostPorts(config.REDIS_CLUSTER_NODES!), {
    keyPrefix,
    lazyConnect,
    enableOfflineQueue,
    // After a master dies its slots answer CLUSTERDOWN until a replica is promoted (about
    // twice the node timeout): re-read the slot map soon and often rather than give up.
    retryDelayOnClusterDown: 200,
    retryDelayOnFailover: 200,
    clusterRetryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
    redisOptions: { ...nodeOptions, ...credentials(config) },
  });
}

/** Options of a standalone client, or of one that asks the sentinels for the master. */
function clientOptions(config: Config, options: RedisOptions, keyPrefix?: string): RedisOptions {
  if (redisTopology(config) === 'sentinel') {
    return {
      ...options,
      ...credentials(config),
      keyPrefix,
      sentinels: hostPorts(config.REDIS_SENTINELS!),
      name: config.REDIS_SENTINEL_MASTER,
      // A master demoted while this client stayed connected answers writes with READONLY:
      // reconnect, which asks the sentinels for the master again. (ioredis' failoverDetector,
      // which reconnects on every sentinel's +switch-master, left a client in a reconnect loop
      // for seconds after a failover in the failover test; a killed master closes the connection
      // anyway.)
      reconnectOnError: (err) => err.message.startsWith('READONLY'),
      sentinelRetryStrategy: (attempt) => Math.min(100 * attempt, 1_000),
    };
  }
  const url = new URL(config.REDIS_URL);
  return {
    ...options,
    ...credentials(config),
    keyPrefix,
    host: url.hostname,
    port: Number(url.port || 6379),
    db: Number(url.pathname.slice(1) || 0),
  };
}

/** Credentials and TLS from REDIS_URL, which apply to cluster nodes and sentinel masters too. */
function credentials(config: Config): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const url = new URL(config.REDIS_URL);
  return {
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    tls: url.protocol === 'rediss:' ? {} : undefined,
  };
}

function hostPorts(list: string): { host: string; port: number }[] {
  return list.split(',').map((entry) => {
    const at = entry.lastIndexOf(':');
    return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
  });
}

/**
 * BullMQ queue prefix derived from REDIS_PREFIX ("vigil:" → "vigil:{bull}"). The hash tag keeps
 * every key of a queue in one slot, which BullMQ's scripts need on a Redis Cluster.
 */
export function bullPrefix(config: Config): string {
  return `${config.REDIS_PREFIX}{bull}`;
}

/** Waits for the first successful connection, or throws after `timeoutMs`. */
export async function connectRedis(redis: RedisClient, timeoutMs: number): Promise<void> {
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
  throw new Error(`Redis at ${describe(redis)} did not become ready within ${timeoutMs} ms`, { cause: lastError });
}

function describe(redis: RedisClient): string {
  if (redis instanceof Cluster) return 'the cluster (REDIS_CLUSTER_NODES)';
  if (redis.options.sentinels) return `sentinel master ${redis.options.name}`;
  return `${redis.options.host}:${redis.options.port}`;
}
