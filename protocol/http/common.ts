import { Type, type Static } from '@sinclair/typebox';
import { ERRORS } from '../errors.ts';

/**
 * Rules the server enforces in code, because they span fields or come from a policy with its own
 * error code (PASSWORD_TOO_SHORT), declared for the OpenAPI document so generated clients and
 * fuzzers send what the server accepts. Request validation ignores this key; the document merges
 * its JSON Schema keywords into the schema.
 */
export const DOCUMENTED_RULES = 'x-enforced-in-code';

export function documentedRules<T extends object>(schema: T, rules: Record<string, unknown>): T {
  return Object.assign(schema, { [DOCUMENTED_RULES]: rules });
}

export const ErrorDetailSchema = Type.Object({
  field: Type.String({ description: 'JSON pointer of the offending field, or query./header. name' }),
  message: Type.String(),
});

export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object({
      code: Type.Union(Object.keys(ERRORS).map((code) => Type.Literal(code))),
      status: Type.Integer(),
      message: Type.String(),
      details: Type.Optional(Type.Array(ErrorDetailSchema)),
      requestId: Type.Optional(Type.String()),
    }),
  },
  { $id: 'ErrorBody', description: 'Every core API error has this shape; codes come from protocol/errors.ts' },
);

export const HealthSchema = Type.Object({ status: Type.Literal('ok') });

export const DependencyState = Type.Union([Type.Literal('up'), Type.Literal('down')]);

export const ReadinessSchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  checks: Type.Record(Type.String(), DependencyState),
});
export type Readiness = Static<typeof ReadinessSchema>;
