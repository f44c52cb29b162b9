import { Queue, Worker, type ConnectionOptions, type JobsOptions, type Processor, type WorkerOptions } from 'bullmq';
import type { Config } from '../config/schema.ts';
import type { Cluster } from 'ioredis';
import { bullPrefix, bullRedisOptions, createBullCluster, redisTopology } from './redis.ts';

/**
 * BullMQ queues shared by the gateway (producers, and embedded workers) and `workers/main.ts`.
 * One place names every queue and the payload its jobs carry, so producer and processor cannot
 * drift apart.
 */
export const QUEUE_NAMES = {
  /** Mail and SMS (codes, verification links): workers/delivery-processor.ts. */
  delivery: 'delivery',
  /** Biometric model training: workers/training-processor.ts (sandboxed in child processes, reused across jobs). */
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

/**
 * Train a model version from one committed enrolment. Only ids travel: the samples stay in Mongo
 * (`enrollment_parts`), where the processor reads them (workers/training-processor.ts).
 */
export interface TrainingJob {
  enrollmentId: string;
  userId: string;
}

/** Job payload per queue. */
export interface QueuePayloads {
  delivery: DeliveryJob;
  training: TrainingJob;
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
    case 'training':
      return {
        // VIGIL_TRAINING_ATTEMPTS tries when the thread dies or a store fails (bad data fails at once).
        attempts: config.VIGIL_TRAINING_ATTEMPTS,
        backoff: { type: 'fixed', delay: 1_000 },
        // The enrolment record in Mongo keeps the outcome; the job only serves progress while it runs.
        removeOnComplete: { age: 3_600, count: 1_000 },
        removeOnFail: { age: 86_400, count: 1_000 },
      };
  }
}

/**
 * Where every queue and worker connects: BullMQ's own connection (no ioredis keyPrefix) and the
 * hash-tagged prefix. BullMQ opens (and closes) its own connections from options, but it can only
 * build standalone clients: on a cluster it gets a Cluster instance, which it shares and never
 * closes — close it with `closeQueueConnection` after the queue or worker.
 */
export function queueConnection(config: Config): { connection: ConnectionOptions; prefix: string } {
  if (redisTopology(config) === 'cluster') return { connection: createBullCluster(config), prefix: bullPrefix(config) };
  // BullMQ declares its own RedisOptions type; ioredis' retryStrategy is the same function, typed
  // a little wider, so it is re-wrapped rather than cast.
  const { retryStrategy, ...rest } = bullRedisOptions(config);
  return {
    connection: { ...rest, retryStrategy: (attempt: number) => retryStrategy?.(attempt) ?? null },
    prefix: bullPrefix(config),
  };
}

/** Closes the cluster client `queueConnection` made for a queue or worker (nothing otherwise). */
export async function closeQueueConnection(connection: ConnectionOptions): Promise<void> {
  if (isSharedClient(connection)) await connection.quit().catch(() => connection.disconnect());
}

function isSharedClient(connection: ConnectionOptions): connection is Cluster {
  return typeof (connection as { quit?: unknown }).quit === 'function';
}

/** A queue or worker whose close also closes the cluster client it was given. */
function owningConnection<T extends { close(): Promise<void> }>(bull: T, connection: ConnectionOptions): T {
  if (!isSharedClient(connection)) return bull;
  const close = bull.close.bind(bull);
  bull.close = async () => {
    await close();
    await closeQueueConnection(connection);
  };
  return bull;
}

export function createDeliveryQueue(config: Config): Queue<DeliveryJob> {
  const connection = queueConnection(config);
  return owningConnection(
    new Queue<DeliveryJob>(QUEUE_NAMES.delivery, { ...connection, defaultJobOptions: defaultJobOptions(config, 'delivery') }),
    connection.connection,
  );
}

/**
 * How long a worker's lock on a job lasts unless renewed (renewed at half of it while the job
 * runs; BullMQ's default is 30 s) and how often every worker looks for jobs whose lock lapsed
 * (default 30 s). A worker process that dies mid-job holds its jobs until the lock lapses; the
 * next stalled check hands them to a live worker: within 15 s rather than BullMQ's up to 60 s.
 * Use for every worker: `new Worker(name, processor, { ...JOB_LOCK_OPTIONS, … })`.
 */
export const JOB_LOCK_OPTIONS = { lockDuration: 10_000, stalledInterval: 5_000 } as const satisfies Partial<WorkerOptions>;

export function createDeliveryWorker(
  config: Config,
  processor: Processor<DeliveryJob>,
  options: Omit<WorkerOptions, 'connection' | 'prefix'> = {},
): Worker<DeliveryJob> {
  // Sending is I/O-bound (SMTP, HTTPS): several jobs at once per process.
  const connection = queueConnection(config);
  return owningConnection(
    new Worker<DeliveryJob>(QUEUE_NAMES.delivery, processor, { concurrency: 8, ...JOB_LOCK_OPTIONS, ...options, ...connection }),
    connection.connection,
  );
}

export function createTrainingQueue(config: Config): Queue<TrainingJob> {
  const connection = queueConnection(config);
  return owningConnection(
    new Queue<TrainingJob>(QUEUE_NAMES.training, { ...connection, defaultJobOptions: defaultJobOptions(config, 'training') }),
    connection.connection,
  );
}

/** BullMQ job id of an enrolment's training: one job per enrolment, so a repeated commit cannot queue two. */
export function trainingJobId(enrollmentId: string): string {
  return `train-${enrollmentId}`;
}
