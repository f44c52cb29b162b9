import fc from 'fast-check';
import type { Route } from '../../../src/server/http/route.ts';
import { abusiveJsonText, jsonBytes, multipart, withDuplicateKey, type JsonText } from './body-text.ts';
import type { RawRequest } from './http-client.ts';
import { forgedJwt, headerSafeString, hostileString, hostileValue } from './hostile-values.ts';
import { fuzzValue, type JsonSchema } from './schema-arbitrary.ts';
import { uploadFor } from './upload-arbitraries.ts';

/**
 * Requests for one route of the route table, generated from its declaration: path parameters,
 * query and headers from their schemas, the body by the route's body kind (JSON, legacy form,
 * raw upload), credentials of every sort. Credentials and identifiers are chosen symbolically
 * and filled in when the request is sent, because a fuzz case may itself end the session whose
 * token a later case would use.
 */

/** Live secrets the fuzzer may plant, read at send time. */
export interface Credentials {
  /** Access token of pool account `i` (mod the pool size). */
  access(i: number): string | undefined;
  refresh(i: number): string | undefined;
  /** Dialect A's opaque token of pool account `i`, when A is on. */
  legacyA(i: number): string | undefined;
  admin: string | undefined;
  /** Identifiers of real accounts that are not in the pool (may be locked out by the fuzzer). */
  identifiers: readonly string[];
}

type AuthChoice =
  | { kind: 'none' }
  | { kind: 'bearer'; pick: number }
  | { kind: 'refresh-as-bearer'; pick: number }
  | { kind: 'legacy-a'; pick: number }
  | { kind: 'admin' }
  | { kind: 'raw'; value: string };

type BodyPlan =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown; contentType: string; duplicate?: { key: string; value: unknown } }
  | { kind: 'text'; text: JsonText; contentType: string }
  | { kind: 'urlencoded'; value: unknown; extra: string }
  /** `file`: an upload part (legacy A's `data` file of make_model / check_user, and the like). */
  | {
      kind: 'multipart';
      value: unknown;
      close: boolean;
      boundary: string | undefined;
      file?: { name: string; bytes: Buffer; type: string };
    }
  | { kind: 'bytes'; bytes: Buffer; contentType: string };

export interface HttpCase {
  method: string;
  params: Record<string, string>;
  query: string;
  headers: Record<string, string>;
  auth: AuthChoice;
  body: BodyPlan;
  /** Plant live secrets and identifiers into body fields named for them. */
  inject: { on: boolean; pick: number };
}

const JSON_TYPES = fc.oneof(
  { weight: 10, arbitrary: fc.constant('application/json') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/merge-patch+json',
      'application/json; charset=latin1',
      'text/plain',
      '',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      'application/json, text/plain',
      'application/json; boundary=x; charset="',
    ),
  },
);

/** A value as a form or query field carries it (objects as JSON; never String(), which hostile keys break). */
const formText = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));

/** Lone surrogates become U+FFFD (encodeURIComponent throws on them; a UTF-8 wire cannot carry them anyway). */
const wellFormed = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

/** One path segment: from the parameter's schema, or a traversal / encoding trick. */
const segment = (schema: JsonSchema | undefined): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fuzzValue(schema).map((v) => encodeURIComponent(wellFormed(formText(v)))) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '%2F',
        '..',
        '%2e%2e',
        '%2e%2e%2f%2e%2e%2fadmin',
        '.',
        '%00',
        '%',
        '%zz',
        '%ff%fe',
        '%C0%AF',
        '%E2%80%AE',
        encodeURIComponent('가나다'),
        'a'.repeat(600),
        '~',
        '%252e%252e',
      ),
    },
  );

function queryArbitrary(schema: JsonSchema | undefined): fc.Arbitrary<string> {
  const fromSchema = fuzzValue(schema).map((value) => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return '';
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(value)) {
      if (Array.isArray(v)) for (const item of v) params.append(k, formText(item));
      else params.append(k, formText(v));
    }
    return params.toString();
  });
  const raw = fc.constantFrom(
    '',
    '%zz',
    'a=%',
    '__proto__=1',
    '__proto__[polluted]=1',
    'constructor[prototype][polluted]=1',
    '&&&=&',
    'a=1&a=2',
    `x=${'y'.repeat(3_000)}`,
    '%00=%00',
  );
  return fc
    .tuple(fc.oneof({ weight: 4, arbitrary: fromSchema }, { weight: 1, arbitrary: raw }), fc.option(raw, { nil: undefined }))
    .map(([main, extra]) => [main, extra].filter(Boolean).join('&'));
}

