import { VigilError, type ErrorDetail } from '../../../protocol/errors.ts';
import { MAX_REPORTED_PROBLEMS } from './ingest-options.ts';

/** Collects per-cell problems so one rejection can name several, up to a bound. */
export class ProblemList {
  readonly details: ErrorDetail[] = [];
  truncated = false;

  add(field: string, message: string): void {
    if (this.details.length >= MAX_REPORTED_PROBLEMS) {
      this.truncated = true;
      return;
    }
    this.details.push({ field, message });
  }

  get full(): boolean {
    return this.details.length >= MAX_REPORTED_PROBLEMS;
  }

  /** Throws SAMPLES_INVALID naming the first problem when there is any. */
  throwIfAny(): void {
    const first = this.details[0];
    if (!first) return;
    const more = this.details.length - 1;
    const suffix = more > 0 ? ` (and ${more}${this.truncated ? '+' : ''} more)` : '';
    throw new VigilError('SAMPLES_INVALID', { reason: `${first.message}${suffix}` }, { details: this.details });
  }
}

export function invalid(field: string, message: string): VigilError {
  return new VigilError('SAMPLES_INVALID', { reason: message }, { details: [{ field, message }] });
}

export function tooMany(what: string, got: number, limit: number, field: string): VigilError {
  return new VigilError(
    'SAMPLES_TOO_MANY',
    { what, got, limit },
    { details: [{ field, message: `${got} ${what} exceeds the limit of ${limit}` }] },
  );
}
