import { ConfigError, loadConfig } from '../src/config/config.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startDeliveryWorker, type DeliveryWorker } from './delivery-processor.ts';
import { startTrainingWorker, type TrainingWorker } from './training-worker.ts';

/**
 * The standalone BullMQ worker service (docker-compose `worker`): runs the processors that the
 * gateway otherwise embeds (VIGIL_EMBEDDED_WORKERS). Scale it independently of the gateway.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vigil-worker: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config.LOG_LEVEL, { component: 'worker' });
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

  const running: Array<{ name: string; close(): Promise<void> }> = [];
  // Model training: each job in its own worker thread (workers/training-processor.ts). Started
  // first: it also needs MongoDB, and "workers running" should mean every queue is served.
  const training: TrainingWorker = await startTrainingWorker(config, logger.child({ component: 'training' }));
  running.push({ name: 'training', close: () => training.close() });
  const delivery: DeliveryWorker = await startDeliveryWorker(config, logger);
  running.push({ name: 'delivery', close: () => delivery.close() });
  logger.info({ queues: running.map((r) => r.name) }, 'workers running');

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const hardStop = setTimeout(() => {
      logger.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    hardStop.unref();
    // Workers finish the job in hand (BullMQ close waits for it) before the process exits.
    Promise.all(running.map((r) => r.close().catch((err: unknown) => logger.warn({ err, worker: r.name }, 'close failed')))).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`vigil-worker: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
