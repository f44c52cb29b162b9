/**
 * Compares a reply with a document's example field for field. Every key the example has must be
 * there and no other; leaves must be equal — except at the JSON pointers given a shape, where the
 * value only has to look right (tokens, ids and timestamps differ on every run).
 */

/** True when the value has the shape; otherwise a short description of what was expected. */
export type Shape = (value: unknown) => true | string;

const b64url = /^[A-Za-z0-9_-]+$/;

function decodeSegment(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

export const shapes = {
  /** A compact JWS whose header and payload are JSON objects; optionally a given `alg`. */
  jwt:
    (alg?: string): Shape =>
    (value) => {
      if (typeof value !== 'string') return 'a JWT string';
      const parts = value.split('.');
      if (parts.length !== 3 || !parts.every((p) => b64url.test(p))) return 'a JWT (three base64url parts)';
      const header = decodeSegment(parts[0]!) as { alg?: string } | undefined;
      const payload = decodeSegment(parts[1]!);
      if (typeof header !== 'object' || header === null || typeof payload !== 'object' || payload === null)
        return 'a JWT with JSON header and payload';
      if (alg !== undefined && header.alg !== alg) return `a JWT signed with ${alg} (got ${String(header.alg)})`;
      return true;
    },
  /** A string of exactly `length` lower-case hex digits. */
  hex:
    (length: number): Shape =>
    (value) =>
      typeof value === 'string' && new RegExp(`^[0-9a-f]{${length}}$`).test(value) ? true : `${length} hex digits`,
  /** An opaque token: base64url, at least `min` characters. */
  opaque:
    (min = 32): Shape =>
    (value) =>
      typeof value === 'string' && value.length >= min && b64url.test(value)
        ? true
        : `an opaque base64url token of ≥ ${min} characters`,
  /** The core's refresh token: <session id>.<random>.<MAC>, each part base64url. */
  coreRefresh: ((value) =>
    typeof value === 'string' && /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/.test(value)
      ? true
      : 'a core refresh token (<session>.<random>.<mac>)') as Shape,
  positiveInt: ((value) => (Number.isInteger(value) && (value as number) > 0 ? true : 'a positive integer')) as Shape,
  nonNegativeInt: ((value) => (Number.isInteger(value) && (value as number) >= 0 ? true : 'an integer ≥ 0')) as Shape,
  ratio: ((value) => (typeof value === 'number' && value >= 0 && value <= 1 ? true : 'a number in [0, 1]')) as Shape,
  /** Letters and digits, `length` long (C's uuids). */
  alnum:
    (length: number): Shape =>
    (value) =>
      typeof value === 'string' && new RegExp(`^[A-Za-z0-9]{${length}}$`).test(value) ? true : `${length} letters or digits`,
  /** Exactly this value, or this pattern. */
  matching:
    (pattern: RegExp): Shape =>
    (value) =>
      typeof value === 'string' && pattern.test(value) ? true : `a string matching ${pattern}`,
  oneOf:
    (...values: unknown[]): Shape =>
    (value) =>
      values.some((v) => Object.is(v, value)) ? true : `one of ${JSON.stringify(values)}`,
};

const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');
const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Every difference between `actual` and the example, as "pointer: what" lines (empty when they match). */
export function compareWithExample(
  actual: unknown,
  example: unknown,
  shapesAt: Readonly<Record<string, Shape>> = {},
  pointer = '',
): string[] {
  const shape = shapesAt[pointer];
  if (shape) {
    const verdict = shape(actual);
    return verdict === true ? [] : [`${pointer || '/'}: expected ${verdict}, got ${JSON.stringify(actual)}`];
  }
  if (kind(actual) !== kind(example))
    return [`${pointer || '/'}: expected ${kind(example)} ${JSON.stringify(example)}, got ${JSON.stringify(actual)}`];
  if (Array.isArray(example)) {
    const list = actual as unknown[];
    if (list.length !== example.length) return [`${pointer || '/'}: expected ${example.length} items, got ${list.length}`];
    return example.flatMap((item, i) => compareWithExample(list[i], item, shapesAt, `${pointer}/${i}`));
  }
  if (typeof example === 'object' && example !== null) {
    const got = actual as Record<string, unknown>;
    const want = example as Record<string, unknown>;
    const problems: string[] = [];
    for (const key of Object.keys(want)) {
      if (!(key in got)) problems.push(`${pointer}/${escape(key)}: missing`);
      else problems.push(...compareWithExample(got[key], want[key], shapesAt, `${pointer}/${escape(key)}`));
    }
    for (const key of Object.keys(got)) if (!(key in want)) problems.push(`${pointer}/${escape(key)}: not in the document`);
    return problems;
  }
  return Object.is(actual, example)
    ? []
    : [`${pointer || '/'}: expected ${JSON.stringify(example)}, got ${JSON.stringify(actual)}`];
}
