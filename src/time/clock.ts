/**
 * Where time-based decisions made in JavaScript read the time (token lifetimes, session ends, the
 * age of a login), so a test can move it instead of sleeping. Expiries kept in Redis (PX/EX) run on
 * Redis' own clock and do not follow it.
 */
export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number;
}

/** The machine's clock: the default everywhere. */
export const systemClock: Clock = { now: () => Date.now() };
