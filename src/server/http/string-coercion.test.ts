import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { coerceStrings } from './string-coercion.ts';

const Query = Type.Object(
  { limit: Type.Integer(), flag: Type.Optional(Type.Boolean()), id: Type.Optional(Type.Union([Type.String(), Type.Integer()])) },
  { additionalProperties: false },
);

describe('coerceStrings', () => {
  it('converts only text written as the declared type', () => {
    expect(coerceStrings(Query, { limit: '12', flag: 'true' })).toEqual({ limit: 12, flag: true });
    expect(coerceStrings(Query, { limit: 'true', flag: 'yes' })).toEqual({ limit: 'true', flag: 'yes' });
    expect(coerceStrings(Query, { limit: '1', id: '12' })).toEqual({ limit: 1, id: '12' }); // a string member keeps the text
  });

  it('keeps a __proto__ field as an own property the schema then refuses, and never touches the prototype', () => {
    const input = Object.fromEntries(new URLSearchParams('limit=3&__proto__=x'));
    const out = coerceStrings(Query, input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(TypeCompiler.Compile(Query).Check(out)).toBe(false);
    expect(coerceStrings(Query, Object.fromEntries(new URLSearchParams('limit=3&constructor=1')))).toEqual({
      limit: 3,
      constructor: '1',
    });
  });
});
