import { VigilError } from '../../../protocol/errors.ts';
import { describe, expect, it } from 'vitest';
import { bcryptConcurrency, libuvPoolSize, PasswordHasher } from './password-hasher.ts';

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher(10);

  it('verifies the right password and refuses a wrong one', async () => {
    const account = { passwordHash: await hasher.hash('correct horse battery') };
    expect(account.passwordHash).toMatch(/^\$2[aby]\$10\$/);
    expect(await hasher.verifyPassword(account, 'correct horse battery')).toBe(true);
    expect(await hasher.verifyPassword(account, 'wrong horse battery')).toBe(false);
  });

  it('refuses a password whose first 72 bytes match (bcrypt would ignore the tail)', async () => {
    const long = 'x'.repeat(72);
    const account = { passwordHash: await hasher.hash(long) };
    expect(await hasher.verifyPassword(account, `${long}-and-more`)).toBe(false);
  });

  it('spends bcrypt time for a missing account or one without a password', async () => {
    const account = { passwordHash: await hasher.hash('correct horse battery') };
    await hasher.verifyPassword(null, 'warm-up');
    const time = async (run: () => Promise<boolean>) => {
      const started = process.hrtime.bigint();
      const result = await run();
      return { result, ms: Number(process.hrtime.bigint() - started) / 1e6 };
    };
    const missing = await time(() => hasher.verifyPassword(null, 'wrong horse battery'));
    const noPassword = await time(() => hasher.verifyPassword({}, 'wrong horse battery'));
    expect(await hasher.verifyPassword(account, 'wrong horse battery')).toBe(false);
    expect(missing.result).toBe(false);
    expect(noPassword.result).toBe(false);
    // A lower bound only, so a busy machine (which only adds time) cannot fail it: bcrypt at
    // cost 10 takes tens of milliseconds on any CPU, an early return well under one.
    expect(missing.ms).toBeGreaterThan(5);
    expect(noPassword.ms).toBeGreaterThan(5);
  });

  it('keeps at most `concurrency` bcrypt calls on the libuv pool and queues the rest in order', async () => {
    // Regression (login storm benchmark): unbounded, a burst of logins filled libuv's one FIFO queue and
    // every WebCrypto token verification waited behind all of it.
    const limited = new PasswordHasher(4, 2);
    const account = { passwordHash: await limited.hash('right') };
    // The constructor's dummy hash holds a slot until it is made; a comparison against it waits for it.
    expect(await limited.verifyPassword(null, 'right')).toBe(false);
    expect(limited.load).toEqual({ running: 0, waiting: 0 });
    const finished: number[] = [];
    const calls = Array.from({ length: 6 }, (_, i) =>
      limited.verifyPassword(account, i % 2 ? 'wrong' : 'right').then((ok) => {
        finished.push(i);
        return ok;
      }),
    );
    expect(limited.load).toEqual({ running: 2, waiting: 4 });
    expect(await Promise.all(calls)).toEqual([true, false, true, false, true, false]);
    expect(limited.load).toEqual({ running: 0, waiting: 0 });
    // Queued calls start in arrival order: the last two can only have started after the first two ended.
    expect(finished.indexOf(4)).toBeGreaterThan(Math.min(finished.indexOf(0), finished.indexOf(1)));
    expect(finished.indexOf(5)).toBeGreaterThan(Math.min(finished.indexOf(0), finished.indexOf(1)));
  });

  it('refuses a call past `maxWaiting` at once with a 503 and Retry-After, and serves again once the queue drains', async () => {
    const bounded = new PasswordHasher(4, 1, 2);
    const account = { passwordHash: await bounded.hash('right') };
    const queued = Array.from({ length: 3 }, () => bounded.verifyPassword(account, 'right'));
    expect(bounded.load).toEqual({ running: 1, waiting: 2 });
    // Known and unknown accounts wait in the same queue, so both are refused alike.
    for (const who of [account, null]) {
      const refused = await bounded.verifyPassword(who, 'right').catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(VigilError);
      expect(refused).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', status: 503, headers: { 'retry-after': '1' } });
    }
    await expect(bounded.hash('another')).rejects.toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE' });
    expect(await Promise.all(queued)).toEqual([true, true, true]);
    expect(await bounded.verifyPassword(account, 'right')).toBe(true);
  });

  it('refuses a concurrency below one', () => {
    expect(() => new PasswordHasher(4, 0)).toThrow('concurrency must be an integer ≥ 1 (got 0)');
  });
});

describe('bcrypt concurrency', () => {
  it('auto leaves one pool thread and one core free of hashing, and allows at least one call', () => {
    expect(bcryptConcurrency('auto', 4, 2)).toBe(1);
    expect(bcryptConcurrency('auto', 4, 8)).toBe(3);
    expect(bcryptConcurrency('auto', 16, 8)).toBe(7);
    expect(bcryptConcurrency('auto', 1, 4)).toBe(1);
    expect(bcryptConcurrency('auto', 4, 1)).toBe(1);
    expect(bcryptConcurrency('3', 4, 2)).toBe(3);
  });

  it("reads libuv's pool size as libuv does", () => {
    expect(libuvPoolSize({})).toBe(4);
    expect(libuvPoolSize({ UV_THREADPOOL_SIZE: '8' })).toBe(8);
    expect(libuvPoolSize({ UV_THREADPOOL_SIZE: '0' })).toBe(4);
    expect(libuvPoolSize({ UV_THREADPOOL_SIZE: '5000' })).toBe(1024);
  });
});
