import { VigilError, type ErrorDetail } from '../../../protocol/errors.ts';

/**
 * VALIDATION_FAILED naming each field, for checks a schema cannot express (phone numbering
 * plans, "one of these is required"). Same shape as the router's own validation errors.
 */
export function fieldErrors(details: ErrorDetail[]): VigilError {
  const summary = details.map((d) => `${d.field}: ${d.message}`).join('; ');
  return new VigilError('VALIDATION_FAILED', { summary }, { details });
}

export function fieldError(field: string, message: string): VigilError {
  return fieldErrors([{ field, message }]);
}

/** Re-roots the fields of a validation error ("phone" → "query.phone") for the location it came from. */
export function prefixFields<T>(prefix: string, run: () => Promise<T>): Promise<T> {
  return run().catch((err: unknown) => {
    if (err instanceof VigilError && err.code === 'VALIDATION_FAILED' && err.details) {
      throw fieldErrors(err.details.map((d) => ({ ...d, field: `${prefix}${d.field}` })));
    }
    throw err;
  });
}
