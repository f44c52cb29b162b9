import { STATUS_CODES } from 'node:http';
import { randomUUID } from 'node:crypto';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { VigilError, errorBody, type ErrorDetail } from '../../../protocol/errors.ts';
import { toVigilError } from '../../storage/dependency-errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { HttpRequest, HttpResponse, TemplatedApp } from '../uws.ts';
import type { Cors } from './cors.ts';
import { ClientAborted, mediaType, parseForm, parseJson, readBody, type FormData } from './body.ts';
import type { HttpMethod, RequestContext, RequestInfo, Route, RouteSchema } from './route.ts';
import { compileValidator, describeErrors, validationError, type Validator } from './validation.ts';
import type { ClientAddressResolver } from './client-address.ts';

export interface RouterOptions {
  logger: Logger;
  metrics: Metrics;
  jsonBodyLimit: number;
  uploadBodyLimit: number;
  /** Resolves the client address from the peer and X-Forwarded-For (see client-address.ts). */
  clientAddress: ClientAddressResolver;
  /** CORS headers on every answer, and preflights answered (off when no origins are configured). */
  cors: Cors;
  /** Check every reply against its response schema (development and test). */
  validateResponses: boolean;
  /** Set while shutting down: new requests get SHUTTING_DOWN. */
  isDraining(): boolean;
}

interface CompiledRoute {
  route: Route;
  paramNames: string[];
  params?: Validator;
  query?: Validator;
  headers?: Validator;
  body?: Validator;
  responses: Map<number, TypeCheck<TSchema>>;
}

const UWS_METHOD: Record<HttpMethod, 'get' | 'post' | 'put' | 'patch' | 'del'> = {
  GET: 'get',
  POST: 'post',
  PUT: 'put',
  PATCH: 'patch',
  DELETE: 'del',
};

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Framing a proxy in front could read differently from uWS (which takes the first Content-Length):
 * the bytes after the body uWS sees would be a second, smuggled request (RFC 9112 §6.3).
 */
export function ambiguousFraming(headers: Readonly<Record<string, string | undefined>>): string | undefined {
  const length = headers['content-length'];
  if (length === undefined) return undefined;
  if (length.includes(',')) return 'more than one Content-Length';
  if (headers['transfer-encoding'] !== undefined) return 'Content-Length together with Transfer-Encoding';
  return undefined;
}

/** Counts requests in flight so shutdown can wait for them. */
export class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];
  enter(): void {
    this.count++;
  }
  leave(): void {
    this.count--;
    if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
  }
  get size(): number {
    return this.count;
  }
  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

function compile(route: Route): CompiledRoute {
  const { schema } = route;
  const coerceBody = route.body.kind === 'form';
  return {
    route,
    paramNames: [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!),
    params: schema.params && compileValidator(schema.params, 'params'),
    query: schema.query && compileValidator(schema.query, 'query'),
    headers: schema.headers && compileValidator(schema.headers, 'headers'),
    body: schema.body && compileValidator(schema.body, 'body', coerceBody),
    responses: new Map(Object.entries(schema.response).map(([status, s]) => [Number(status), TypeCompiler.Compile(s)])),
  };
}

/**
 * Registers routes on a uWS app. One request flows straight through:
 * copy request → read body (limit, type) → validate → authenticate → handler → write reply.
 */
export class Router {
  readonly inFlight = new InFlight();
  private readonly routes: Route[] = [];

  constructor(private readonly options: RouterOptions) {}

  list(): readonly Route[] {
    return this.routes;
  }

  mount(app: TemplatedApp, routes: readonly Route[]): void {
    const methodsByPath = new Map<string, HttpMethod[]>();
    for (const route of routes) {
      const compiled = compile(route);
      this.routes.push(route);
      methodsByPath.set(route.path, [...(methodsByPath.get(route.path) ?? []), route.method]);
      app[UWS_METHOD[route.method]](route.path, (res, req) => this.handle(compiled, res, req));
    }
    for (const [path, methods] of methodsByPath) {
      const allow = methods.join(', ');
      app.any(path, (res, req) => {
        const info = this.copyRequest(res, req, path, []);
        if (this.refuseAmbiguous(res, info)) return;
        if ((info.method as string) === 'OPTIONS' && this.answerPreflight(res, info, methods)) return;
        this.fail(
          res,
          info,
          new VigilError('METHOD_NOT_ALLOWED', { method: info.method, path: info.path, allow }, { headers: { allow } }),
        );
      });
    }
  }

  /** The catch-all 404; mount last. */
  mountNotFound(app: TemplatedApp): void {
    app.any('/*', (res, req) => {
      const info = this.copyRequest(res, req, '/*', []);
      if (this.refuseAmbiguous(res, info)) return;
      this.fail(res, info, new VigilError('ROUTE_NOT_FOUND', { method: info.method, path: info.path }));
    });
  }

