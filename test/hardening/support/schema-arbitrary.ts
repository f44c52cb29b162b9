import fc from 'fast-check';
import { hostileKey, hostileNumber, hostileString, hostileValue, withOwn } from './hostile-values.ts';

/**
 * fast-check arbitraries from JSON Schema — the TypeBox schemas of the route table and socket
 * messages are JSON Schema, and so is /openapi.json — so every route and message is fuzzed from
 * its own declaration, and a new one is covered the day it lands.
 *
 * `validValue` aims inside the schema (to get past validation into handlers); `hostileValue` of a
 * schema starts from a valid value and breaks one thing: a field dropped, replaced by a hostile
 * value or a boundary (maxLength + 1, minimum − 1), or a hostile key added.
 */

export type JsonSchema = Readonly<Record<string, unknown>>;

const isSchema = (value: unknown): value is JsonSchema => typeof value === 'object' && value !== null && !Array.isArray(value);
const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
const schemas = (value: unknown): JsonSchema[] => (Array.isArray(value) ? value.filter(isSchema) : []);

function properties(schema: JsonSchema): Record<string, JsonSchema> {
  return isSchema(schema.properties) ? (schema.properties as Record<string, JsonSchema>) : {};
}

function required(schema: JsonSchema): Set<string> {
  return new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
}

