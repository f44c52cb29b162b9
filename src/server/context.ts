import type { RedisClient } from '../storage/redis.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { RateLimiter } from '../rate-limits/rate-limiter.ts';
import type { MongoStore } from '../storage/mongo.ts';
import type { AdminPrincipal } from './admin-auth.ts';
import type { Authenticator } from './http/route.ts';
import type { Clock } from '../time/clock.ts';

/** What every concern receives when the gateway assembles it. Built once per gateway. */
export interface GatewayContext {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  mongo: MongoStore;
  redis: RedisClient;
  audit: AuditLog;
  rateLimiter: RateLimiter;
  admin: Authenticator<AdminPrincipal>;
  /** What time-based decisions made in JavaScript read (tests move it instead of sleeping). */
  clock: Clock;
}
