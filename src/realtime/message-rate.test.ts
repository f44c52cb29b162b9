import { describe, expect, it } from 'vitest';
import { MessageRate } from './message-rate.ts';

describe('MessageRate', () => {
  it('allows a burst of one second, then the sustained rate', () => {
    const rate = new MessageRate(10, 0);
    for (let i = 0; i < 10; i++) expect(rate.take(0)).toBe(true);
    expect(rate.take(0)).toBe(false);
    expect(rate.take(99)).toBe(false);
    expect(rate.take(100)).toBe(true); // one token per 100 ms
    expect(rate.take(100)).toBe(false);
  });

  it('never banks more than one second of tokens', () => {
    const rate = new MessageRate(5, 0);
    let allowed = 0;
    while (rate.take(60_000)) allowed++;
    expect(allowed).toBe(5);
  });
});