const authArbitrary = (route: Route): fc.Arbitrary<AuthChoice> => {
  const wantsAdmin = route.auth?.scheme === 'admin';
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant<AuthChoice>({ kind: 'none' }) },
    { weight: wantsAdmin ? 1 : 5, arbitrary: fc.nat().map<AuthChoice>((pick) => ({ kind: 'bearer', pick })) },
    { weight: 1, arbitrary: fc.nat().map<AuthChoice>((pick) => ({ kind: 'refresh-as-bearer', pick })) },
    { weight: 1, arbitrary: fc.nat().map<AuthChoice>((pick) => ({ kind: 'legacy-a', pick })) },
    { weight: wantsAdmin ? 5 : 1, arbitrary: fc.constant<AuthChoice>({ kind: 'admin' }) },
    { weight: 2, arbitrary: forgedJwt.map<AuthChoice>((token) => ({ kind: 'raw', value: `Bearer ${token}` })) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          headerSafeString,
          headerSafeString.map((s) => `Bearer ${s}`),
          fc.constantFrom(
            'Bearer',
            'Bearer ',
            'bearer  x.y.z',
            'Basic YWRtaW46YWRtaW4=',
            'Token ',
            `Token ${'0'.repeat(40)}`,
            'Bearer eyJhbGciOiJub25lIn0.e30.',
          ),
        )
        .map<AuthChoice>((value) => ({ kind: 'raw', value })),
    },
  );
};

const EXTRA_HEADERS = [
  'x-request-id',
  'x-forwarded-for',
  'accept',
  'accept-language',
  'user-agent',
  'origin',
  'cookie',
  'refresh',
  'x-refresh-token',
  'x-http-method-override',
  'transfer-encoding-x',
];

function headersArbitrary(schema: JsonSchema | undefined): fc.Arbitrary<Record<string, string>> {
  const extra = fc.dictionary(fc.constantFrom(...EXTRA_HEADERS), headerSafeString, { maxKeys: 3 });
  const declared = schema
    ? fuzzValue(schema).map((value) => {
        const out: Record<string, string> = {};
        if (value && typeof value === 'object' && !Array.isArray(value)) {
          for (const [k, v] of Object.entries(value)) {
            const text = typeof v === 'string' ? v : (JSON.stringify(v) ?? '');
            if (/^[\t\x20-\x7e]*$/.test(text) && /^[a-z0-9-]+$/i.test(k)) out[k] = text;
          }
        }
        return out;
      })
    : fc.constant({});
  return fc.tuple(declared, extra).map(([a, b]) => ({ ...b, ...a }));
}

function bodyArbitrary(route: Route): fc.Arbitrary<BodyPlan> {
  const spec = route.body;
  const schema = route.schema.body as JsonSchema | undefined;
  const value = fuzzValue(schema);
  const json = fc.oneof(
    { weight: 8, arbitrary: fc.record({ value, contentType: JSON_TYPES }).map<BodyPlan>((b) => ({ kind: 'json', ...b })) },
    {
      weight: 1,
      arbitrary: fc
        .record({
          value,
          contentType: JSON_TYPES,
          key: fc.oneof(fc.constantFrom('password', 'identifier', 'refreshToken', 'token', 'type', 'email'), hostileString),
          second: hostileValue,
        })
        .map<BodyPlan>(({ value: v, contentType, key, second }) => ({
          kind: 'json',
          value: v,
          contentType,
          duplicate: { key, value: second },
        })),
    },
    {
      weight: 1,
      arbitrary: fc.record({ text: abusiveJsonText, contentType: JSON_TYPES }).map<BodyPlan>((b) => ({ kind: 'text', ...b })),
    },
  );
  switch (spec.kind) {
    case 'none':
      // Bodies the route does not read must not matter either.
      return fc.oneof({ weight: 4, arbitrary: fc.constant<BodyPlan>({ kind: 'none' }) }, { weight: 1, arbitrary: json });
    case 'json':
      return json;
    case 'form':
      return fc.oneof(
        { weight: 3, arbitrary: json },
        {
          weight: 2,
          arbitrary: fc
            .record({ value, extra: fc.constantFrom('', '&%zz=1', '&__proto__=x', '&a=1&a=2', '&=') })
            .map<BodyPlan>((b) => ({ kind: 'urlencoded', ...b })),
        },
        {
          weight: 2,
          arbitrary: fc
            .record({
              value,
              close: fc.boolean(),
              boundary: fc.constantFrom(undefined, 'b', '-'.repeat(71)),
              file: fc.option(
                fc
                  .tuple(
                    fc.constantFrom('data', 'file', 'avatar'),
                    fc.constantFrom('text/csv', 'application/json', 'application/octet-stream'),
                  )
                  .chain(([name, type]) => uploadFor(type).map(({ bytes }) => ({ name, bytes, type }))),
                { nil: undefined },
              ),
            })
            .map<BodyPlan>((b) => ({ kind: 'multipart', ...b })),
        },
      );
    case 'raw':
      return fc.oneof(
        {
          weight: 4,
          arbitrary: fc
            .constantFrom(...spec.types)
            .chain(uploadFor)
            .map<BodyPlan>((u) => ({ kind: 'bytes', ...u })),
        },
        { weight: 1, arbitrary: json },
      );
  }
}

