import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import '../../../protocol/formats.ts';
import { VigilError, type ErrorDetail } from '../../../protocol/errors.ts';
import { coerceStrings as fromStrings } from './string-coercion.ts';

/** Where a value came from; names the field in error details ("email", "query.rate", "header.x-device"). */
export type Location = 'body' | 'query' | 'params' | 'headers';

const PREFIX: Record<Location, string> = { body: '', query: 'query.', params: 'path.', headers: 'header.' };

export interface Validator<T = unknown> {
  /** Returns the value (coerced for strings-only locations) or throws VALIDATION_FAILED naming each bad field. */
  parse(value: unknown): T;
  /** Same, but reports problems instead of throwing, so several locations can be checked at once. */
  check(value: unknown): { ok: true; value: T } | { ok: false; details: ErrorDetail[] };
}

function fieldName(location: Location, pointer: string): string {
  const path = pointer
    .replace(/^\//, '')
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  return `${PREFIX[location]}${path}` || location;
}

export function describeErrors(check: TypeCheck<TSchema>, value: unknown, location: Location): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const seen = new Set<string>();
  for (const error of check.Errors(value)) {
    const field = fieldName(location, error.path);
    if (seen.has(field)) continue; // unions report once per branch; the first message is enough
    seen.add(field);
    details.push({ field, message: error.message });
    if (details.length >= 20) break;
  }
  return details;
}

export function validationError(details: ErrorDetail[]): VigilError {
  const summary = details.map((d) => `${d.field}: ${d.message}`).join('; ');
  return new VigilError('VALIDATION_FAILED', { summary }, { details });
}

/**
 * Compiles a schema once. Documented defaults are applied. Query, path, header and form values
 * arrive as strings, so those written as the declared type are converted before checking; JSON bodies are
 * checked as sent.
 */
export function compileValidator<T>(schema: TSchema, location: Location, coerceStrings = location !== 'body'): Validator<T> {
  const check = TypeCompiler.Compile(schema);
  const validator: Validator<T> = {
    check(value) {
      const withDefaults = Value.Default(schema, value);
      const input = coerceStrings ? fromStrings(schema, withDefaults) : withDefaults;
      return check.Check(input)
        ? { ok: true, value: input as T }
        : { ok: false, details: describeErrors(check, input, location) };
    },
    parse(value) {
      const result = validator.check(value);
      if (result.ok) return result.value;
      throw validationError(result.details);
    },
  };
  return validator;
}
