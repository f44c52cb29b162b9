import type { RedisClient } from '../../storage/redis.ts';
import type { ErrorCode } from '../../../protocol/errors.ts';
import type { EnrollmentStatus } from '../../../protocol/http/biometrics.ts';
import type { Logger } from '../../observability/logger.ts';

/**
 * A change of an enrolment, as every gateway process hears it: the socket concern forwards
 * these as `enroll.progress` / `enroll.ready` to the sockets of `userId`.
 */
export interface EnrollmentEvent {
  enrollmentId: string;
  userId: string;
  status: EnrollmentStatus;
  /** 0…1 (training progress; 1 when ready). */
  progress: number;
  /** Set when status is ready. */
  modelVersion?: number;
  /** Set when status is failed. */
  error?: { code: ErrorCode; message: string };
  /** Epoch ms. */
  at: number;
}

export type EnrollmentListener = (event: EnrollmentEvent) => void;

/** Every model version of `userId` was deleted (DELETE /v1/biometrics/model, withdrawal): stop scoring with it. */
export interface ModelsDeletedEvent {
  userId: string;
  /** Epoch ms. */
  at: number;
}

export type ModelsDeletedListener = (event: ModelsDeletedEvent) => void;

/** `<REDIS_PREFIX>biometrics:models-deleted`. */
export function modelsDeletedChannel(prefix: string): string {
  return `${prefix}biometrics:models-deleted`;
}

export async function publishModelsDeleted(redis: RedisClient, prefix: string, userId: string): Promise<void> {
  await redis.publish(modelsDeletedChannel(prefix), JSON.stringify({ userId, at: Date.now() }));
}

/** `<REDIS_PREFIX>biometrics:enrollments`: ioredis' keyPrefix does not apply to channels. */
export function enrollmentChannel(prefix: string): string {
  return `${prefix}biometrics:enrollments`;
}

/** Publishes from any process (gateway, or the worker service that ran the training). */
export async function publishEnrollmentEvent(
  redis: RedisClient,
  prefix: string,
  event: Omit<EnrollmentEvent, 'at'>,
): Promise<void> {
  await redis.publish(enrollmentChannel(prefix), JSON.stringify({ ...event, at: Date.now() }));
}

/**
 * The subscribing side, one per gateway process. Events published while the subscriber is
 * disconnected are lost; consumers that must not miss an outcome (waitForEnrollment) also
 * poll the enrolment record.
 */
export class EnrollmentEvents {
  readonly channel: string;
  readonly deletionsChannel: string;
  private readonly listeners = new Set<EnrollmentListener>();
  private readonly deletionListeners = new Set<ModelsDeletedListener>();

  constructor(
    private readonly subscriber: RedisClient,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.channel = enrollmentChannel(prefix);
    this.deletionsChannel = modelsDeletedChannel(prefix);
  }

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.dispatch(message, this.listeners);
      else if (channel === this.deletionsChannel) this.dispatch(message, this.deletionListeners);
    });
    if (this.subscriber.status === 'wait') await this.subscriber.connect();
    await this.subscriber.subscribe(this.channel, this.deletionsChannel);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.deletionListeners.clear();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }

  /** Adds a listener; returns its removal. */
  on(listener: EnrollmentListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onModelsDeleted(listener: ModelsDeletedListener): () => void {
    this.deletionListeners.add(listener);
    return () => this.deletionListeners.delete(listener);
  }

  private dispatch<E>(message: string, listeners: Set<(event: E) => void>): void {
    let event: E;
    try {
      event = JSON.parse(message) as E;
    } catch {
      this.logger.warn({ channel: this.channel }, 'unreadable biometric event');
      return;
    }
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.warn({ err }, 'enrolment event listener failed');
      }
    }
  }
}
