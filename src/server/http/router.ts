import { STATUS_CODES } from 'node:http';
import { randomUUID } from 'node:crypto';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { VigilError, errorBody, type ErrorDetail } from '../../../protocol/errors.ts';
import { toVigilError } from '../../storage/dependency-errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { HttpRequest, HttpResponse, TemplatedApp } from '../uws.ts';
import { memoryExchange, uwsExchange, type Exchange, type InjectedReply } from './exchange.ts';
import type { Cors } from './cors.ts';
import { ClientAborted, mediaType, parseForm, parseJson, type FormData } from './body.ts';
import type { HttpMethod, RequestContext, RequestInfo, Route, RouteSchema } from './route.ts';
import { compileValidator, describeErrors, validationError, type Validator } from './validation.ts';
import type { ClientAddressResolver } from './client-address.ts';
import { InFlight } from '../in-flight.ts';

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

/** A request for `Router.inject`: what a client would send, without a socket. */
export interface InjectRequest {
  method: string;
  /** Path with an optional query string, as sent ("/v1/accounts?x=1"). */
  path: string;
  headers?: Record<string, string>;
  /** A string or bytes as sent; any other value is sent as JSON (with its content type unless given). */
  body?: unknown;
  /** The peer address (default 127.0.0.1). */
  peer?: string;
}

