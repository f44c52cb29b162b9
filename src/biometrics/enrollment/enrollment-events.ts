import type { Redis } from 'ioredis';
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

/** `<REDIS_PREFIX>biometrics:enrollments`: ioredis' keyPrefix does not apply to channels. */
export function enrollmentChannel(prefix: string): string {
  return `${prefix}biometrics:enrollments`;
}

/** Publishes from any process (gateway, or the worker service that ran the training). */
export async function publishEnrollmentEvent(redis: Redis, prefix: string, event: Omit<EnrollmentEvent, 'at'>): Promise<void> {
  await redis.publish(enrollmentChannel(prefix), JSON.stringify({ ...event, at: Date.now() }));
}

/**
 * The subscribing side, one per gateway process. Events published while the subscriber is
 * disconnected are lost; consumers that must not miss an outcome (waitForEnrollment) also
 * poll the enrolment record.
 */
export class EnrollmentEvents {
  readonly channel: string;
  private readonly listeners = new Set<EnrollmentListener>();

  constructor(
    private readonly subscriber: Redis,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.channel = enrollmentChannel(prefix);
  }

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.dispatch(message);
    });
    if (this.subscriber.status === 'wait') await this.subscriber.connect();
    await this.subscriber.subscribe(this.channel);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }

  /** Adds a listener; returns its removal. */
  on(listener: EnrollmentListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private dispatch(message: string): void {
    let event: EnrollmentEvent;
    try {
      event = JSON.parse(message) as EnrollmentEvent;
    } catch {
      this.logger.warn({ channel: this.channel }, 'unreadable enrolment event');
      return;
    }
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.warn({ err }, 'enrolment event listener failed');
      }
    }
  }
}