  /** Answers a CORS preflight with 204 and the CORS headers; false when CORS is off or it is no preflight. */
  private answerPreflight(res: HttpResponse, info: RequestInfo, methods: readonly HttpMethod[]): boolean {
    const headers = this.options.cors.preflight(info.headers.origin, info.headers['access-control-request-method'], methods);
    if (!headers) return false;
    try {
      res.cork(() => {
        res.writeStatus('204 No Content');
        res.writeHeader('x-request-id', info.requestId);
        for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
        res.endWithoutBody();
      });
    } catch (err) {
      this.options.logger.debug({ err, requestId: info.requestId }, 'response write failed');
    }
    return true;
  }

  /** Drops the connection of a request whose framing is ambiguous (see ambiguousFraming); true if it did. */
  private refuseAmbiguous(res: HttpResponse, info: RequestInfo): boolean {
    const reason = ambiguousFraming(info.headers);
    if (!reason) return false;
    // uWS goes on parsing bytes already received after a response, even one that closes the
    // connection, so only closing at once keeps a smuggled request from running. Nothing is
    // answered, as uWS answers nothing to a request it cannot parse.
    this.options.logger.warn({ requestId: info.requestId, ip: info.ip, reason }, 'ambiguous request framing: connection closed');
    res.close();
    return true;
  }

  /** Everything uWS' req offers must be read now: it is invalid after the first await. */
  private copyRequest(res: HttpResponse, req: HttpRequest, route: string, paramNames: string[]): RequestInfo {
    const headers: Record<string, string> = {};
    req.forEach((name, value) => {
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    });
    const params: Record<string, string> = {};
    paramNames.forEach((name, index) => {
      params[name] = safeDecode(req.getParameter(index) ?? '');
    });
    const incomingId = headers['x-request-id'];
    return {
      method: req.getCaseSensitiveMethod().toUpperCase() as HttpMethod,
      path: req.getUrl(),
      rawQuery: req.getQuery() ?? '',
      headers,
      params,
      ip: this.options.clientAddress.resolve(Buffer.from(res.getRemoteAddressAsText()).toString(), headers['x-forwarded-for']),
      requestId: incomingId && REQUEST_ID.test(incomingId) ? incomingId : randomUUID(),
      route,
      startedAt: process.hrtime.bigint(),
    };
  }

  private handle(compiled: CompiledRoute, res: HttpResponse, req: HttpRequest): void {
    const info = this.copyRequest(res, req, compiled.route.path, compiled.paramNames);
    if (this.refuseAmbiguous(res, info)) return;
    const state = { aborted: false, abortListeners: [] as Array<() => void> };
    res.onAborted(() => {
      state.aborted = true;
      for (const listener of state.abortListeners) listener();
      this.options.metrics.httpAborted.inc({ route: info.route });
    });
    this.inFlight.enter();
    this.options.metrics.httpInFlight.inc();
    this.run(compiled, res, info, state)
      .catch((err: unknown) => {
        if (!(err instanceof ClientAborted) && !state.aborted) this.fail(res, info, err, compiled.route);
      })
      .finally(() => {
        this.inFlight.leave();
        this.options.metrics.httpInFlight.dec();
      });
  }

  private async run(
    compiled: CompiledRoute,
    res: HttpResponse,
    info: RequestInfo,
    state: { aborted: boolean; abortListeners: Array<() => void> },
  ): Promise<void> {
    const { route } = compiled;
    if (this.options.isDraining()) throw new VigilError('SHUTTING_DOWN');

    const onAbort = (listener: () => void) => state.abortListeners.push(listener);
    let body: unknown;
    let raw: RequestContext<RouteSchema, unknown>['raw'];
    let form: FormData | undefined;
    const spec = route.body;
    if (spec.kind !== 'none') {
      const declared = info.headers['content-length'];
      const length = declared !== undefined ? Number(declared) : undefined;
      const limit = spec.limit ?? (spec.kind === 'json' ? this.options.jsonBodyLimit : this.options.uploadBodyLimit);
      const type = mediaType(info.headers['content-type']);
      const empty = length === 0 || (length === undefined && info.method === 'GET');
      const optional = spec.kind !== 'raw' && spec.optional === true;
      if (empty && optional) {
        body = {};
      } else {
        if (spec.kind === 'json' && type !== 'application/json' && !type.endsWith('+json')) {
          throw new VigilError('UNSUPPORTED_MEDIA_TYPE', { got: type || '(none)', expected: 'application/json' });
        }
        if (spec.kind === 'raw' && !spec.types.includes(type)) {
          throw new VigilError('UNSUPPORTED_MEDIA_TYPE', { got: type || '(none)', expected: spec.types.join(' or ') });
        }
        const bytes = await readBody(res, length, limit, onAbort);
        if (spec.kind === 'json') {
          if (bytes.length === 0) throw new VigilError('BODY_INVALID', { reason: 'a JSON body is required' });
          body = parseJson(bytes);
        } else if (spec.kind === 'raw') {
          raw = { bytes, contentType: info.headers['content-type'] ?? '' };
        } else if (type === 'application/json' || bytes.length === 0) {
          body = bytes.length === 0 ? {} : parseJson(bytes);
        } else {
          form = await parseForm(bytes, info.headers['content-type'] ?? '', limit);
          body = form.fields;
        }
      }
    }

    // Check every location before answering, so one 400 names every bad field at once.
    const problems: ErrorDetail[] = [];
    const take = <T>(validator: Validator<T> | undefined, value: unknown, fallback: unknown): unknown => {
      if (!validator) return fallback;
      const result = validator.check(value);
      if (result.ok) return result.value;
      problems.push(...result.details);
      return undefined;
    };
    const params = take(compiled.params, { ...info.params }, info.params);
    const query = take(compiled.query, Object.fromEntries(new URLSearchParams(info.rawQuery)), {});
    const headers = take(compiled.headers, { ...info.headers }, {});
    body = take(compiled.body, body, body);
    if (problems.length > 0) throw validationError(problems);
    const auth = route.auth ? await route.auth.authenticate(info) : undefined;

    const ctx = {
      info,
      params,
      query,
      headers,
      body,
      raw,
      files: form?.files ?? {},
      auth,
      get aborted() {
        return state.aborted;
      },
    } as RequestContext<RouteSchema, unknown>;
    const reply = await route.handler(ctx);
    if (state.aborted) return;

    if (this.options.validateResponses && route.produces === 'application/json') {
      const check = compiled.responses.get(reply.status);
      if (!check) throw new Error(`${route.method} ${route.path} replied ${reply.status}, which its schema does not declare`);
      if (!check.Check(reply.body)) {
        const problems = describeErrors(check, reply.body, 'body').map((d) => `${d.field}: ${d.message}`);
        throw new Error(`${route.method} ${route.path} reply ${reply.status} breaks its schema: ${problems.join('; ')}`);
      }
    }
    this.write(res, info, reply.status, reply.body, route.produces, reply.headers);
  }

