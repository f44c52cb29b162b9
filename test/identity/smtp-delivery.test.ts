import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { mailText, startSmtpSink, waitFor } from './mail-sink.ts';
import { ROOMY_LIMITS, client, codeIn, errorOf, sleep, type Client } from './support.ts';

// End to end through a real SMTP server: the gateway queues the mail, its embedded BullMQ worker
// sends it with nodemailer, the first attempt is refused (451), the retry lands, exactly once.
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let gw: TestGateway;
let api: Client;

beforeAll(async () => {
  smtp = await startSmtpSink();
  gw = await startTestGateway({
    ...ROOMY_LIMITS,
    VIGIL_SMTP_HOST: '127.0.0.1',
    VIGIL_SMTP_PORT: String(smtp.port),
    VIGIL_MAIL_FROM: 'Vigil <auth@vigil.test>',
    VIGIL_DELIVERY_BACKOFF_MS: '200',
  });
  api = client(gw.url);
});

afterAll(async () => {
  await gw.close();
  await smtp.close();
});

describe('mail delivery through SMTP', () => {
  it('a login code survives a transient SMTP failure, arrives once, and logs in', async () => {
    expect(
      (await api.post('/v1/accounts', { email: 'smtp.user@example.com', password: 'passphrase 12', locale: 'en' })).status,
    ).toBe(201);
    smtp.failNext(1, 451);
    const before = smtp.attempts();
    const requested = await api.post('/v1/codes', { channel: 'email', to: 'smtp.user@example.com', purpose: 'login' });
    expect(requested.status).toBe(202);

    const mail = await waitFor(() => smtp.mails.find((m) => m.to.includes('smtp.user@example.com')), 15_000, 'the code mail');
    await sleep(700); // would a second copy follow?
    expect(smtp.mails.filter((m) => m.to.includes('smtp.user@example.com'))).toHaveLength(1);
    expect(smtp.attempts() - before).toBe(2);
    expect(mail.from).toBe('auth@vigil.test');
    const text = mailText(mail.raw);
    expect(text).toContain('Subject: Your Vigil code:');
    expect(text).toContain('Enter this code to log in');

    const session = await api.post('/v1/sessions', {
      email: 'smtp.user@example.com',
      code: codeIn(text.slice(text.indexOf('Enter this code'))),
    });
    expect(session.status).toBe(201);
  });

  it('answers CHANNEL_UNAVAILABLE for SMS when no SMS transport is configured', async () => {
    const reply = await api.post('/v1/codes', { channel: 'sms', to: '01012345678', purpose: 'login' });
    expect(reply.status).toBe(503);
    expect(errorOf(reply)).toMatchObject({
      code: 'CHANNEL_UNAVAILABLE',
      message: 'Delivery by sms is not configured on this gateway',
    });
  });

  it('has no dev outbox unless VIGIL_DEV_OUTBOX=1', async () => {
    const reply = await api.get('/v1/dev/outbox?to=smtp.user@example.com');
    expect(reply.status).toBe(404);
    expect(errorOf(reply).code).toBe('ROUTE_NOT_FOUND');
  });
});
