import type { RedisClient } from '../storage/redis.ts';
import type { DeliveryJob } from '../storage/queues.ts';

export interface OutboxMessage {
  channel: 'email' | 'sms';
  to: string;
  subject?: string;
  text: string;
  html?: string;
  template: string;
  /** ISO time it was delivered to the outbox. */
  at: string;
  jobId?: string;
}

const KEEP = 50;
const KEEP_SECONDS = 86_400;

/**
 * Development and test stand-in for a mailbox: every message delivered while VIGIL_DEV_OUTBOX=1
 * is appended to a Redis list per destination (last 50, for a day), readable at GET /v1/dev/outbox.
 */
export class DevOutbox {
  constructor(private readonly redis: RedisClient) {}

  private key(to: string): string {
    return `outbox:${to}`;
  }

  async record(job: DeliveryJob, jobId?: string): Promise<void> {
    const message: OutboxMessage = {
      channel: job.channel,
      to: job.to,
      text: job.text,
      template: job.template,
      at: new Date().toISOString(),
    };
    if (job.subject) message.subject = job.subject;
    if (job.html) message.html = job.html;
    if (jobId) message.jobId = jobId;
    const key = this.key(job.to);
    await this.redis.multi().rpush(key, JSON.stringify(message)).ltrim(key, -KEEP, -1).expire(key, KEEP_SECONDS).exec();
  }

  /** Messages to `to` (normalised), oldest first. */
  async list(to: string): Promise<OutboxMessage[]> {
    const raw = await this.redis.lrange(this.key(to), 0, -1);
    return raw.map((entry) => JSON.parse(entry) as OutboxMessage);
  }
}
