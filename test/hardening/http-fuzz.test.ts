import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '../../src/server/http/route.ts';
import { CredentialPool } from './support/accounts.ts';
import { FUZZ_ADMIN_TOKEN, startFuzzGateway } from './support/fuzz-gateway.ts';
import { fcParams, fuzzSettings } from './support/fuzz-settings.ts';
import { HttpClient, type RawRequest, type RawResponse } from './support/http-client.ts';
import { httpCase, materialize } from './support/http-cases.ts';
import { prototypePollution, settledMemory, type MemorySample } from './support/memory.ts';
import { preview, responseProblems } from './support/response-oracle.ts';

// Every route of the route table — core, system, admin, dev and all five legacy dialects — is a
// fuzz target generated from its own schemas, so a route added tomorrow is fuzzed tomorrow. Each
// case is a real HTTP request to a gateway on real Redis and FerretDB. What must hold for every
// answer: no 5xx, an answer within the timeout, a catalogued error code (core) or the dialect's
// declared envelope (legacy); and for the whole run: no prototype pollution, memory flat.
//
// The gateway starts at collection time because the route table decides which tests exist.
const gw = await startFuzzGateway();
const routes: readonly Route[] = gw.gateway.routes;
const { runs } = fuzzSettings();
/** Requests in flight at once per case (a case is a batch; shrinking still narrows each request). */
const BATCH = 8;

let pool: CredentialPool;
let client: HttpClient;
let baseline: MemorySample;
let sent = 0;
const statuses = new Map<number, number>();

beforeAll(async () => {
  pool = await CredentialPool.create(gw.url, { size: 4, victims: 2, admin: FUZZ_ADMIN_TOKEN, legacyA: true });
  client = new HttpClient(gw.url, BATCH * 2);
  // One warm-up batch per route first: pools, caches, compiled code and lazily built state
  // (scoring workers, key ring, OpenAPI document) settle, so the baseline is the steady state.
  for (const route of routes) {
    const cases = fc.sample(fc.array(httpCase(route), { minLength: BATCH, maxLength: BATCH }), { seed: 1, numRuns: 2 }).flat();
    await Promise.all(cases.map((c) => client.send(materialize(route, c, pool)).catch(() => undefined)));
    await pool.heal({ legacyA: route.path.startsWith('/server/') });
  }
  baseline = await settledMemory();
}, 180_000);

afterAll(async () => {
  client?.close();
  await gw.close();
});

function describeFailure(req: RawRequest, res: RawResponse | undefined, problems: string[]): string {
  const headers = Object.entries(req.headers)
    .map(([k, v]) => `${k}: ${preview(v, 120)}`)
    .join('; ');
  const body = req.body ? preview(req.body.toString('utf8'), 400) : '(none)';
  return `${req.method} ${preview(req.path, 200)}\n  headers: ${headers}\n  body: ${body}\n  → ${res?.status ?? 'no answer'}: ${problems.join(' | ')}`;
}

/** With the method mutated, another route of the same path (or the 405 catch-all) answers. */
function answeredBy(route: Route, method: string): Route | undefined {
  return method === route.method ? route : routes.find((r) => r.path === route.path && r.method === method);
}

async function fuzzRoute(route: Route): Promise<number> {
  let count = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(httpCase(route), { minLength: BATCH, maxLength: BATCH }), async (cases) => {
      const outcomes = await Promise.all(
        cases.map(async (c) => {
          const req = materialize(route, c, pool);
          try {
            const res = await client.send(req);
            return { req, res, problems: responseProblems(answeredBy(route, req.method), res, req.method) };
          } catch (err) {
            return { req, res: undefined, problems: [`request failed: ${(err as Error).message}`] };
          }
        }),
      );
      count += outcomes.length;
      for (const { res } of outcomes) if (res) statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const failures = outcomes.filter((o) => o.problems.length > 0).map((o) => describeFailure(o.req, o.res, o.problems));
      const polluted = prototypePollution();
      if (polluted.length > 0) failures.push(`Object.prototype polluted with ${polluted.join(', ')}`);
      if (failures.length > 0) throw new Error(failures.join('\n'));
    }),
    fcParams(`http ${route.method} ${route.path}`, Math.ceil(runs / BATCH)),
  );
  sent += count;
  return count;
}

describe('every HTTP route, fuzzed from its declaration', () => {
  it('targets every operation of /openapi.json, the legacy dialects included', async () => {
    const doc = (await (await fetch(`${gw.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const targets = new Set(routes.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`));
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(operations.filter((op) => !targets.has(op))).toEqual([]);
    for (const prefix of ['/server/members/', '/api/auth/', '/api/token/', '/auth/authentiaction/', '/api/v1/auth/']) {
      expect(operations.some((op) => op.includes(prefix))).toBe(true);
    }
  });

  for (const route of routes) {
    it(`${route.method} ${route.path}`, { timeout: 300_000 }, async () => {
      await pool.heal({ legacyA: route.path.startsWith('/server/') });
      const count = await fuzzRoute(route);
      expect(count).toBeGreaterThanOrEqual(runs);
      // Still serving, and still itself.
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    });
  }

  it('keeps memory flat across the whole run (heap and RSS after GC)', async () => {
    const after = await settledMemory();
    const growth = { heapMiB: after.heapUsedMiB - baseline.heapUsedMiB, rssMiB: after.rssMiB - baseline.rssMiB };
    console.info(
      `http fuzz: ${sent} requests to ${routes.length} routes; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}; ` +
        `heap ${baseline.heapUsedMiB.toFixed(1)} → ${after.heapUsedMiB.toFixed(1)} MiB, RSS ${baseline.rssMiB.toFixed(1)} → ${after.rssMiB.toFixed(1)} MiB`,
    );
    expect(sent).toBeGreaterThanOrEqual(runs * routes.length);
    // The gateway keeps bounded caches (verified tokens, revocation ids, key ring); anything that
    // grows per request would show here at thousands of requests.
    expect(growth.heapMiB).toBeLessThan(24);
    expect(growth.rssMiB).toBeLessThan(96);
  });
});
