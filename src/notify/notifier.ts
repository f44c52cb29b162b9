import type { Queue } from 'bullmq';
import { VigilError } from '../../protocol/errors.ts';
import type { Locale } from '../../protocol/http/accounts.ts';
import type { DeliveryJob } from '../storage/queues.ts';
import { renderMessage, type TemplateInput } from './templates.ts';

/** How a code or link reaches a person. */
export type Channel = 'email' | 'sms';

export interface SendRequest {
  channel: Channel;
  /** Normalised destination. */
  to: string;
  locale: Locale;
  message: TemplateInput;
}

/**
 * Queues mail and SMS; never sends inline, so a slow or failing provider cannot hold a request.
 * The job is retried with backoff by the delivery processor (in-process or workers/main.ts).
 */
export class Notifier {
  constructor(
    private readonly queue: Queue<DeliveryJob>,
    private readonly channels: { email: boolean; sms: boolean },
  ) {}

  canDeliver(channel: Channel): boolean {
    return this.channels[channel];
  }

  /** Throws CHANNEL_UNAVAILABLE when nothing could ever deliver on that channel. */
  assertDeliverable(channel: Channel): void {
    if (!this.channels[channel]) throw new VigilError('CHANNEL_UNAVAILABLE', { channel });
  }

  /** Renders and enqueues; resolves with the job id once the job is safely in Redis. */
  async send(request: SendRequest): Promise<string> {
    this.assertDeliverable(request.channel);
    const rendered = renderMessage(request.message, request.locale, request.channel);
    const job: DeliveryJob = {
      channel: request.channel,
      to: request.to,
      text: rendered.text,
      template: request.message.template,
      locale: request.locale,
    };
    if (request.channel === 'email') {
      job.subject = rendered.subject;
      if (rendered.html) job.html = rendered.html;
    }
    const added = await this.queue.add(request.message.template, job);
    return added.id!;
  }
}