/** Strings for the formats protocol/formats.ts knows (and any other: a plain string). */
function formatted(format: string): fc.Arbitrary<string> {
  switch (format) {
    case 'email':
      return fc.emailAddress();
    case 'date':
      return fc
        .date({ min: new Date('1900-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
        .map((d) => d.toISOString().slice(0, 10));
    case 'date-time':
      return fc
        .date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
        .map((d) => d.toISOString());
    case 'uri':
      return fc.webUrl();
    case 'uuid':
      return fc.uuid();
    case 'username':
      return fc.stringMatching(/^[a-z][a-z0-9._-]{1,20}$/);
    default:
      return fc.string({ maxLength: 20 });
  }
}

function validString(schema: JsonSchema): fc.Arbitrary<string> {
  const min = num(schema.minLength) ?? 0;
  const max = Math.max(min, Math.min(num(schema.maxLength) ?? 40, min + 40));
  if (typeof schema.format === 'string')
    return formatted(schema.format).filter((s) => s.length >= min && s.length <= (num(schema.maxLength) ?? Infinity));
  if (typeof schema.pattern === 'string') {
    try {
      // fast-check supports most, not all, regex syntax; an unsupported pattern gets plain strings.
      return fc
        .stringMatching(new RegExp(schema.pattern))
        .filter((s) => s.length >= min && s.length <= (num(schema.maxLength) ?? Infinity));
    } catch {
      return fc.string({ minLength: min, maxLength: max });
    }
  }
  return fc.string({ minLength: min, maxLength: max });
}

function validNumber(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const exclusiveMin = num(schema.exclusiveMinimum);
  const exclusiveMax = num(schema.exclusiveMaximum);
  const min = num(schema.minimum) ?? (exclusiveMin !== undefined ? exclusiveMin : -1e6);
  const max = num(schema.maximum) ?? (exclusiveMax !== undefined ? exclusiveMax : 1e6);
  if (integer) {
    const lo = Math.ceil(exclusiveMin !== undefined ? exclusiveMin + 1 : min);
    const hi = Math.floor(exclusiveMax !== undefined ? exclusiveMax - 1 : max);
    return fc.integer({ min: Math.max(lo, Number.MIN_SAFE_INTEGER), max: Math.min(Math.max(lo, hi), Number.MAX_SAFE_INTEGER) });
  }
  return fc.double({
    min,
    max,
    minExcluded: exclusiveMin !== undefined,
    maxExcluded: exclusiveMax !== undefined,
    noNaN: true,
    noDefaultInfinity: true,
  });
}

/** A value the schema accepts (best effort: formats and patterns are approximated). */
export function validValue(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return fc.constantFrom(...(schema.enum as unknown[]));
  const anyOf = schemas(schema.anyOf ?? schema.oneOf);
  if (anyOf.length > 0) return fc.oneof(...anyOf.map((s) => validValue(s, depth)));
  const allOf = schemas(schema.allOf);
  if (allOf.length > 0) return validValue(allOf[0]!, depth);
  if (isSchema(schema.not)) return fc.constant(undefined);
  switch (schema.type) {
    case 'object':
      return validObject(schema, depth);
    case 'string':
      return validString(schema);
    case 'integer':
      return validNumber(schema, true);
    case 'number':
      return validNumber(schema, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      if (Array.isArray(schema.items)) return fc.tuple(...schemas(schema.items).map((s) => validValue(s, depth + 1)));
      const items = isSchema(schema.items) ? schema.items : {};
      const minLength = num(schema.minItems) ?? 0;
      const maxLength = Math.max(minLength, Math.min(num(schema.maxItems) ?? 4, minLength + 4));
      return depth > 4 ? fc.constant([]) : fc.array(validValue(items, depth + 1), { minLength, maxLength });
    }
    default:
      // Unknown / unconstrained.
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function validObject(schema: JsonSchema, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const props = properties(schema);
  const needed = required(schema);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, prop] of Object.entries(props)) model[key] = depth > 5 ? fc.constant(null) : validValue(prop, depth + 1);
  const requiredKeys = Object.keys(props).filter((k) => needed.has(k));
  const base = fc.record(model, { requiredKeys }).map((value) => {
    // A Never-typed property yields undefined: leave it out rather than send null.
    for (const [k, v] of Object.entries(value)) if (v === undefined) delete (value as Record<string, unknown>)[k];
    return value;
  });
  const patterns = isSchema(schema.patternProperties) ? Object.values(schema.patternProperties).filter(isSchema) : [];
  if (patterns.length === 0 || Object.keys(props).length > 0) return base;
  // A Record: a few keys of any name with values of its value schema.
  return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), validValue(patterns[0]!, depth + 1), { maxKeys: 4 });
}

/** Values just outside what the schema accepts: the limits validators get wrong. */
function boundaries(schema: JsonSchema): unknown[] {
  const out: unknown[] = [];
  switch (schema.type) {
    case 'string': {
      const max = num(schema.maxLength);
      const min = num(schema.minLength);
      if (max !== undefined && max < 100_000) out.push('x'.repeat(max + 1), 'é'.repeat(max), '😀'.repeat(max));
      if (min !== undefined && min > 0) out.push('x'.repeat(min - 1));
      out.push(123, null, ['x'], { x: 'x' });
      break;
    }
    case 'integer':
    case 'number': {
      for (const key of ['minimum', 'exclusiveMinimum'] as const) {
        const v = num(schema[key]);
        if (v !== undefined) out.push(v, v - 1, v - 0.5);
      }
      for (const key of ['maximum', 'exclusiveMaximum'] as const) {
        const v = num(schema[key]);
        if (v !== undefined) out.push(v, v + 1, v + 0.5);
      }
      out.push('1', '', true, null, 1.5, 2 ** 53 + 2);
      break;
    }
    case 'boolean':
      out.push('true', 1, 0, null);
      break;
    case 'array': {
      const max = num(schema.maxItems);
      if (max !== undefined && max < 10_000) out.push(Array.from({ length: max + 1 }, () => 0));
      out.push([], 'x', {});
      break;
    }
    case 'object':
      out.push([], 'x', null, 1);
      break;
    default:
      out.push(null);
  }
  return out;
}

/** A value of the schema with exactly one thing broken (or, now and then, something else entirely). */
export function hostileOf(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  const anyOf = schemas(schema.anyOf ?? schema.oneOf);
  if (anyOf.length > 0) return fc.oneof(...anyOf.map((s) => hostileOf(s, depth)));
  const edges = boundaries(schema);
  const leaf = fc.oneof(
    { weight: 3, arbitrary: hostileValue },
    { weight: 2, arbitrary: edges.length > 0 ? fc.constantFrom(...edges) : hostileValue },
  );
  if (depth > 4) return leaf;
  if (schema.type === 'object') {
    const props = properties(schema);
    const keys = Object.keys(props);
    const mutations: Array<fc.Arbitrary<unknown>> = [
      // one hostile key added (prototype pollution, Mongo operators, mass assignment)
      fc.tuple(validObject(schema, depth), hostileKey, hostileValue).map(([base, key, value]) => withOwn(base, key, value)),
      leaf,
    ];
    if (keys.length > 0) {
      // one field broken, recursively
      mutations.push(
        fc
          .tuple(validObject(schema, depth), fc.constantFrom(...keys))
          .chain(([base, key]) => hostileOf(props[key]!, depth + 1).map((value) => withOwn(base, key, value))),
      );
      // one field missing
      mutations.push(
        fc.tuple(validObject(schema, depth), fc.constantFrom(...keys)).map(([base, key]) => {
          const copy = { ...base };
          delete copy[key];
          return copy;
        }),
      );
    }
    return fc.oneof(...mutations);
  }
  if (schema.type === 'array' && isSchema(schema.items)) {
    const items = schema.items;
    return fc.oneof(
      leaf,
      fc
        .tuple(validValue(schema, depth) as fc.Arbitrary<unknown[]>, hostileOf(items, depth + 1))
        .map(([base, bad]) => [...(Array.isArray(base) ? base : []), bad]),
    );
  }
  return leaf;
}

/** Mostly valid, often broken: what a fuzzer should send to get both past validation and into it. */
export function fuzzValue(schema: JsonSchema | undefined): fc.Arbitrary<unknown> {
  if (!schema) return hostileValue;
  return fc.oneof({ weight: 2, arbitrary: validValue(schema) }, { weight: 3, arbitrary: hostileOf(schema) });
}

export { hostileNumber, hostileString };
