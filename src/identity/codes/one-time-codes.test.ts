import { expireNow } from '../../../test/support/redis-expiry.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../storage/redis.ts';
import { VigilError } from '../../../protocol/errors.ts';
import { connectRedis, createRedis } from '../../storage/redis.ts';
import { testConfig } from '../../../test/support/config.ts';
import { dropTestData } from '../../../test/support/gateway.ts';
import { OneTimeCodes, type CodeTarget } from './one-time-codes.ts';
import { Tickets } from './tickets.ts';

// Real Redis, isolated by this file's key prefix.
const config = testConfig();
let redis: RedisClient;
let codes: OneTimeCodes;

const target = (to: string, purpose: CodeTarget['purpose'] = 'login'): CodeTarget => ({ channel: 'sms', to, purpose });
const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    if (err instanceof VigilError) return err.code;
    throw err;
  }
};
const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

beforeAll(async () => {
  redis = createRedis(config);
  await connectRedis(redis, 5_000);
  codes = new OneTimeCodes(redis, { ttlSeconds: () => 60, maxAttempts: 5, resendSeconds: 1 });
});

afterAll(async () => {
  await redis.quit();
  await dropTestData(config);
});

describe('one-time codes', () => {
  it('issues six CSPRNG digits, stores only a salted hash, and verifies once', async () => {
    const t = target('+821000000001');
    const { code, expiresIn } = await codes.issue(t);
    expect(code).toMatch(/^\d{6}$/);
    expect(expiresIn).toBe(60);
    const stored = await redis.hgetall('otp:{login:sms:+821000000001}');
    expect(Object.values(stored)).not.toContain(code);
    expect(stored.h).toMatch(/^[0-9a-f]{64}$/);
    expect(await codeOf(codes.verify(t, code))).toBe('ok');
    expect(await codeOf(codes.verify(t, code))).toBe('CODE_INVALID');
  });

  it('binds a code to its purpose and destination', async () => {
    const t = target('+821000000002', 'reset');
    const { code } = await codes.issue(t);
    expect(await codeOf(codes.verify(target('+821000000002', 'login'), code))).toBe('CODE_INVALID');
    expect(await codeOf(codes.verify(target('+821000000003', 'reset'), code))).toBe('CODE_INVALID');
    expect(await codeOf(codes.verify({ ...t, channel: 'email' }, code))).toBe('CODE_INVALID');
    expect(await codeOf(codes.verify(t, code))).toBe('ok');
  });

  it('kills the code after 5 wrong guesses, even for the right code afterwards', async () => {
    const t = target('+821000000004');
    const { code } = await codes.issue(t);
    const results: string[] = [];
    for (let i = 0; i < 5; i++) results.push(await codeOf(codes.verify(t, wrong(code))));
    expect(results).toEqual(['CODE_INVALID', 'CODE_INVALID', 'CODE_INVALID', 'CODE_INVALID', 'CODE_EXHAUSTED']);
    expect(await codeOf(codes.verify(t, code))).toBe('CODE_INVALID');
    expect(await redis.exists('otp:{login:sms:+821000000004}')).toBe(0);
  });

  it('lets the right code through on the fifth attempt', async () => {
    const t = target('+821000000005');
    const { code } = await codes.issue(t);
    for (let i = 0; i < 4; i++) await codeOf(codes.verify(t, wrong(code)));
    expect(await codeOf(codes.verify(t, code))).toBe('ok');
  });

  it('never compares more than 5 guesses, however many arrive at once', async () => {
    const t = target('+821000000006');
    const { code } = await codes.issue(t);
    // 30 concurrent guesses, the right one among them late: at most 5 are ever compared.
    const guesses = Array.from({ length: 30 }, (_, i) => (i === 20 ? code : wrong(code)));
    const results = await Promise.all(guesses.map((g) => codeOf(codes.verify(t, g))));
    expect(results[20]).not.toBe('ok');
    expect(results.filter((r) => r === 'CODE_EXHAUSTED').length).toBeGreaterThanOrEqual(1);
  });

  it('lets exactly one of several concurrent right answers through', async () => {
    const t = target('+821000000007');
    const { code } = await codes.issue(t);
    const results = await Promise.all(Array.from({ length: 5 }, () => codeOf(codes.verify(t, code))));
    expect(results.filter((r) => r === 'ok')).toHaveLength(1);
  });

  it('expires with its TTL', async () => {
    const t = target('+821000000008');
    const { code } = await codes.issue(t, 1);
    // The TTL is Redis' (EX): check the one set, then let Redis expire the code now instead of in a second.
    const key = 'otp:{login:sms:+821000000008}';
    expect(await redis.pttl(key)).toBeGreaterThan(0);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(1_000);
    await expireNow(redis, key);
    expect(await codeOf(codes.verify(t, code))).toBe('CODE_INVALID');
  });

  it('refuses a resend within the cooldown, with Retry-After', async () => {
    const t = target('+821000000009');
    await codes.claimCooldown(t);
    const err = await codes.claimCooldown(t).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VigilError);
    expect((err as VigilError).code).toBe('CODE_COOLDOWN');
    expect((err as VigilError).headers['retry-after']).toBe('1');
    await expireNow(redis, 'otp:cool:{login:sms:+821000000009}'); // the cooldown is Redis' TTL too
    await expect(codes.claimCooldown(t)).resolves.toBeUndefined();
  });

  it('replaces an earlier code when a new one is issued', async () => {
    const t = target('+821000000010');
    const first = await codes.issue(t);
    const second = await codes.issue(t);
    if (first.code !== second.code) expect(await codeOf(codes.verify(t, first.code))).toBe('CODE_INVALID');
    expect(await codeOf(codes.verify(t, second.code))).toBe('ok');
  });
});

describe('tickets', () => {
  it('are single use, purpose-bound and stored hashed', async () => {
    const tickets = new Tickets(redis, 60);
    const { ticket } = await tickets.issue({ purpose: 'reset', channel: 'email', to: 'kim@example.com' });
    expect(await redis.keys(`${config.REDIS_PREFIX}ticket:*`)).not.toContain(`${config.REDIS_PREFIX}ticket:${ticket}`);
    const both = await Promise.all([
      tickets.consume(ticket, 'reset').then(
        () => 'ok',
        () => 'no',
      ),
      tickets.consume(ticket, 'reset').then(
        () => 'ok',
        () => 'no',
      ),
    ]);
    expect(both.sort()).toEqual(['no', 'ok']);
    const other = await tickets.issue({ purpose: 'signup', channel: 'email', to: 'kim@example.com' });
    expect(await codeOf(tickets.consume(other.ticket, 'reset'))).toBe('TICKET_INVALID');
    // Presented for the wrong purpose, it is spent too.
    expect(await codeOf(tickets.consume(other.ticket, 'signup'))).toBe('TICKET_INVALID');
  });
});