/** Every request the fuzzer may send to `route`. */
export function httpCase(route: Route): fc.Arbitrary<HttpCase> {
  const paramSchema = route.schema.params as JsonSchema | undefined;
  const paramProps = (paramSchema?.properties ?? {}) as Record<string, JsonSchema>;
  const paramNames = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  const params = fc.record(Object.fromEntries(paramNames.map((name) => [name, segment(paramProps[name])])));
  return fc.record({
    method: fc.oneof(
      { weight: 30, arbitrary: fc.constant(route.method) },
      { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD') },
    ),
    params,
    query: queryArbitrary(route.schema.query as JsonSchema | undefined),
    headers: headersArbitrary(route.schema.headers as JsonSchema | undefined),
    auth: authArbitrary(route),
    body: bodyArbitrary(route),
    inject: fc.record({ on: fc.boolean(), pick: fc.nat() }),
  });
}

const SECRET_FIELDS: Array<[RegExp, (c: Credentials, pick: number) => string | undefined]> = [
  [/refresh/i, (c, i) => c.refresh(i)],
  [/^(token|accessToken|access_token)$/i, (c, i) => c.access(i)],
  [
    /^(identifier|username|authId|email|phone|mobile|to|id)$/i,
    (c, i) => (c.identifiers.length > 0 ? c.identifiers[i % c.identifiers.length] : undefined),
  ],
];

function plant(value: unknown, credentials: Credentials, pick: number): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const rule = SECRET_FIELDS.find(([pattern]) => pattern.test(key));
    const planted = rule?.[1](credentials, pick);
    Object.defineProperty(copy, key, { value: planted ?? v, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

/** The bytes of a case, with the credentials live right now. */
export function materialize(route: Route, c: HttpCase, credentials: Credentials): RawRequest {
  const path = route.path.replace(/:(\w+)/g, (_, name: string) => c.params[name] ?? 'x');
  const headers: Record<string, string> = { ...c.headers };
  switch (c.auth.kind) {
    case 'bearer': {
      const token = credentials.access(c.auth.pick);
      if (token) headers.authorization = `Bearer ${token}`;
      break;
    }
    case 'refresh-as-bearer': {
      const token = credentials.refresh(c.auth.pick);
      if (token) headers.authorization = `Bearer ${token}`;
      break;
    }
    case 'legacy-a': {
      const token = credentials.legacyA(c.auth.pick);
      if (token) headers.authorization = `Token ${token}`;
      break;
    }
    case 'admin':
      if (credentials.admin) headers.authorization = `Bearer ${credentials.admin}`;
      break;
    case 'raw':
      headers.authorization = c.auth.value;
      break;
    case 'none':
      break;
  }
  const pick = c.inject.pick;
  const value = (v: unknown) => (c.inject.on ? plant(v, credentials, pick) : v);
  let body: Buffer | undefined;
  const b = c.body;
  switch (b.kind) {
    case 'none':
      break;
    case 'json': {
      const v = value(b.value);
      body = Buffer.from(
        b.duplicate && v && typeof v === 'object' && !Array.isArray(v)
          ? withDuplicateKey(v as Record<string, unknown>, b.duplicate.key, b.duplicate.value)
          : (JSON.stringify(v) ?? 'null'),
        'utf8',
      );
      if (b.contentType) headers['content-type'] = b.contentType;
      break;
    }
    case 'text':
      body = jsonBytes(b.text);
      if (b.contentType) headers['content-type'] = b.contentType;
      break;
    case 'urlencoded': {
      const v = value(b.value);
      const params = new URLSearchParams();
      if (v && typeof v === 'object' && !Array.isArray(v))
        for (const [k, item] of Object.entries(v)) params.append(k, formText(item));
      body = Buffer.from(params.toString() + b.extra, 'utf8');
      headers['content-type'] = 'application/x-www-form-urlencoded';
      break;
    }
    case 'multipart': {
      const v = value(b.value);
      const parts: Parameters<typeof multipart>[0] =
        v && typeof v === 'object' && !Array.isArray(v)
          ? Object.entries(v).map(([name, item]) => ({ name, value: formText(item) }))
          : [];
      if (b.file) parts.push({ name: b.file.name, value: b.file.bytes, filename: `${b.file.name}.bin`, type: b.file.type });
      const form = multipart(parts, { close: b.close, ...(b.boundary ? { boundary: b.boundary } : {}) });
      body = form.bytes;
      headers['content-type'] = form.contentType;
      break;
    }
    case 'bytes':
      body = b.bytes;
      if (b.contentType) headers['content-type'] = b.contentType;
      break;
  }
  return { method: c.method, path: c.query ? `${path}?${c.query}` : path, headers, body };
}
