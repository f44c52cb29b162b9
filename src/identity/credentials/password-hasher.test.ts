import { describe, expect, it } from 'vitest';
import { PasswordHasher } from './password-hasher.ts';

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
});
