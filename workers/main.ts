import { runService } from '../src/server/service-process.ts';
import { startDeliveryWorker } from './delivery-processor.ts';
import { startTrainingWorker } from './training-worker.ts';

/**
 * The standalone BullMQ worker service (docker-compose `worker`): runs the processors that the
 * gateway otherwise embeds (VIGIL_EMBEDDED_WORKERS). Scale it independently of the gateway.
 */
runService(
  'vigil-worker',
  async (config, logger) => {
    const running: Array<{ name: string; close(): Promise<void> }> = [];
    // Model training (each job in a child process, workers/training-settings.ts). Started first: it
    // also needs MongoDB, and "workers running" should mean every queue is served.
    const training = await startTrainingWorker(config, logger.child({ component: 'training' }));
    running.push({ name: 'training', close: () => training.close() });
    const delivery = await startDeliveryWorker(config, logger);
    running.push({ name: 'delivery', close: () => delivery.close() });
    logger.info({ queues: running.map((r) => r.name) }, 'workers running');
    return {
      // Workers finish the job in hand (BullMQ close waits for it) before the process exits.
      async close() {
        await Promise.all(
          running.map((r) => r.close().catch((err: unknown) => logger.warn({ err, worker: r.name }, 'close failed'))),
        );
      },
    };
  },
  { component: 'worker' },
);