  private fail(res: HttpResponse, info: RequestInfo, err: unknown, route?: Route): void {
    const error = toVigilError(err);
    if (error.status >= 500) {
      this.options.logger.error({ err: error.cause ?? error, requestId: info.requestId, route: info.route }, error.message);
    }
    const formatted = route?.formatError
      ? route.formatError(error, info)
      : { status: error.status, body: errorBody(error, info.requestId), headers: error.headers };
    // A body we did not read (413, 415) may still be arriving: close the connection after answering.
    const close = error.code === 'BODY_TOO_LARGE' || error.code === 'UNSUPPORTED_MEDIA_TYPE';
    this.write(
      res,
      info,
      formatted.status,
      formatted.body,
      'application/json',
      { ...error.headers, ...formatted.headers },
      close,
    );
  }

  private write(
    res: HttpResponse,
    info: RequestInfo,
    status: number,
    body: unknown,
    contentType: string,
    headers: Record<string, string> = {},
    closeConnection = false,
  ): void {
    const payload =
      contentType === 'application/json'
        ? JSON.stringify(body)
        : typeof body === 'string' || Buffer.isBuffer(body)
          ? body
          : String(body);
    try {
      res.cork(() => {
        res.writeStatus(`${status} ${STATUS_CODES[status] ?? ''}`);
        res.writeHeader('content-type', contentType === 'application/json' ? 'application/json; charset=utf-8' : contentType);
        res.writeHeader('x-request-id', info.requestId);
        // Auth answers carry tokens and personal data: no caching unless a route says otherwise.
        if (!('cache-control' in headers)) res.writeHeader('cache-control', 'no-store');
        res.writeHeader('x-content-type-options', 'nosniff');
        for (const [name, value] of Object.entries(this.options.cors.responseHeaders(info.headers.origin)))
          res.writeHeader(name, value);
        for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
        // A HEAD answer is headers only (RFC 9110 §9.3.2): a body would be read as the next
        // response on a kept-alive connection and desynchronise the client or proxy. (This uWS
        // build aborts the process when endWithoutBody is given a length, so it is a header.)
        // HEAD is never routed to a body-reading handler, so there is no unread body to close on.
        // (Only the 404/405 catch-alls see it, hence the widened type.)
        if ((info.method as string) === 'HEAD') {
          res.writeHeader('content-length', String(Buffer.byteLength(payload)));
          res.endWithoutBody();
        } else {
          res.end(payload, closeConnection);
        }
      });
    } catch (err) {
      // The client went away between our check and the write; nothing to answer.
      this.options.logger.debug({ err, requestId: info.requestId }, 'response write failed');
      return;
    }
    const seconds = Number(process.hrtime.bigint() - info.startedAt) / 1e9;
    const labels = { route: info.route, method: info.method };
    this.options.metrics.httpRequests.inc({ ...labels, status: String(status) });
    this.options.metrics.httpDuration.observe(labels, seconds);
    const level = status >= 500 ? 'error' : info.route === '/healthz' || info.route === '/metrics' ? 'debug' : 'info';
    this.options.logger[level](
      {
        requestId: info.requestId,
        method: info.method,
        path: info.path,
        status,
        ms: Math.round(seconds * 1e4) / 10,
        ip: info.ip,
      },
      'request',
    );
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
