import { Queue, Worker, type ConnectionOptions, type JobsOptions, type Processor, type WorkerOptions } from 'bullmq';
import type { Config } from '../config/schema.ts';
import { bullConnection, bullPrefix } from './redis.ts';

/**
 * BullMQ queues shared by the gateway (producers, and embedded workers) and `workers/main.ts`.
 * One place names every queue and the payload its jobs carry, so producer and processor cannot
 * drift apart.
 */
export const QUEUE_NAMES = {
  /** Mail and SMS (codes, verification links): workers/delivery-processor.ts. */
  delivery: 'delivery',
  /** Biometric model training: added by the biometrics concern. */
  training: 'training',
} as const;

/** One outgoing message, rendered at enqueue time so processors need no templates or account data. */
export interface DeliveryJob {
  channel: 'email' | 'sms';
  /** Normalised destination: email address or E.164 phone. */
  to: string;
  /** Mail only. */
  subject?: string;
  text: string;
  html?: string;
  /** Template that produced it (for logs and metrics; never the content). */
  template: string;
  locale: string;
}

/** Job payload per queue. The training payload is declared by the biometrics concern. */
export interface QueuePayloads {
  delivery: DeliveryJob;
}

export type QueueName = keyof QueuePayloads;

/** Job defaults per queue, from config. Every option is documented where the config declares it. */
export function defaultJobOptions(config: Config, name: QueueName): JobsOptions {
  switch (name) {
    case 'delivery':
      return {
        // VIGIL_DELIVERY_ATTEMPTS tries; retries wait VIGIL_DELIVERY_BACKOFF_MS, doubling each time.
        attempts: config.VIGIL_DELIVERY_ATTEMPTS,
        backoff: { type: 'exponential', delay: config.VIGIL_DELIVERY_BACKOFF_MS },
        // Jobs carry message text (codes): keep nothing once sent, failures for a day to diagnose.
        removeOnComplete: true,
        removeOnFail: { age: 86_400, count: 1_000 },
      };
  }
}

/** Where every queue and worker connects: BullMQ's own connection (no ioredis keyPrefix) and prefix. */
export function queueConnection(config: Config): { connection: ConnectionOptions; prefix: string } {
  // BullMQ declares its own RedisOptions type; ioredis' retryStrategy is the same function, typed
  // a little wider, so it is re-wrapped rather than cast.
  const { retryStrategy, ...options } = bullConnection(config);
  return {
    connection: { ...options, retryStrategy: (attempt: number) => retryStrategy?.(attempt) ?? null },
    prefix: bullPrefix(config),
  };
}

export function createDeliveryQueue(config: Config): Queue<DeliveryJob> {
  return new Queue<DeliveryJob>(QUEUE_NAMES.delivery, { ...queueConnection(config), defaultJobOptions: defaultJobOptions(config, 'delivery') });
}

export function createDeliveryWorker(
  config: Config,
  processor: Processor<DeliveryJob>,
  options: Omit<WorkerOptions, 'connection' | 'prefix'> = {},
): Worker<DeliveryJob> {
  // Sending is I/O-bound (SMTP, HTTPS): several jobs at once per process.
  return new Worker<DeliveryJob>(QUEUE_NAMES.delivery, processor, { concurrency: 8, ...options, ...queueConnection(config) });
}
