import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';

/**
 * One registry per gateway instance (tests run several in one process). Concerns register
 * their own metrics on it through `metrics.registry`.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vigil_' });

  const httpRequests = new Counter({
    name: 'vigil_http_requests_total',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'vigil_http_request_duration_seconds',
    help: 'HTTP request duration from first byte to response end',
    labelNames: ['route', 'method'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const httpAborted = new Counter({
    name: 'vigil_http_aborted_total',
    help: 'Requests whose client hung up before the response was written',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  const httpInFlight = new Gauge({
    name: 'vigil_http_in_flight',
    help: 'HTTP requests being handled right now',
    registers: [registry],
  });

  return { registry, httpRequests, httpDuration, httpAborted, httpInFlight };
}

export type Metrics = ReturnType<typeof createMetrics>;
