import { UnrecoverableError, type Job, type Processor, type Worker } from 'bullmq';
import type { RedisClient } from '../src/storage/redis.ts';
import type { Config } from '../src/config/schema.ts';
import { DeliveryError } from '../src/notify/delivery-error.ts';
import { transportsFromConfig, type DeliveryTransports } from '../src/notify/transports.ts';
import type { Logger } from '../src/observability/logger.ts';
import { createDeliveryWorker, type DeliveryJob } from '../src/storage/queues.ts';
import { connectRedis, createRedis } from '../src/storage/redis.ts';

/** Marks a job as sent, so a retry after a crash between "sent" and "completed" does not send twice. */
const SENT_TTL_SECONDS = 86_400;

/**
 * Sends one mail/SMS job. Transient failures throw (BullMQ retries with backoff); permanent ones
 * throw UnrecoverableError so the job fails at once. With the dev outbox on, each message is also
 * recorded there — after the real send, so a failed attempt leaves no trace.
 */
export function deliveryProcessor(deps: {
  transports: DeliveryTransports;
  redis: RedisClient;
  logger: Logger;
}): Processor<DeliveryJob> {
  const { transports, redis, logger } = deps;
  return async (job: Job<DeliveryJob>) => {
    const data = job.data;
    const sentKey = `delivery:sent:${job.id}`;
    if (await redis.exists(sentKey)) {
      logger.info({ jobId: job.id, template: data.template }, 'delivery already sent; not sending again');
      return;
    }
    const sender = data.channel === 'email' ? transports.email : transports.sms;
    if (!sender && !transports.outbox) throw new UnrecoverableError(`no ${data.channel} transport is configured`);
    try {
      if (data.channel === 'email' && transports.email) {
        await transports.email.send({ to: data.to, subject: data.subject ?? '', text: data.text, html: data.html });
      } else if (data.channel === 'sms' && transports.sms) {
        await transports.sms.send({ to: data.to, text: data.text });
      }
    } catch (err) {
      const permanent = err instanceof DeliveryError && err.permanent;
      logger.warn(
        {
          jobId: job.id,
          attempt: job.attemptsMade + 1,
          template: data.template,
          channel: data.channel,
          permanent,
          err: (err as Error).message,
        },
        'delivery failed',
      );
      if (permanent) throw new UnrecoverableError((err as Error).message);
      throw err;
    }
    await redis.set(sentKey, '1', 'EX', SENT_TTL_SECONDS);
    if (transports.outbox) {
      try {
        await transports.outbox.record(data, job.id);
      } catch (err) {
        // With a real transport the message is out; without one the outbox is the delivery.
        if (!sender) throw err;
        logger.warn({ err, jobId: job.id }, 'dev outbox write failed');
      }
    }
    logger.info({ jobId: job.id, template: data.template, channel: data.channel, attempt: job.attemptsMade + 1 }, 'delivered');
  };
}

export interface DeliveryWorker {
  worker: Worker<DeliveryJob>;
  close(): Promise<void>;
}

/** Starts a delivery worker with transports from config (embedded in the gateway or in workers/main.ts). */
export async function startDeliveryWorker(config: Config, logger: Logger): Promise<DeliveryWorker> {
  const redis = createRedis(config, 'vigil-delivery');
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'delivery redis error'));
  await connectRedis(redis, 15_000);
  const transports = transportsFromConfig(config, redis);
  const worker = createDeliveryWorker(config, deliveryProcessor({ transports, redis, logger }));
  worker.on('error', (err) => logger.warn({ err: err.message }, 'delivery worker error'));
  worker.on('failed', (job, err) => {
    if (job && (job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError)) {
      logger.error(
        { jobId: job.id, template: job.data.template, channel: job.data.channel, err: err.message },
        'delivery given up',
      );
    }
  });
  await worker.waitUntilReady();
  return {
    worker,
    async close() {
      await worker.close();
      await transports.email?.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
