import { expireNow } from '../support/redis-expiry.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { client, errorOf, latestCode, outbox, sleep, startIdentityGateway, IN_PROCESS, type Client } from './support.ts';

// One-time codes over HTTP: enumeration-safe requests, TTL, attempts, cooldown, caps, tickets.
let gw: TestGateway;
let api: Client;

beforeAll(async () => {
  gw = await startIdentityGateway({ VIGIL_CODE_TTL_SECONDS: 'email=600,sms=180,login.sms=2' }, IN_PROCESS);
  api = client(gw);
  await api.post('/v1/accounts', { phone: '01040000001', email: 'member@example.com', password: 'passphrase 12' });
});
afterAll(() => gw.close());

const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('requesting a code', () => {
  it('answers 202 with the same body whether or not an account exists, and only members get a code', async () => {
    const member = await api.post('/v1/codes', { channel: 'sms', to: '010-4000-0001', purpose: 'reset' });
    const stranger = await api.post('/v1/codes', { channel: 'sms', to: '010-4000-0099', purpose: 'reset' });
    expect(member.status).toBe(202);
    expect(stranger.status).toBe(202);
    const { to: memberTo, ...memberRest } = member.body;
    const { to: strangerTo, ...strangerRest } = stranger.body;
    expect(memberRest).toEqual(strangerRest);
    expect([memberTo, strangerTo]).toEqual(['+821040000001', '+821040000099']);
    expect(memberRest).toEqual({ status: 'accepted', channel: 'sms', purpose: 'reset', expiresIn: 180, resendIn: 0 });
    expect((await outbox(api, '+821040000001')).map((m) => m.template)).toEqual(['code']);
    await sleep(300);
    expect((await api.get('/v1/dev/outbox?to=%2B821040000099')).body).toEqual([]);
    // Guessing the stranger's (never sent) code behaves exactly like a wrong member code.
    const guess = await api.post('/v1/codes/verify', { channel: 'sms', to: '01040000099', purpose: 'reset', code: '123456' });
    expect(errorOf(guess).code).toBe('CODE_INVALID');
  });

  it('sends sign-up codes only to destinations nobody has taken', async () => {
    const taken = await api.post('/v1/codes', { channel: 'email', to: 'member@example.com', purpose: 'signup' });
    const free = await api.post('/v1/codes', { channel: 'email', to: 'newcomer@example.com', purpose: 'signup' });
    expect(taken.status).toBe(202);
    expect(free.status).toBe(202);
    expect((await outbox(api, 'newcomer@example.com'))[0]!.subject).toMatch(/^\[Vigil\] 인증번호 \d{6}$/);
    await sleep(300);
    expect((await api.get('/v1/dev/outbox?to=member@example.com')).body).toEqual([]);
  });

  it('names bad fields', async () => {
    const reply = await api.post('/v1/codes', { channel: 'fax', to: 'x', purpose: 'hello' });
    expect(reply.status).toBe(400);
    expect(
      errorOf(reply)
        .details!.map((d) => d.field)
        .sort(),
    ).toEqual(['channel', 'purpose', 'to']);
    const badPhone = await api.post('/v1/codes', { channel: 'sms', to: 'member@example.com', purpose: 'login' });
    expect(errorOf(badPhone).details).toEqual([{ field: 'to', message: expect.stringContaining('E.164') }]);
    const badCode = await api.post('/v1/codes/verify', { channel: 'sms', to: '01040000001', purpose: 'login', code: '12345' });
    expect(errorOf(badCode).details!.map((d) => d.field)).toEqual(['code']);
  });
});

