import type { TObject, TSchema } from '@sinclair/typebox';
import { DOCUMENTED_RULES, ErrorBodySchema } from '../../../protocol/http/common.ts';
import type { Route } from './route.ts';

interface SecurityScheme {
  type: 'http' | 'apiKey';
  scheme?: string;
  bearerFormat?: string;
  description?: string;
}

/** Security schemes named by authenticators (`Authenticator.scheme`). */
const SECURITY_SCHEMES: Record<string, SecurityScheme> = {
  admin: { type: 'http', scheme: 'bearer', description: 'VIGIL_ADMIN_TOKEN' },
  bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access token from POST /v1/sessions' },
};

/**
 * The JSON Schema 2020-12 form OpenAPI 3.1 expects of one schema object: rules enforced in code
 * are merged in (DOCUMENTED_RULES), and a tuple's array-form `items` (draft 7, what TypeBox's
 * Tuple emits) becomes `prefixItems`.
 */
function jsonSchema2020(schema: Record<string, unknown>): Record<string, unknown> {
  const { [DOCUMENTED_RULES]: rules, ...rest } = schema;
  const out: Record<string, unknown> = { ...rest, ...(rules as Record<string, unknown> | undefined) };
  if (Array.isArray(out.items)) {
    out.prefixItems = out.items;
    out.items = out.additionalItems === false ? false : true;
    delete out.additionalItems;
  }
  return out;
}

/**
 * TypeBox schemas are JSON Schema; stringify/parse drops TypeBox's symbol keys. A schema with an
 * `$id` is hoisted into components once and referenced, since an `$id` may appear only once in a
 * document.
 */
function plain(schema: TSchema, components: Record<string, unknown>): unknown {
  const hoist = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(hoist);
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value as Record<string, unknown>).map(([key, inner]) => [key, hoist(inner)] as const);
    const copy = jsonSchema2020(Object.fromEntries(entries.filter(([key]) => key !== '$id')));
    const id = (value as { $id?: unknown }).$id;
    if (typeof id !== 'string') return copy;
    components[id] ??= copy;
    return { $ref: `#/components/schemas/${id}` };
  };
  return hoist(JSON.parse(JSON.stringify(schema)));
}

function parameters(where: 'path' | 'query' | 'header', schema: TObject | undefined, components: Record<string, unknown>) {
  if (!schema) return [];
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: plain(property, components),
    ...(property.description ? { description: property.description } : {}),
  }));
}

function requestBody(route: Route, components: Record<string, unknown>) {
  const spec = route.body;
  if (spec.kind === 'none') return undefined;
  if (spec.kind === 'raw') {
    return {
      required: true,
      content: Object.fromEntries(spec.types.map((type) => [type, { schema: { type: 'string', format: 'binary' } }])),
    };
  }
  const schema = route.schema.body ? plain(route.schema.body, components) : {};
  const content: Record<string, { schema: unknown }> = { 'application/json': { schema } };
  if (spec.kind === 'form') {
    content['application/x-www-form-urlencoded'] = { schema };
    content['multipart/form-data'] = { schema };
  }
  return { required: !spec.optional, content };
}

/** The OpenAPI 3.1 document, generated from the route table (never written by hand). */
export function buildOpenApi(routes: readonly Route[], info: { title: string; version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  const usedSchemes = new Set<string>();
  const schemas: Record<string, unknown> = {};
  plain(ErrorBodySchema, schemas);
  for (const route of routes) {
    if (route.hidden) continue;
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(route.schema.response)) {
      responses[status] = {
        description: `${status}`,
        content: { [route.produces]: { schema: plain(schema, schemas) } },
      };
    }
    if (!route.formatError) {
      responses.default = {
        description: 'Error (see protocol/errors.ts for codes)',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
      };
    }
    const operation: Record<string, unknown> = {
      summary: route.summary,
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      tags: route.tags,
      parameters: [
        ...parameters('path', route.schema.params, schemas),
        ...parameters('query', route.schema.query, schemas),
        ...parameters('header', route.schema.headers, schemas),
      ],
      responses,
    };
    const body = requestBody(route, schemas);
    if (body) operation.requestBody = body;
    if (route.auth) {
      usedSchemes.add(route.auth.scheme);
      operation.security = [{ [route.auth.scheme]: [] }];
    } else {
      operation.security = []; // public: says so, rather than leaving it to a document-wide default
    }
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation };
  }
  const securitySchemes = Object.fromEntries(
    [...usedSchemes].map((name) => [name, SECURITY_SCHEMES[name] ?? { type: 'http', scheme: 'bearer' }]),
  );
  return {
    openapi: '3.1.0',
    info,
    // Relative: the document describes the gateway that serves it, wherever it is deployed.
    servers: [{ url: '/', description: 'This gateway' }],
    paths,
    components: { schemas, securitySchemes },
  };
}
