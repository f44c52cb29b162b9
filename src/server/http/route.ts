import type { Static, TObject, TSchema } from '@sinclair/typebox';
import type { VigilError } from '../../../protocol/errors.ts';
import type { UploadedFile } from './body.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Everything copied out of uWS' request synchronously, before any await. */
export interface RequestInfo {
  method: HttpMethod;
  /** Path without the query string, as sent (not percent-decoded). */
  path: string;
  /** Raw query string without the leading '?'. */
  rawQuery: string;
  /** Lower-cased header names. */
  headers: Readonly<Record<string, string>>;
  params: Readonly<Record<string, string>>;
  ip: string;
  requestId: string;
  /** Route pattern ("/v1/accounts/:id"), used as the metrics label. */
  route: string;
  startedAt: bigint;
}

export interface RouteSchema {
  params?: TObject;
  query?: TObject;
  headers?: TObject;
  /** JSON body schema (for body kind 'json'). */
  body?: TSchema;
  /** Response bodies by status; errors use the catalogue's ErrorBody unless the route formats its own. */
  response: Record<number, TSchema>;
}

/**
 * How the body is read. 'json' parses and validates against schema.body; 'raw' hands the
 * bytes to the handler (uploads: CSV, multipart, binary frames), still size- and type-checked.
 */
export type BodySpec =
  | { kind: 'none' }
  | { kind: 'json'; limit?: number; optional?: boolean }
  | { kind: 'raw'; types: readonly string[]; limit?: number }
  /** Legacy dialects: JSON, urlencoded or multipart form fields, validated against schema.body. */
  | { kind: 'form'; limit?: number; optional?: boolean };

/** Resolves who is calling (or throws a catalogued error). Used once per request, before the handler. */
export interface Authenticator<A> {
  /** Name of the OpenAPI security scheme this authenticator implements. */
  readonly scheme: string;
  authenticate(req: RequestInfo): Promise<A>;
}

type StaticOr<T, Fallback> = T extends TSchema ? Static<T> : Fallback;

export interface RequestContext<S extends RouteSchema, A> {
  info: RequestInfo;
  params: StaticOr<S['params'], Record<string, never>>;
  query: StaticOr<S['query'], Record<string, never>>;
  headers: StaticOr<S['headers'], Record<string, never>>;
  body: StaticOr<S['body'], undefined>;
  /** Raw body bytes and their content type, for body kind 'raw'. */
  raw: { bytes: Buffer; contentType: string } | undefined;
  /** Uploaded files of a multipart form (body kind 'form'), by field name. */
  files: Readonly<Record<string, UploadedFile>>;
  auth: A;
  /** True once the client has hung up; long handlers may stop early. */
  readonly aborted: boolean;
}

export type Reply<S extends RouteSchema> = {
  [K in keyof S['response'] & number]: {
    status: K;
    body: Static<S['response'][K]>;
    headers?: Record<string, string>;
  };
}[keyof S['response'] & number];

/** Turns a catalogued error into this route's error answer (legacy dialects have their own shapes). */
export type ErrorFormatter = (
  err: VigilError,
  info: RequestInfo,
) => {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
};

export interface RouteDef<S extends RouteSchema, A> {
  method: HttpMethod;
  path: string;
  summary: string;
  tags?: string[];
  /** Response content type; default application/json. Non-JSON bodies are sent as strings/buffers. */
  produces?: string;
  body?: BodySpec;
  schema: S;
  auth?: Authenticator<A>;
  formatError?: ErrorFormatter;
  /** Hide from the OpenAPI document (dev-only routes). */
  hidden?: boolean;
}

export type Handler<S extends RouteSchema, A> = (ctx: RequestContext<S, A>) => Promise<Reply<S>>;

/** Type-erased route as the router stores it. */
export interface Route {
  method: HttpMethod;
  path: string;
  summary: string;
  tags: string[];
  produces: string;
  body: BodySpec;
  schema: RouteSchema;
  auth: Authenticator<unknown> | undefined;
  formatError: ErrorFormatter | undefined;
  hidden: boolean;
  handler(
    ctx: RequestContext<RouteSchema, unknown>,
  ): Promise<{ status: number; body: unknown; headers?: Record<string, string> }>;
}

/**
 * Declares a route: `defineRoute({ method, path, schema, … }).handle(async (ctx) => reply)`.
 * Two steps so TypeScript fixes the schema types before it checks the handler; its inputs and
 * each (status, body) pair it returns are then checked against the schemas.
 */
export function defineRoute<S extends RouteSchema, A = undefined>(
  def: RouteDef<S, A>,
): { handle(handler: Handler<S, A>): Route } {
  return { handle: (handler) => toRoute(def, handler) };
}

function toRoute<S extends RouteSchema, A>(def: RouteDef<S, A>, handler: Handler<S, A>): Route {
  return {
    method: def.method,
    path: def.path,
    summary: def.summary,
    tags: def.tags ?? [],
    produces: def.produces ?? 'application/json',
    body: def.body ?? (def.schema.body ? { kind: 'json' } : { kind: 'none' }),
    schema: def.schema,
    auth: def.auth,
    formatError: def.formatError,
    hidden: def.hidden ?? false,
    handler: handler,
  };
}
