import { systemClock, type Clock } from '../../src/time/clock.ts';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { RateLimiter } from '../../src/rate-limits/rate-limiter.ts';
import { adminAuthenticator } from '../../src/server/admin-auth.ts';
import type { GatewayContext } from '../../src/server/context.ts';
import type { Config } from '../../src/config/schema.ts';
import { connectMongo } from '../../src/storage/mongo.ts';
import { connectRedis, createRedis } from '../../src/storage/redis.ts';
import { createSessionCore, type SessionCore } from '../../src/sessions/sessions-module.ts';
import type { ErrorBody } from '../../protocol/errors.ts';

/**
 * A second "gateway process" inside the test: its own Mongo and Redis connections and its own
 * session core over the same stores as the gateway under test. Sessions it creates are real
 * sessions of that gateway; revocations travel between the two over Redis pub/sub.
 */
export interface Node {
  core: SessionCore;
  context: GatewayContext;
  /** Connection name of the node's revocation subscriber (tests cut it on purpose). */
  subscriberName: string;
  close(): Promise<void>;
}

export async function startNode(config: Config, clock: Clock = systemClock): Promise<Node> {
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const mongo = await connectMongo(config);
  const redis = createRedis(config, 'test-node');
  redis.on('error', () => {});
  await connectRedis(redis, 10_000);
  const audit = new AuditLog(mongo.db, logger);
  const context: GatewayContext = {
    config,
    logger,
    metrics: createMetrics(),
    mongo,
    redis,
    audit,
    rateLimiter: new RateLimiter(redis),
    admin: adminAuthenticator(config.VIGIL_ADMIN_TOKEN),
    clock,
  };
  const subscriberName = `test-node-revocations-${randomBytes(4).toString('hex')}`;
  const core = createSessionCore(context, { subscriberName });
  await core.module.start?.();
  return {
    core,
    context,
    subscriberName,
    async close() {
      await core.module.close?.();
      await redis.quit().catch(() => redis.disconnect());
      await mongo.close();
    },
  };
}

export const errorCode = async (res: Response) => ((await res.json()) as ErrorBody).error.code;

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export function json(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
