import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { createLogger } from '../src/observability/logger.ts';
import { createDeliveryQueue, type DeliveryJob } from '../src/storage/queues.ts';
import { testConfig } from '../test/support/config.ts';
import { dropTestData } from '../test/support/gateway.ts';
import { mailText, startSmtpSink, startTwilioStub, waitFor } from '../test/identity/mail-sink.ts';
import { startDeliveryWorker, type DeliveryWorker } from './delivery-processor.ts';

// A real BullMQ queue and worker on real Redis, sending to a real SMTP server and an HTTP stand-in
// for Twilio, both of which fail on demand.
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let twilio: Awaited<ReturnType<typeof startTwilioStub>>;
let worker: DeliveryWorker;
let queue: Queue<DeliveryJob>;
let config: ReturnType<typeof testConfig>;

beforeAll(async () => {
  smtp = await startSmtpSink();
  twilio = await startTwilioStub();
  config = testConfig({
    VIGIL_SMTP_HOST: '127.0.0.1',
    VIGIL_SMTP_PORT: String(smtp.port),
    VIGIL_MAIL_FROM: 'Vigil <no-reply@vigil.test>',
    VIGIL_TWILIO_ACCOUNT_SID: 'AC0123456789',
    VIGIL_TWILIO_AUTH_TOKEN: 'secret-token',
    VIGIL_TWILIO_FROM: '+15005550006',
    VIGIL_TWILIO_BASE_URL: twilio.baseUrl,
    VIGIL_DELIVERY_ATTEMPTS: '4',
    VIGIL_DELIVERY_BACKOFF_MS: '100',
  });
  worker = await startDeliveryWorker(config, createLogger('silent'));
  queue = createDeliveryQueue(config);
});

afterAll(async () => {
  await worker.close();
  await queue.close();
  await smtp.close();
  await twilio.close();
  await dropTestData(config);
});

const mail = (to: string, text: string): DeliveryJob => ({
  channel: 'email',
  to,
  subject: 'Your code',
  text,
  template: 'code',
  locale: 'en',
});

async function finalState(jobId: string): Promise<string> {
  return waitFor(async () => {
    const job = await queue.getJob(jobId);
    if (!job) return 'completed'; // removed on completion
    const state = await job.getState();
    return state === 'failed' ? 'failed' : undefined;
  });
}

describe('delivery processor', () => {
  it('retries a mail the SMTP server refused transiently, and it arrives exactly once', async () => {
    smtp.failNext(1, 451);
    const before = smtp.attempts();
    const job = await queue.add('code', mail('retry@example.com', 'Your code is 424242'));
    const received = await waitFor(() => smtp.mails.find((m) => m.to.includes('retry@example.com')), 10_000, 'the mail');
    expect(await finalState(job.id!)).toBe('completed');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(smtp.attempts() - before).toBe(2);
    expect(smtp.mails.filter((m) => m.to.includes('retry@example.com'))).toHaveLength(1);
    expect(received.from).toBe('no-reply@vigil.test');
    expect(mailText(received.raw)).toContain('Your code is 424242');
  });

  it('gives up at once on a permanent SMTP refusal (5xx)', async () => {
    smtp.failNext(1, 550);
    const before = smtp.attempts();
    const job = await queue.add('code', mail('gone@example.com', 'never'));
    expect(await finalState(job.id!)).toBe('failed');
    expect(smtp.attempts() - before).toBe(1);
    expect((await queue.getJob(job.id!))!.attemptsMade).toBe(1);
  });

  it('sends SMS through the Twilio REST API, retrying 5xx and 429', async () => {
    twilio.answerNext(503, 429);
    const job = await queue.add('code', {
      channel: 'sms',
      to: '+821012345678',
      text: 'Vigil: 123456',
      template: 'code',
      locale: 'ko',
    });
    expect(await finalState(job.id!)).toBe('completed');
    const sent = twilio.requests.filter((r) => r.form.get('To') === '+821012345678');
    expect(sent).toHaveLength(3);
    expect(sent[2]!.path).toBe('/2010-04-01/Accounts/AC0123456789/Messages.json');
    expect(sent[2]!.authorization).toBe(`Basic ${Buffer.from('AC0123456789:secret-token').toString('base64')}`);
    expect(sent[2]!.form.get('From')).toBe('+15005550006');
    expect(sent[2]!.form.get('Body')).toBe('Vigil: 123456');
  });

  it('does not retry an SMS Twilio refuses as invalid (4xx)', async () => {
    twilio.answerNext(400);
    const job = await queue.add('code', { channel: 'sms', to: '+821099999999', text: 'x', template: 'code', locale: 'ko' });
    expect(await finalState(job.id!)).toBe('failed');
    expect(twilio.requests.filter((r) => r.form.get('To') === '+821099999999')).toHaveLength(1);
  });
});
