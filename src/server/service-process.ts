import { ConfigError, loadConfig } from '../config/config.ts';
import type { Config } from '../config/schema.ts';
import { createLogger, type Logger } from '../observability/logger.ts';

/** What a started service hands back: how to stop it gracefully. */
export interface RunningService {
  close(): Promise<void>;
}

/**
 * The life of one service process (the gateway, the standalone worker): configuration (a bad one
 * exits 78, EX_CONFIG, naming the variable), the logger, start, and graceful shutdown on SIGTERM or
 * SIGINT bounded by SHUTDOWN_TIMEOUT_MS. A failed start exits 1 with its cause on stderr.
 */
export function runService<S extends RunningService>(
  name: string,
  start: (config: Config, logger: Logger) => Promise<S>,
  options: { component?: string; onStarted?: (service: S) => void } = {},
): void {
  const run = async () => {
    let config: Config;
    try {
      config = loadConfig();
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${name}: ${err.message}\n`);
        process.exit(78);
      }
      throw err;
    }
    const logger = createLogger(config.LOG_LEVEL, options.component ? { component: options.component } : {});
    process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
    const service = await start(config, logger);

    let stopping = false;
    const shutdown = (signal: string) => {
      // Once: a second signal (or the supervisor's after a terminal's Ctrl-C) must not cut the drain short.
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      const hardStop = setTimeout(() => {
        logger.error('graceful shutdown timed out; exiting');
        process.exit(1);
      }, config.SHUTDOWN_TIMEOUT_MS);
      hardStop.unref();
      service.close().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    // A process forked by the supervisor drains when the supervisor is gone (even SIGKILLed),
    // instead of serving on as an orphan nobody will stop.
    if (process.send) process.once('disconnect', () => shutdown('supervisor gone'));
    options.onStarted?.(service);
  };
  run().catch((err: unknown) => {
    process.stderr.write(`${name}: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    if (err instanceof Error && err.cause)
      process.stderr.write(`  cause: ${String((err.cause as Error).message ?? err.cause)}\n`);
    process.exit(1);
  });
}
