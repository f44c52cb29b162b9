import type { TSchema } from '@sinclair/typebox';

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const BOOLEAN: Readonly<Record<string, boolean>> = { true: true, false: false, '1': true, '0': false };

/**
 * Query, path, header and form values arrive as strings. Only a string written as the declared
 * type becomes that type ("20" → 20, "true" → true); anything else stays a string and fails the
 * schema check naming the field. (TypeBox's Value.Convert would read "true" as 1 and "" as 0.)
 */
export function coerceStrings(schema: TSchema, value: unknown): unknown {
  if (typeof value === 'string') return fromString(schema, value);
  if (Array.isArray(value) && schema.type === 'array' && schema.items) {
    return value.map((item) => coerceStrings(schema.items as TSchema, item));
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && schema.properties) {
    const properties = schema.properties as Record<string, TSchema>;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (key === '__proto__') {
        // Kept as an own property (never assigned, which would set the prototype) so the schema refuses it.
        Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
        continue;
      }
      out[key] = Object.hasOwn(properties, key) ? coerceStrings(properties[key]!, item) : item;
    }
    return out;
  }
  return value;
}

function fromString(schema: TSchema, text: string): unknown {
  if (Array.isArray(schema.anyOf)) {
    // A string member takes the text as it is ("12" stays "12" for Union([String, Integer])).
    if ((schema.anyOf as TSchema[]).some((member) => member.type === 'string')) return text;
    for (const member of schema.anyOf as TSchema[]) {
      const converted = fromString(member, text);
      if (converted !== text) return converted;
    }
    return text;
  }
  switch (schema.type) {
    case 'integer':
      return INTEGER.test(text) ? Number(text) : text;
    case 'number':
      return NUMBER.test(text) ? Number(text) : text;
    case 'boolean':
      return text in BOOLEAN ? BOOLEAN[text] : text;
    default:
      return text;
  }
}
