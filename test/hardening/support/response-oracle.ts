import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ERRORS, type ErrorBody } from '../../../protocol/errors.ts';
import '../../../protocol/formats.ts';
import type { Route } from '../../../src/server/http/route.ts';
import type { RawResponse } from './http-client.ts';

/**
 * What every answer of the gateway must be, whatever was sent:
 * - never 5xx (a 500 is our bug; in tests a reply that breaks its own schema is a 500 too, so
 *   every 2xx body is checked against its declaration by the gateway itself);
 * - JSON when the route produces JSON;
 * - core routes: a rejection is the catalogue's ErrorBody — a known `code`, the catalogue's
 *   status for it, the request id of the X-Request-Id header;
 * - legacy routes: the dialect's documented envelope, i.e. the schema the route declares for
 *   that status (docs/legacy.md).
 */

const checks = new WeakMap<TSchema, TypeCheck<TSchema>>();
function compiled(schema: TSchema): TypeCheck<TSchema> {
  let check = checks.get(schema);
  if (!check) checks.set(schema, (check = TypeCompiler.Compile(schema)));
  return check;
}

const isCoreError = (body: unknown): body is ErrorBody =>
  typeof body === 'object' && body !== null && 'error' in body && typeof (body as ErrorBody).error?.code === 'string';

/** Problems of a core error body; empty when it is a proper catalogued rejection. */
export function coreErrorProblems(status: number, body: unknown, requestId: string | undefined): string[] {
  if (!isCoreError(body)) return [`status ${status} without a catalogued error body: ${preview(body)}`];
  const { code, status: bodyStatus, message } = body.error;
  const entry = (ERRORS as Record<string, { status: number } | undefined>)[code];
  const problems: string[] = [];
  if (!entry) problems.push(`error code ${code} is not in protocol/errors.ts`);
  else if (entry.status !== status) problems.push(`${code} answered ${status}; the catalogue says ${entry.status}`);
  if (bodyStatus !== status) problems.push(`body says status ${bodyStatus}, HTTP says ${status}`);
  if (typeof message !== 'string' || message.length === 0) problems.push(`${code} without a message`);
  if (requestId && body.error.requestId !== requestId) problems.push(`requestId ${body.error.requestId} ≠ header ${requestId}`);
  return problems;
}

export function preview(value: unknown, max = 300): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === undefined ? String(value) : text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Every problem with one answer of `route` (empty: it is a proper answer). */
export function responseProblems(route: Route | undefined, res: RawResponse, method: string = route?.method ?? 'GET'): string[] {
  if (res.status >= 500) return [`${res.status}: ${preview(res.body.toString('utf8'))}`];
  if (res.status < 200) return [`unexpected status ${res.status}`];
  // HEAD: headers only; a body would be read as the next response on the connection.
  if (method === 'HEAD') return res.body.length === 0 ? [] : [`HEAD answered with a ${res.body.length}-byte body`];
  if (route && route.produces !== 'application/json' && res.status < 300) return [];
  const requestId = typeof res.headers['x-request-id'] === 'string' ? res.headers['x-request-id'] : undefined;
  if (!requestId) return [`no x-request-id header on ${res.status}`];
  if (res.status >= 300 && res.status < 400) return []; // D's redirect after activation
  let body: unknown;
  try {
    body = JSON.parse(res.body.toString('utf8'));
  } catch {
    return [`status ${res.status} with a body that is not JSON: ${preview(res.body.toString('utf8'))}`];
  }
  // No route matched (unknown path, wrong method): the router's own catalogued answer.
  const unmatched = isCoreError(body) && (body.error.code === 'ROUTE_NOT_FOUND' || body.error.code === 'METHOD_NOT_ALLOWED');
  if (!route || !route.formatError || unmatched) {
    if (res.status >= 400) return coreErrorProblems(res.status, body, requestId);
    if (route && !(res.status in route.schema.response))
      return [`${route.method} ${route.path} answered undeclared ${res.status}`];
    return [];
  }
  const declared = route.schema.response[res.status];
  if (!declared) {
    return [`${route.method} ${route.path} answered ${res.status}, which it does not declare: ${preview(body)}`];
  }
  const check = compiled(declared);
  if (!check.Check(body)) {
    const first = [...check.Errors(body)][0];
    return [
      `${route.method} ${route.path} ${res.status} breaks its declared envelope at ${first?.path}: ${first?.message}; ${preview(body)}`,
    ];
  }
  return [];
}
