import { VigilError } from '../../../protocol/errors.ts';
import type { IngestLimits } from './ingest-options.ts';
import { invalid } from './problems.ts';

/** Validates a declared rate (query/form field or JSON property). */
export function checkRate(rate: unknown, limits: IngestLimits, field: string): number {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
    throw invalid(field, `rate must be a positive number of samples per second, got ${String(rate)}`);
  }
  if (rate > limits.maxRate) {
    throw new VigilError(
      'SAMPLES_TOO_MANY',
      { what: 'samples per second', got: rate, limit: limits.maxRate },
      { details: [{ field, message: `rate ${rate} Hz exceeds the limit of ${limits.maxRate} Hz` }] },
    );
  }
  return rate;
}

/** Tolerated disagreement between the declared rate and the one the `t` column implies. */
const RATE_TOLERANCE = 0.1;

/**
 * Checks that the `t` column (ms) strictly increases, and returns the rate it implies (from the
 * median interval, robust to jitter and the odd dropped sample).
 */
export function rateFromTime(time: Float64Array): number | undefined {
  for (let i = 1; i < time.length; i++) {
    if (!((time[i] as number) > (time[i - 1] as number))) {
      throw invalid(
        `/rows/${i + 1}/t`,
        `line ${i + 2}, column t: time ${time[i]} ms does not increase (previous ${time[i - 1]} ms)`,
      );
    }
  }
  if (time.length < 2) return undefined;
  const gaps = new Float64Array(time.length - 1);
  for (let i = 1; i < time.length; i++) gaps[i - 1] = (time[i] as number) - (time[i - 1] as number);
  gaps.sort();
  const median = gaps[gaps.length >> 1] as number;
  return 1000 / median;
}

/** Resolves the rate from the declaration and/or the time column; one of them must exist. */
export function resolveRate(declared: number | undefined, time: Float64Array | undefined, limits: IngestLimits): number {
  const implied = time ? rateFromTime(time) : undefined;
  if (declared === undefined) {
    if (implied === undefined) {
      throw invalid('query.rate', 'rate is required (or a t column in ms with at least two rows to infer it from)');
    }
    return checkRate(Math.round(implied * 1000) / 1000, limits, '/header/t');
  }
  const rate = checkRate(declared, limits, 'query.rate');
  if (implied !== undefined && Math.abs(implied - rate) > RATE_TOLERANCE * rate) {
    throw invalid('query.rate', `rate is ${rate} Hz but the t column implies ${implied.toFixed(2)} Hz`);
  }
  return rate;
}
