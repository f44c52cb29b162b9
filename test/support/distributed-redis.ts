import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const SCRIPT = fileURLToPath(new URL('../../scripts/redis-cluster.sh', import.meta.url));
const DATA = fileURLToPath(new URL('../../.data/', import.meta.url));
const run = promisify(execFile);

/**
 * A Redis Cluster (3 masters + 3 replicas) or a Sentinel set (master, replica, 3 sentinels) on
 * loopback, started through scripts/redis-cluster.sh as an operator would. `env` is what a gateway
 * or worker needs to use it. Each test file passes its own base port, so a fault test that kills
 * masters never disturbs another file.
 */
export interface DistributedRedis {
  mode: 'cluster' | 'sentinel';
  env: Record<string, string>;
  /** Loopback ports of the data nodes (not the sentinels). */
  ports: number[];
  /** The data nodes that are masters right now. */
  masters(): Promise<number[]>;
  /** Every master has a replica that is in sync (WAIT can be satisfied everywhere). */
  replicated(): Promise<boolean>;
  /** SIGKILL of one data node: no shutdown, no save, no goodbye to its replica. */
  kill(port: number): void;
  /** Starts whatever is not running again (the script is idempotent). */
  start(): Promise<void>;
  /** Kills every node and removes its data. */
  destroy(): Promise<void>;
}

export async function startDistributedRedis(mode: 'cluster' | 'sentinel', base: number): Promise<DistributedRedis> {
  const start = async () => void (await run('bash', [SCRIPT, mode, 'start', '--base', String(base), '--quiet']));
  const stop = async () => void (await run('bash', [SCRIPT, mode, 'stop', '--base', String(base), '--quiet']));
  // A start that failed part-way leaves nodes running that no caller holds: stop them.
  await start().catch(async (err: unknown) => {
    await stop().catch(() => undefined);
    throw err;
  });
  const ports = mode === 'cluster' ? [0, 1, 2, 3, 4, 5].map((i) => base + i) : [base, base + 1];
  const env: Record<string, string> =
    mode === 'cluster'
      ? {
          REDIS_CLUSTER_NODES: ports
            .slice(0, 3)
            .map((p) => `127.0.0.1:${p}`)
            .join(','),
        }
      : {
          REDIS_SENTINELS: [10, 11, 12].map((i) => `127.0.0.1:${base + i}`).join(','),
          REDIS_SENTINEL_MASTER: 'vigil',
        };
  const redis: DistributedRedis = {
    mode,
    env,
    ports,
    async masters() {
      const roles = await Promise.all(ports.map(async (port) => ((await role(port)) === 'master' ? port : 0)));
      return roles.filter((port) => port > 0);
    },
    async replicated() {
      const masters = await redis.masters();
      const infos = await Promise.all(masters.map((port: number) => info(port, 'replication')));
      return masters.length > 0 && infos.every((text) => /^slave\d+:.*state=online/m.test(text ?? ''));
    },
    kill(port) {
      const pid = Number(readFileSync(`${DATA}redis-${mode}-${base}/${port}.pid`, 'utf8'));
      process.kill(pid, 'SIGKILL');
    },
    start,
    destroy: stop,
  };
  return redis;
}

async function info(port: number, section: string): Promise<string | undefined> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await redis.info(section);
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/** 'master', 'slave', or undefined when the node does not answer. */
async function role(port: number): Promise<string | undefined> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const [name] = (await redis.role()) as [string];
    return name;
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/** One command connection to a single node (no cluster routing), closed after `use`. */
export async function onRedisNode<T>(port: number, use: (node: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  try {
    return await use(client);
  } finally {
    client.disconnect();
  }
}