describe('verifying a code', () => {
  it('gives a single-use ticket for the purpose', async () => {
    await api.post('/v1/codes', { channel: 'email', to: 'member@example.com', purpose: 'login' });
    const code = await latestCode(api, 'member@example.com');
    const reply = await api.post<{ ticket: string; purpose: string; expiresIn: number; verified: boolean }>('/v1/codes/verify', {
      channel: 'email',
      to: 'member@example.com',
      purpose: 'login',
      code,
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ purpose: 'login', expiresIn: 600, verified: false });
    expect(reply.body.ticket).toMatch(/^[\w-]{43}$/);
    const again = await api.post('/v1/codes/verify', { channel: 'email', to: 'member@example.com', purpose: 'login', code });
    expect(errorOf(again).code).toBe('CODE_INVALID');
    // The ticket logs in once (the session concern spends it).
    const session = await api.post('/v1/sessions', { ticket: reply.body.ticket });
    expect(session.status).toBe(201);
    const replay = await api.post('/v1/sessions', { ticket: reply.body.ticket });
    expect(replay.status).toBe(400);
  });

  it('a code is dead after 5 wrong attempts, even the right one', async () => {
    await api.post('/v1/codes', { channel: 'sms', to: '01040000001', purpose: 'verify' });
    const code = await latestCode(api, '+821040000001', 2);
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = await api.post('/v1/codes/verify', {
        channel: 'sms',
        to: '01040000001',
        purpose: 'verify',
        code: wrong(code),
      });
      expect(reply.status).toBe(400);
      codes.push(errorOf(reply).code);
    }
    expect(codes).toEqual(['CODE_INVALID', 'CODE_INVALID', 'CODE_INVALID', 'CODE_INVALID', 'CODE_EXHAUSTED']);
    const right = await api.post('/v1/codes/verify', { channel: 'sms', to: '01040000001', purpose: 'verify', code });
    expect(errorOf(right).code).toBe('CODE_INVALID');
  });

  it('expires after its TTL (login.sms=2 s here)', async () => {
    const sent = await api.post('/v1/codes', { channel: 'sms', to: '01040000001', purpose: 'login' });
    expect(sent.body.expiresIn).toBe(2);
    const messages = await outbox(api, '+821040000001', 3);
    const code = /\b(\d{6})\b/.exec(messages[messages.length - 1]!.text)![1]!;
    expect(messages[messages.length - 1]!.text).toContain('2초');
    // The 2 s are Redis' TTL on the code: check it, then let Redis expire it now.
    const key = 'otp:{login:sms:+821040000001}';
    expect(await gw.gateway.redis.pttl(key)).toBeGreaterThan(0);
    expect(await gw.gateway.redis.pttl(key)).toBeLessThanOrEqual(2_000);
    await expireNow(gw.gateway.redis, key);
    const late = await api.post('/v1/codes/verify', { channel: 'sms', to: '01040000001', purpose: 'login', code });
    expect(late.status).toBe(400);
    expect(errorOf(late).code).toBe('CODE_INVALID');
  });

  it('records sent, failed and verified codes in the audit trail, without the code', async () => {
    const { MongoClient } = await import('mongodb');
    const mongo = new MongoClient(gw.config.MONGO_URL);
    try {
      const events = await mongo
        .db(gw.config.MONGO_DB)
        .collection('audit')
        .find({ event: /^code\./ })
        .toArray();
      const kinds = new Set(events.map((e) => `${e.event}:${e.outcome}`));
      expect(kinds).toEqual(new Set(['code.sent:success', 'code.failed:failure', 'code.verified:success']));
      expect(JSON.stringify(events)).not.toMatch(/"code":"\d{6}"/);
    } finally {
      await mongo.close();
    }
  });
});

describe('limits', () => {
  let limited: TestGateway;
  let other: Client;

  beforeAll(async () => {
    limited = await startIdentityGateway(
      {
        VIGIL_CODE_RESEND_SECONDS: '60',
        VIGIL_CODE_HOURLY_PER_DESTINATION: '2',
        VIGIL_CODE_HOURLY_PER_IP: '5',
      },
      IN_PROCESS,
    );
    other = client(limited);
  });
  afterAll(() => limited.close());

  it('refuses a resend within 60 s with CODE_COOLDOWN and Retry-After', async () => {
    expect((await other.post('/v1/codes', { channel: 'sms', to: '01050000001', purpose: 'signup' })).status).toBe(202);
    const again = await other.post('/v1/codes', { channel: 'sms', to: '01050000001', purpose: 'signup' });
    expect(again.status).toBe(429);
    expect(errorOf(again).code).toBe('CODE_COOLDOWN');
    const retryAfter = Number(again.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(55);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Another purpose for the same destination has its own cooldown.
    expect((await other.post('/v1/codes', { channel: 'sms', to: '01050000001', purpose: 'login' })).status).toBe(202);
  });

  it('caps codes per destination per hour', async () => {
    // The destination already had 2 this hour (signup + login above): a third purpose is refused.
    const third = await other.post('/v1/codes', { channel: 'sms', to: '01050000001', purpose: 'reset' });
    expect(third.status).toBe(429);
    expect(errorOf(third).code).toBe('RATE_LIMITED');
  });

  it('caps codes per IP per hour', async () => {
    // 4 requests so far from this IP (refused ones count too); one more passes, then the cap.
    expect((await other.post('/v1/codes', { channel: 'sms', to: '01050000002', purpose: 'signup' })).status).toBe(202);
    const over = await other.post('/v1/codes', { channel: 'sms', to: '01050000003', purpose: 'signup' });
    expect(over.status).toBe(429);
    expect(errorOf(over).code).toBe('RATE_LIMITED');
  });
});
