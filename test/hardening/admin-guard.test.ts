import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '../../src/server/http/route.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { logIn, type Member } from './support/accounts.ts';
import { FUZZ_ADMIN_TOKEN, startFuzzGateway } from './support/fuzz-gateway.ts';
import { HttpClient, type RawResponse } from './support/http-client.ts';
import { coreErrorProblems } from './support/response-oracle.ts';

// Every admin route of the route table (so one added later is covered), with every near miss of
// the admin credential: refused with a catalogued 401 (or 403 when the admin API is off), and
// nothing done. test/identity/verification.test.ts and test/sessions/key-rotation.test.ts check
// a missing token on two admin routes; this walks them all.
let gw: TestGateway;
let http: HttpClient;
let user: Member;
let pendingId: string;
let adminRoutes: Route[];

beforeAll(async () => {
  gw = await startFuzzGateway({ VIGIL_REQUIRE_APPROVAL: '1', VIGIL_CONSOLE: '1' });
  http = new HttpClient(gw.url);
  adminRoutes = gw.gateway.routes.filter((r) => r.auth?.scheme === 'admin');
  const signUp = async (username: string) => {
    const res = await fetch(`${gw.url}/v1/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: 'a long password 1' }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { account: { id: string } }).account.id;
  };
  // An account waiting for approval, so an approve that slipped through would show.
  pendingId = await signUp('pendingadmin1');
  // A signed-in user, whose access token is no admin credential either.
  const userId = await signUp('useradmin1');
  await fetch(`${gw.url}/v1/admin/accounts/${userId}/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${FUZZ_ADMIN_TOKEN}` },
  });
  user = {
    username: 'useradmin1',
    password: 'a long password 1',
    ...(await logIn(gw.url, 'useradmin1', 'a long password 1')),
  } as Member;
});
afterAll(async () => {
  http?.close();
  await gw?.close();
});

const near = (token: string) => [
  undefined,
  '',
  'Bearer',
  'Bearer ',
  `Bearer ${token}x`,
  `Bearer ${token.slice(0, -1)}`,
  `Bearer ${token.toUpperCase()}`,
  `Bearer ${token.slice(0, 16)}`,
  `Basic ${Buffer.from(`admin:${token}`).toString('base64')}`,
  `Token ${token}`,
  token,
  `Bearer "${token}"`,
  `Bearer ${token},Bearer ${token}`,
];

/** A well-formed request to an admin route (so only the credential is wrong), the token also in a query, a header and a cookie. */
async function call(route: Route, authorization: string | undefined, client = http): Promise<RawResponse> {
  const ids: Record<string, string> = { id: pendingId, kind: 'interests', uuid: 'a'.repeat(22) };
  const path = route.path.replace(/:(\w+)/g, (_, name: string) => ids[name] ?? 'x');
  // Routes with a query get their required fields (a string value fits every one so far).
  const schema = route.schema.query as { required?: string[]; properties: Record<string, { default?: unknown }> } | undefined;
  const required = (schema?.required ?? []).filter((name) => schema!.properties[name]?.default === undefined);
  const query = route.schema.query
    ? required.length > 0
      ? `?${required.map((name) => `${name}=${encodeURIComponent(pendingId)}`).join('&')}`
      : ''
    : `?token=${encodeURIComponent(FUZZ_ADMIN_TOKEN)}`;
  const headers: Record<string, string> = { 'x-admin-token': FUZZ_ADMIN_TOKEN, cookie: `admin=${FUZZ_ADMIN_TOKEN}` };
  if (authorization !== undefined) headers.authorization = authorization;
  let body: Buffer | undefined;
  if (route.body.kind !== 'none') {
    body = Buffer.from(JSON.stringify(route.path.includes('catalogue') ? { name: 'x', emoji: 'x' } : {}));
    headers['content-type'] = 'application/json';
  }
  return client.send({ method: route.method, path: path + query, headers, body });
}

describe('the admin API refuses everything but the admin credential', () => {
  it('has admin routes to guard (accounts, keys, the console’s, the legacy C catalogue)', () => {
    expect(adminRoutes.map((r) => r.path)).toEqual(
      expect.arrayContaining([
        '/v1/admin/accounts',
        '/v1/admin/accounts/:id/approve',
        '/v1/admin/accounts/lookup',
        '/v1/admin/accounts/:id/sessions/:sessionId',
        '/v1/admin/audit',
        '/v1/admin/keys/rotate',
        '/v1/admin/legacy/c/catalogue',
      ]),
    );
  });

  it('guards the console’s live trust stream (served beside the router) the same way', async () => {
    for (const authorization of [...near(FUZZ_ADMIN_TOKEN), `Bearer ${user.accessToken}`]) {
      const res = await fetch(`${gw.url}/v1/admin/accounts/${user.userId}/trust`, { headers: { authorization } });
      expect(res.status, authorization).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ADMIN_UNAUTHORIZED');
    }
    const open = await fetch(`${gw.url}/v1/admin/accounts/${user.userId}/trust`, {
      headers: { authorization: `Bearer ${FUZZ_ADMIN_TOKEN}` },
    });
    expect(open.status).toBe(200);
    expect(open.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await open.body?.cancel();
  });

  it('closes the live trust stream’s connection on ambiguous framing, so nothing smuggled behind it runs', async () => {
    const { port } = new URL(gw.url);
    const smuggled = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
    // uWS takes the first Content-Length (0), so without the guard the bytes after the head are a second request.
    const bytes = `GET /v1/admin/accounts/${user.userId}/trust HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`;
    const { reply, closed } = await new Promise<{ reply: string; closed: boolean }>((resolve) => {
      let data = '';
      const socket = connect(Number(port), '127.0.0.1', () => socket.write(bytes));
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ reply: data, closed: false });
      }, 1_000);
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ reply: data, closed: true });
      });
      socket.on('error', () => undefined);
    });
    expect(reply).not.toContain('"status":"ok"');
    expect(reply).toBe('');
    expect(closed).toBe(true);
  });

  it('answers every near miss of the token (and the token in a query or another header) with 401 ADMIN_UNAUTHORIZED', async () => {
    const jwksBefore = await (await fetch(`${gw.url}/.well-known/jwks.json`)).text();
    const attempts = [...near(FUZZ_ADMIN_TOKEN), `Bearer ${user.accessToken}`];
    for (const route of adminRoutes) {
      for (const authorization of attempts) {
        const res = await call(route, authorization);
        const body = JSON.parse(res.body.toString()) as unknown;
        expect(res.status, `${route.method} ${route.path} with ${String(authorization).slice(0, 30)}`).toBe(401);
        expect(coreErrorProblems(res.status, body, undefined)).toEqual([]);
        expect((body as { error: { code: string } }).error.code).toBe('ADMIN_UNAUTHORIZED');
      }
    }
    // Nothing happened: no key rotated, nobody approved, the catalogue untouched.
    expect(await (await fetch(`${gw.url}/.well-known/jwks.json`)).text()).toBe(jwksBefore);
    const pendingLogin = await fetch(`${gw.url}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identifier: 'pendingadmin1', password: 'a long password 1' }),
    });
    expect(((await pendingLogin.json()) as { error: { code: string } }).error.code).toBe('ACCOUNT_PENDING');
    const catalogue = await fetch(`${gw.url}/v1/admin/legacy/c/catalogue`, {
      headers: { authorization: `Bearer ${FUZZ_ADMIN_TOKEN}` },
    });
    expect(await catalogue.json()).toEqual({ interests: [], professions: [] });
  });

  it('the real credential works (the guard is not simply closed)', async () => {
    const res = await fetch(`${gw.url}/v1/admin/accounts?status=pending`, {
      headers: { authorization: `Bearer ${FUZZ_ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
  });
});

describe('with the admin API switched off (no VIGIL_ADMIN_TOKEN)', () => {
  let off: TestGateway;
  let offHttp: HttpClient;
  beforeAll(async () => {
    off = await startTestGateway({ VIGIL_LEGACY_DIALECTS: 'c' });
    offHttp = new HttpClient(off.url);
  });
  afterAll(async () => {
    offHttp?.close();
    await off?.close();
  });

  it('answers 403 ADMIN_DISABLED on every admin route, whatever is presented', async () => {
    const routes = off.gateway.routes.filter((r) => r.auth?.scheme === 'admin');
    expect(routes.length).toBeGreaterThan(3);
    for (const route of routes) {
      for (const authorization of [undefined, `Bearer ${FUZZ_ADMIN_TOKEN}`, 'Bearer undefined', 'Bearer ', 'Bearer null']) {
        const res = await call(route, authorization, offHttp);
        expect(res.status, `${route.method} ${route.path}`).toBe(403);
        expect((JSON.parse(res.body.toString()) as { error: { code: string } }).error.code).toBe('ADMIN_DISABLED');
      }
    }
  });
});
