import type { Clock } from '../../src/time/clock.ts';

/**
 * A clock a test moves forward: it runs with the system clock and `advance(ms)` jumps it, so
 * "an hour later" takes no time and every component reading it agrees on the jump. Redis' own
 * expiries (PX/EX) do not follow it.
 */
export class TestClock implements Clock {
  private offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`TestClock.advance: ms must be ≥ 0 (got ${ms})`);
    this.offsetMs += ms;
  }
}