interface RequestState {
  aborted: boolean;
  abortListeners: Array<() => void>;
}

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
  /** Every mounted route, compiled, with the methods of its path: what `inject` matches against. */
  private readonly table: Array<{ compiled: CompiledRoute; segments: string[] }> = [];
  private readonly methodsByPath = new Map<string, HttpMethod[]>();

  constructor(private readonly options: RouterOptions) {}

  list(): readonly Route[] {
    return this.routes;
  }

  mount(app: TemplatedApp, routes: readonly Route[]): void {
    const mountedPaths = new Set(this.methodsByPath.keys());
    for (const route of routes) {
      const compiled = compile(route);
      this.routes.push(route);
      this.table.push({ compiled, segments: route.path.split('/') });
      this.methodsByPath.set(route.path, [...(this.methodsByPath.get(route.path) ?? []), route.method]);
      app[UWS_METHOD[route.method]](route.path, (res, req) => this.handle(compiled, res, req));
    }
    for (const path of this.methodsByPath.keys()) {
      if (mountedPaths.has(path)) continue;
      app.any(path, (res, req) => {
        const info = this.copyRequest(res, req, path, []);
        const exchange = uwsExchange(res);
        if (!this.refuseAmbiguous(exchange, info)) this.otherMethod(exchange, info, this.methodsByPath.get(path) ?? []);
      });
    }
  }

  /** The catch-all 404; mount last. */
  mountNotFound(app: TemplatedApp): void {
    app.any('/*', (res, req) => {
      const info = this.copyRequest(res, req, '/*', []);
      const exchange = uwsExchange(res);
      if (!this.refuseAmbiguous(exchange, info)) this.notFound(exchange, info);
    });
  }

  /**
   * Serves one request in memory through the same pipeline as a socket request (framing checks,
   * body limits and types, validation, authentication, handler, reply checking, error bodies,
   * headers, metrics and logs): for tests that need no socket. Routes match as uWS matches them.
   */
  async inject(request: InjectRequest): Promise<InjectedReply> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
    let body: Buffer;
    if (request.body === undefined) body = Buffer.alloc(0);
    else if (typeof request.body === 'string') body = Buffer.from(request.body);
    else if (Buffer.isBuffer(request.body) || request.body instanceof Uint8Array) body = Buffer.from(request.body);
    else {
      body = Buffer.from(JSON.stringify(request.body));
      headers['content-type'] ??= 'application/json';
    }
    if (body.length > 0) headers['content-length'] ??= String(body.length);
    const queryAt = request.path.indexOf('?');
    const path = queryAt < 0 ? request.path : request.path.slice(0, queryAt);
    const match = this.match(path);
    const method = request.method.toUpperCase() as HttpMethod;
    const route = match?.routes.find((r) => r.compiled.route.method === method);
    const info: RequestInfo = {
      method,
      path,
      rawQuery: queryAt < 0 ? '' : request.path.slice(queryAt + 1),
      headers,
      params: route ? route.params : {},
      ip: this.options.clientAddress.resolve(request.peer ?? '127.0.0.1', headers['x-forwarded-for']),
      requestId: requestIdOf(headers),
      route: route?.compiled.route.path ?? match?.path ?? '/*',
      startedAt: process.hrtime.bigint(),
    };
    const exchange = memoryExchange(body);
    if (this.refuseAmbiguous(exchange, info)) return exchange.reply();
    if (route) await this.serve(route.compiled, exchange, info, { aborted: false, abortListeners: [] });
    else if (match) this.otherMethod(exchange, info, this.methodsByPath.get(match.path) ?? []);
    else this.notFound(exchange, info);
    return exchange.reply();
  }

  /** The mounted routes of the path pattern `path` matches (static segments win over parameters, as in uWS). */
  private match(
    path: string,
  ): { path: string; routes: Array<{ compiled: CompiledRoute; params: Record<string, string> }> } | undefined {
    const segments = path.split('/');
    let best: { path: string; statics: number } | undefined;
    for (const { compiled, segments: pattern } of this.table) {
      if (pattern.length !== segments.length) continue;
      let statics = 0;
      const fits = pattern.every((p, i) => {
        if (p.startsWith(':')) return segments[i] !== '';
        statics++;
        return p === segments[i];
      });
      if (fits && (!best || statics > best.statics)) best = { path: compiled.route.path, statics };
    }
    if (!best) return undefined;
    const pattern = best.path.split('/');
    const routes = this.table
      .filter((entry) => entry.compiled.route.path === best.path)
      .map(({ compiled }) => {
        const params: Record<string, string> = {};
        let index = 0;
        pattern.forEach((p, i) => {
          if (p.startsWith(':')) params[compiled.paramNames[index++]!] = safeDecode(segments[i]!);
        });
        return { compiled, params };
      });
    return { path: best.path, routes };
  }

  /** A path that exists with another method: a CORS preflight, or METHOD_NOT_ALLOWED naming the allowed ones. */
  private otherMethod(exchange: Exchange, info: RequestInfo, methods: readonly HttpMethod[]): void {
    if ((info.method as string) === 'OPTIONS' && this.answerPreflight(exchange, info, methods)) return;
    const allow = methods.join(', ');
    this.fail(
      exchange,
      info,
      new VigilError('METHOD_NOT_ALLOWED', { method: info.method, path: info.path, allow }, { headers: { allow } }),
    );
  }

  private notFound(exchange: Exchange, info: RequestInfo): void {
    this.fail(exchange, info, new VigilError('ROUTE_NOT_FOUND', { method: info.method, path: info.path }));
  }

  /** Answers a CORS preflight with 204 and the CORS headers; false when CORS is off or it is no preflight. */
  private answerPreflight(exchange: Exchange, info: RequestInfo, methods: readonly HttpMethod[]): boolean {
    const headers = this.options.cors.preflight(info.headers.origin, info.headers['access-control-request-method'], methods);
    if (!headers) return false;
    try {
      exchange.write({
        status: '204 No Content',
        headers: [['x-request-id', info.requestId], ...Object.entries(headers)],
        payload: undefined,
        closeConnection: false,
      });
    } catch (err) {
      this.options.logger.debug({ err, requestId: info.requestId }, 'response write failed');
    }
    return true;
  }

  /** Drops the connection of a request whose framing is ambiguous (see ambiguousFraming); true if it did. */
  private refuseAmbiguous(exchange: Exchange, info: RequestInfo): boolean {
    const reason = ambiguousFraming(info.headers);
    if (!reason) return false;
    // uWS goes on parsing bytes already received after a response, even one that closes the
    // connection, so only closing at once keeps a smuggled request from running. Nothing is
    // answered, as uWS answers nothing to a request it cannot parse.
    this.options.logger.warn({ requestId: info.requestId, ip: info.ip, reason }, 'ambiguous request framing: connection closed');
    exchange.close();
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
    return {
      method: req.getCaseSensitiveMethod().toUpperCase() as HttpMethod,
      path: req.getUrl(),
      rawQuery: req.getQuery() ?? '',
      headers,
      params,
      ip: this.options.clientAddress.resolve(Buffer.from(res.getRemoteAddressAsText()).toString(), headers['x-forwarded-for']),
      requestId: requestIdOf(headers),
      route,
      startedAt: process.hrtime.bigint(),
    };
  }

  private handle(compiled: CompiledRoute, res: HttpResponse, req: HttpRequest): void {
    const info = this.copyRequest(res, req, compiled.route.path, compiled.paramNames);
    const exchange = uwsExchange(res);
    if (this.refuseAmbiguous(exchange, info)) return;
    const state: RequestState = { aborted: false, abortListeners: [] };
    res.onAborted(() => {
      state.aborted = true;
      for (const listener of state.abortListeners) listener();
      this.options.metrics.httpAborted.inc({ route: info.route });
    });
    void this.serve(compiled, exchange, info, state); // never rejects: failures are answered
  }

  /** Runs a matched request and answers its failure; resolves once answered. */
  private serve(compiled: CompiledRoute, exchange: Exchange, info: RequestInfo, state: RequestState): Promise<void> {
    this.inFlight.enter();
    this.options.metrics.httpInFlight.inc();
    return this.run(compiled, exchange, info, state)
      .catch((err: unknown) => {
        if (!(err instanceof ClientAborted) && !state.aborted) this.fail(exchange, info, err, compiled.route);
      })
      .finally(() => {
        this.inFlight.leave();
        this.options.metrics.httpInFlight.dec();
      });
  }

  private async run(compiled: CompiledRoute, exchange: Exchange, info: RequestInfo, state: RequestState): Promise<void> {
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
        const bytes = await exchange.readBody(length, limit, onAbort);
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
    this.write(exchange, info, reply.status, reply.body, route.produces, reply.headers);
  }

  private fail(exchange: Exchange, info: RequestInfo, err: unknown, route?: Route): void {
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
      exchange,
      info,
      formatted.status,
      formatted.body,
      'application/json',
      { ...error.headers, ...formatted.headers },
      close,
    );
  }

  private write(
    exchange: Exchange,
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
    const lines: Array<[string, string]> = [
      ['content-type', contentType === 'application/json' ? 'application/json; charset=utf-8' : contentType],
      ['x-request-id', info.requestId],
    ];
    // Auth answers carry tokens and personal data: no caching unless a route says otherwise.
    if (!('cache-control' in headers)) lines.push(['cache-control', 'no-store']);
    lines.push(['x-content-type-options', 'nosniff']);
    lines.push(...Object.entries(this.options.cors.responseHeaders(info.headers.origin)), ...Object.entries(headers));
    // A HEAD answer is headers only (RFC 9110 §9.3.2): a body would be read as the next response
    // on a kept-alive connection and desynchronise the client or proxy. HEAD is never routed to a
    // body-reading handler, so there is no unread body to close on. (Only the 404/405 catch-alls
    // see it, hence the widened type.)
    const head = (info.method as string) === 'HEAD';
    if (head) lines.push(['content-length', String(Buffer.byteLength(payload))]);
    try {
      exchange.write({
        status: `${status} ${STATUS_CODES[status] ?? ''}`,
        headers: lines,
        payload: head ? undefined : payload,
        closeConnection,
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

function requestIdOf(headers: Readonly<Record<string, string>>): string {
  const incoming = headers['x-request-id'];
  return incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
