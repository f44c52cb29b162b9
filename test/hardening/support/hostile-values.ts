import fc from 'fast-check';

/**
 * Values an attacker (or a broken client) sends where a well-formed one is expected. They are
 * plain JSON values, so they survive JSON.stringify; text-level abuse (deep nesting, duplicate
 * keys, number literals beyond float range) lives in body-text.ts.
 */

/** Object keys with meaning to JavaScript, MongoDB or our own code. */
export const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  '$where',
  '$set',
  '$ne',
  '$gt',
  'a.b',
  '',
  ' ',
  'type',
  'admin',
  'isAdmin',
  'role',
  'status',
  'userId',
  'id',
  '_id',
] as const;

const LONG = 'A'.repeat(10_000);

/** Strings that have broken parsers, normalisers, loggers, templates and queries before. */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '\t',
  '\u0000',
  'a\u0000b',
  '\r\n',
  'x\r\nSet-Cookie: injected=1',
  'x\nX-Injected: 1',
  '../../../etc/passwd',
  '..%2f..%2f',
  '%00',
  '%zz',
  '${7*7}',
  '{{7*7}}',
  "' OR '1'='1",
  '"; DROP TABLE users; --',
  '<script>alert(1)</script>',
  '\u202egnp.exe',
  '\uFEFFadmin',
  'ａｄｍｉｎ',
  'ﬀ',
  'İ',
  'ǅ',
  '\uD800',
  'a\uDFFFb',
  '👩‍👩‍👧‍👦'.repeat(50),
  '가'.repeat(300),
  '0',
  '-1',
  '1e400',
  'NaN',
  'Infinity',
  'true',
  'null',
  'undefined',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  '$where',
  'a.b',
  '+821012345678',
  '01012345678',
  'user@example.com',
  'USER@EXAMPLE.COM',
  'a@b',
  '@',
  'x'.repeat(73),
  'é'.repeat(40),
  LONG,
] as const;

export const HOSTILE_NUMBERS = [
  0,
  -0,
  -1,
  0.5,
  1.5,
  -(2 ** 31),
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  1e308,
  -1e308,
  5e-324,
  65_535,
  65_536,
  4_294_967_295,
  4_294_967_296,
] as const;

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.integer() },
);

export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_KEYS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
);

/** An object with an own property `key` (also for "__proto__", which `{[key]: v}` would not set). */
export function withOwn(base: unknown, key: string, value: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  if (base && typeof base === 'object' && !Array.isArray(base)) {
    for (const [k, v] of Object.entries(base))
      Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** Any JSON value of the kinds above, nested a little: objects carry hostile keys. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: hostileString },
    { weight: 3, arbitrary: hostileNumber },
    { weight: 1, arbitrary: fc.boolean() },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.tuple(hostileKey, tie('value')), { maxLength: 4 })
        .map((entries) => entries.reduce<Record<string, unknown>>((acc, [k, v]) => withOwn(acc, k, v), {})),
    },
  ),
})).value;

/** Header values node:http will send (it refuses CR, LF and other control characters itself). */
export const headerSafeString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 }),
  fc.constantFrom('', ' ', 'a'.repeat(500), '\u00ff\u00e9', 'null', '0', '-1', '__proto__', '../..'),
);

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url');

/**
 * JWT-shaped strings whose header and payload members are hostile (a kid that is a number, an
 * object or a path; alg spelled oddly; crit, jku, jwk…): they get past the shape check and into
 * header handling and key lookup, where a random string never reaches.
 */
export const forgedJwt: fc.Arbitrary<string> = fc
  .record({
    // Mostly the algorithm we accept, so the header gets past the algorithm check.
    alg: fc.oneof(
      { weight: 4, arbitrary: fc.constant('EdDSA') },
      fc.constantFrom('none', 'HS512', 'HS256', 'RS256', 'eddsa', ''),
      hostileValue,
    ),
    kid: fc.oneof(hostileString, hostileValue),
    typ: fc.oneof(fc.constantFrom('at+jwt', 'JWT', undefined), hostileValue),
    extra: fc.option(fc.tuple(fc.constantFrom('crit', 'jku', 'jwk', 'x5u', 'x5c', 'b64', 'zip', '__proto__'), hostileValue), {
      nil: undefined,
    }),
    payload: fc.oneof(
      hostileValue,
      fc.record({
        sub: hostileValue,
        sid: hostileValue,
        exp: hostileNumber,
        iat: hostileNumber,
        aud: hostileValue,
        iss: hostileValue,
      }),
    ),
    signature: fc.uint8Array({ maxLength: 80 }),
  })
  .map(({ alg, kid, typ, extra, payload, signature }) => {
    const header = withOwn({ alg, kid, typ }, extra?.[0] ?? 'x-fuzz', extra?.[1] ?? 1);
    return `${b64url(header)}.${b64url(payload)}.${Buffer.from(signature).toString('base64url')}`;
  });
