import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Cluster } from 'ioredis';
import { MongoClient } from 'mongodb';
import type { Config } from '../../src/config/schema.ts';
import { startGateway, type Gateway, type StartOptions } from '../../src/gateway/gateway.ts';
import type { InjectedReply } from '../../src/server/http/exchange.ts';
import type { InjectRequest } from '../../src/server/http/router.ts';
import { connectRedis, createRedis } from '../../src/storage/redis.ts';
import { configEnv, testConfig } from './config.ts';
import { listeningPort } from '../../scripts/child-gateway.ts';

export interface TestGateway {
  gateway: Gateway;
  config: Config;
  /** The listening gateway's base URL (empty with `listen: false`: use `inject`). */
  url: string;
  /** One request through the gateway's router in memory (no socket); see Router.inject. */
  inject(request: InjectRequest): Promise<InjectedReply>;
  /** Closes the gateway and deletes this test's database and Redis keys. */
  close(): Promise<void>;
}

/** Starts a gateway in this process on a free port, with isolated data (`options.clock`: a TestClock to move time). */
export async function startTestGateway(overrides: Record<string, string> = {}, options: StartOptions = {}): Promise<TestGateway> {
  const config = testConfig(overrides);
  const gateway = await startGateway(config, options);
  return {
    gateway,
    config,
    url: gateway.port ? `http://127.0.0.1:${gateway.port}` : '',
    inject: (request) => gateway.inject(request),
    async close() {
      await gateway.close();
      await dropTestData(config);
    },
  };
}

/** Removes a test's Mongo database and every Redis key under its prefix. */
export async function dropTestData(config: Config): Promise<void> {
  const mongo = new MongoClient(config.MONGO_URL, { serverSelectionTimeoutMS: 2_000 });
  try {
    await mongo.connect();
    await mongo.db(config.MONGO_DB).dropDatabase();
  } catch {
    // The test may have stopped the server on purpose; nothing left to clean.
  } finally {
    await mongo.close().catch(() => {});
  }
  await dropRedisKeys(config).catch(() => {
    // as above
  });
}

/** Deletes every key under the test's prefix, on each master of a cluster or the one Redis otherwise. */
async function dropRedisKeys(config: Config): Promise<void> {
  const client = createRedis({ ...config, REDIS_PREFIX: '' }, 'test-cleanup');
  try {
    await connectRedis(client, 2_000);
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${config.REDIS_PREFIX}*`, 'COUNT', 500);
        cursor = next;
        // One key per command: on a cluster the keys of one node span many slots.
        await Promise.all(keys.map((key) => node.del(key)));
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
}

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** Everything the process wrote, for assertions on logs. */
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** Starts `src/main.ts` as a real child process (as `npm start` would) and waits for "listening". */
export async function spawnGateway(config: Config, extraEnv: Record<string, string> = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { ...process.env, ...configEnv(config), LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await listeningPort(child, (chunk) => (output += chunk.toString()));
  return { child, port, url: `http://127.0.0.1:${port}`, output: () => output, exited };
}
