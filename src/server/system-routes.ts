import { Type } from '@sinclair/typebox';
import { ErrorBodySchema, HealthSchema, ReadinessSchema, type Readiness } from '../../protocol/http/common.ts';
import type { Metrics } from '../observability/metrics.ts';
import { defineRoute, type Authenticator, type Route } from './http/route.ts';
import type { InternalCaller } from './internal-auth.ts';
import { buildOpenApi } from './http/openapi.ts';
import { withTimeout } from './timeouts.ts';

export interface DependencyCheck {
  name: string;
  ping(): Promise<void>;
}

/** Liveness, readiness, metrics and the OpenAPI document. */
export function systemRoutes(deps: {
  checks: DependencyCheck[];
  metrics: Metrics;
  /** Who may read /metrics (VIGIL_METRICS_TOKEN). */
  metricsAuth: Authenticator<InternalCaller>;
  routes: () => readonly Route[];
  version: string;
}): Route[] {
  let openApi: (ReturnType<typeof buildOpenApi> & { openapi: '3.1.0' }) | undefined;
  return [
    defineRoute({
      method: 'GET',
      path: '/healthz',
      summary: 'Liveness: the process is up and its event loop turns',
      tags: ['system'],
      schema: { response: { 200: HealthSchema } },
    }).handle(async () => ({ status: 200, body: { status: 'ok' as const } })),
    defineRoute({
      method: 'GET',
      path: '/readyz',
      summary: 'Readiness: MongoDB and Redis answer; 503 names what is down',
      tags: ['system'],
      schema: { response: { 200: ReadinessSchema, 503: ReadinessSchema } },
    }).handle(async () => {
      const results = await Promise.all(
        deps.checks.map(async (check) => {
          try {
            await withTimeout(check.ping(), 1_000);
            return [check.name, 'up'] as const;
          } catch {
            return [check.name, 'down'] as const;
          }
        }),
      );
      const checks: Readiness['checks'] = Object.fromEntries(results);
      const down = results.filter(([, state]) => state === 'down').map(([name]) => name);
      return down.length === 0
        ? { status: 200, body: { status: 'ready' as const, checks } }
        : { status: 503, body: { status: 'unavailable' as const, checks }, headers: { 'retry-after': '1' } };
    }),
    defineRoute({
      method: 'GET',
      path: '/metrics',
      summary: 'Prometheus metrics (text exposition format)',
      tags: ['system'],
      produces: 'text/plain; version=0.0.4; charset=utf-8',
      auth: deps.metricsAuth,
      schema: { response: { 200: Type.String(), 401: ErrorBodySchema, 403: ErrorBodySchema } },
    }).handle(async () => ({ status: 200, body: await deps.metrics.registry.metrics() })),
    defineRoute({
      method: 'GET',
      path: '/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document, generated from the route schemas',
      tags: ['system'],
      schema: { response: { 200: Type.Object({ openapi: Type.Literal('3.1.0') }, { additionalProperties: true }) } },
    }).handle(async () => {
      // Built once: the route table is fixed once mounted, and generating the document costs
      // tens of ms of CPU, which an unauthenticated caller could otherwise demand at will.
      openApi ??= { ...buildOpenApi(deps.routes(), { title: 'Vigil', version: deps.version }), openapi: '3.1.0' as const };
      return { status: 200, body: openApi };
    }),
  ];
}
