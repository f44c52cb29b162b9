import type { RedisClient } from '../storage/redis.ts';
import type { Config } from '../config/schema.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createMetrics, type Metrics } from '../observability/metrics.ts';
import { connectMongo, type MongoStore } from '../storage/mongo.ts';
import { connectRedis, createRedis } from '../storage/redis.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { RateLimiter } from '../rate-limits/rate-limiter.ts';
import { adminAuthenticator } from '../server/admin-auth.ts';
import type { GatewayContext } from '../server/context.ts';
import type { GatewayModule } from '../server/gateway-module.ts';
import { assembleModules } from './modules.ts';
import { apiDocsRoutes } from '../server/api-docs.ts';
import { Cors } from '../server/http/cors.ts';
import { Router, type InjectRequest } from '../server/http/router.ts';
import type { InjectedReply } from '../server/http/exchange.ts';
import type { Route } from '../server/http/route.ts';
import { systemRoutes } from '../server/system-routes.ts';
import { version } from '../server/version.ts';
import { uws, type TemplatedApp, type us_listen_socket, type WebSocket } from '../server/uws.ts';
import { ClientAddressResolver } from '../server/http/client-address.ts';
import { internalCredential } from '../server/internal-auth.ts';
import type { ScoringFaults } from '../biometrics/scoring-faults.ts';
import { systemClock, type Clock } from '../time/clock.ts';

/** A running gateway. Tests start several in one process; main.ts starts one. */
export interface Gateway {
  readonly port: number;
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly mongo: MongoStore;
  readonly redis: RedisClient;
  readonly routes: readonly Route[];
  readonly context: GatewayContext;
  /** The assembled concerns, in assembly order (tests reach services through them). */
  readonly modules: readonly GatewayModule[];
  /** Serves one HTTP request in memory through the router (tests that need no socket). */
  inject(request: InjectRequest): Promise<InjectedReply>;
  /** Graceful stop: refuse new work, close sockets with 1001, drain, close stores. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** The system clock unless a test passes one it can move. */
  clock?: Clock;
  /** Faults a test plants in the scoring pool (test gateways only). */
  scoringFaults?: ScoringFaults;
  /** Listen on HOST:PORT (default). Off: no socket is opened, requests come through `inject` only (port 0). */
  listen?: boolean;
}

export async function startGateway(config: Config, options: StartOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const metrics = createMetrics();
  const startupBudget = 15_000;

  const mongo = await connectMongoWithRetry(config, logger, startupBudget);
  const redis = createRedis(config, 'vigil-commands');
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  await connectRedis(redis, startupBudget);

  let draining = false;
  const sockets = new Set<WebSocket<unknown>>();
  const router = new Router({
    logger,
    metrics,
    jsonBodyLimit: config.HTTP_BODY_LIMIT,
    uploadBodyLimit: config.UPLOAD_BODY_LIMIT,
    clientAddress: ClientAddressResolver.fromConfig(config.TRUST_PROXY, config.VIGIL_TRUSTED_PROXIES),
    cors: new Cors({
      origins: config.VIGIL_CORS_ORIGINS,
      credentials: config.VIGIL_CORS_CREDENTIALS,
      maxAgeSeconds: config.VIGIL_CORS_MAX_AGE_SECONDS,
    }),
    validateResponses: config.NODE_ENV !== 'production',
    isDraining: () => draining,
  });

  const audit = new AuditLog(mongo.db, logger);
  await audit.ensureIndexes();
  const context: GatewayContext = {
    config,
    logger,
    metrics,
    mongo,
    redis,
    audit,
    rateLimiter: new RateLimiter(redis),
    admin: adminAuthenticator(config.VIGIL_ADMIN_TOKEN),
    clock: options.clock ?? systemClock,
  };
  const modules: GatewayModule[] = [];
  try {
    modules.push(...(await assembleModules(context, { scoringFaults: options.scoringFaults })));
    for (const module of modules) await module.start?.();
  } catch (err) {
    // A module that cannot start (bad setting, store refusing an index) must not leave
    // connections, pools or queues of the others running behind the thrown error.
    for (const module of [...modules].reverse()) await module.close?.().catch(() => {});
    redis.disconnect();
    await mongo.close().catch(() => {});
    throw err;
  }

  const app: TemplatedApp = uws.App();
  const system = systemRoutes({
    checks: [
      { name: 'mongo', ping: () => mongo.ping() },
      { name: 'redis', ping: async () => void (await redis.ping()) },
    ],
    metrics,
    metricsAuth: internalCredential({
      endpoint: 'GET /metrics',
      variable: 'VIGIL_METRICS_TOKEN',
      token: config.VIGIL_METRICS_TOKEN,
      production: config.NODE_ENV === 'production',
    }),
    routes: () => router.list(),
    version,
  });
  for (const module of modules) module.mountWs?.(app, { sockets, isDraining: () => draining });
  router.mount(app, [...system, ...apiDocsRoutes(), ...modules.flatMap((m) => m.routes ?? [])]);
  router.mountNotFound(app);

  const listenSocket =
    options.listen === false
      ? undefined
      : await new Promise<us_listen_socket>((resolve, reject) => {
          app.listen(config.HOST, config.PORT, (socket) => {
            if (socket) resolve(socket);
            else reject(new Error(`Cannot listen on ${config.HOST}:${config.PORT} (in use or not permitted)`));
          });
        });
  const port = listenSocket ? uws.us_socket_local_port(listenSocket) : 0;
  if (listenSocket) logger.info({ host: config.HOST, port, version }, 'listening');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      draining = true;
      if (listenSocket) uws.us_listen_socket_close(listenSocket);
      for (const socket of sockets) {
        try {
          socket.end(1001, 'server shutting down');
        } catch {
          // already closed
        }
      }
      await Promise.race([router.inFlight.idle(), delay(config.SHUTDOWN_TIMEOUT_MS - 2_000)]);
      for (const module of [...modules].reverse()) {
        await module.close?.().catch((err: unknown) => logger.warn({ err, module: module.name }, 'module close failed'));
      }
      await redis.quit().catch(() => redis.disconnect());
      await mongo.close();
      logger.info('stopped');
    })();
    return closing;
  };

  return {
    port,
    config,
    logger,
    metrics,
    mongo,
    redis,
    routes: router.list(),
    context,
    modules,
    inject: (request) => router.inject(request),
    close,
  };
}

async function connectMongoWithRetry(config: Config, logger: Logger, budgetMs: number): Promise<MongoStore> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    try {
      return await connectMongo(config);
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`MongoDB at MONGO_URL did not answer within ${budgetMs} ms`, { cause: err });
      logger.warn({ err: (err as Error).message }, 'waiting for MongoDB');
      await delay(500);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}
