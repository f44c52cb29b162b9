export interface BackoffOptions {
  /** First delay, ms. Default 500. */
  initialDelayMs?: number;
  /** Ceiling of any delay, ms. Default 30 000. */
  maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Attempts before giving up (the client then stays closed). Default Infinity. */
  maxAttempts?: number;
}

export const BACKOFF_DEFAULTS: Required<BackoffOptions> = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  maxAttempts: Number.POSITIVE_INFINITY,
};

/**
 * Exponential backoff with full jitter: attempt n waits a uniform random time in
 * [0, min(max, initial × factor^n)], so a gateway restart does not bring every client back in
 * the same millisecond. Returns undefined once the attempts are used up.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number | undefined {
  const o = { ...BACKOFF_DEFAULTS, ...options };
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError('attempt must be an integer ≥ 0');
  if (attempt >= o.maxAttempts) return undefined;
  const ceiling = Math.min(o.maxDelayMs, o.initialDelayMs * o.factor ** attempt);
  return Math.round(random() * ceiling);
}
