import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.ts';
import { jwtTimes } from './token-source.ts';

describe('backoffDelay', () => {
  it('grows exponentially up to the ceiling, with full jitter', () => {
    const top = (attempt: number) => backoffDelay(attempt, {}, () => 1);
    expect([0, 1, 2, 3, 6, 7, 20].map(top)).toEqual([500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
    expect(backoffDelay(5, {}, () => 0)).toBe(0);
    expect(backoffDelay(2, { initialDelayMs: 100, factor: 3 }, () => 0.5)).toBe(450);
  });

  it('gives up after maxAttempts', () => {
    expect(backoffDelay(2, { maxAttempts: 3 })).toBeTypeOf('number');
    expect(backoffDelay(3, { maxAttempts: 3 })).toBeUndefined();
  });

  it('refuses a negative attempt', () => {
    expect(() => backoffDelay(-1)).toThrow(RangeError);
  });
});

describe('jwtTimes', () => {
  it('reads exp and iat without verifying', () => {
    const payload = Buffer.from(JSON.stringify({ sub: 'u', iat: 100, exp: 1000 })).toString('base64url');
    expect(jwtTimes(`x.${payload}.y`)).toEqual({ iat: 100, exp: 1000 });
    expect(jwtTimes('garbage')).toEqual({});
  });
});
