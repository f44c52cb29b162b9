import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectRequest } from '../../src/server/http/router.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

// Router.inject is the router's own pipeline without a socket: the same request answered over
// real HTTP and injected must get the same status, body and headers, for successes and for every
// way the router refuses one.
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ HTTP_BODY_LIMIT: '2048', VIGIL_CORS_ORIGINS: 'https://app.example.test' });
});
afterAll(() => gw?.close());

const VARYING = new Set(['x-request-id', 'date', 'connection', 'content-length', 'keep-alive', 'uwebsockets']);

/** The answer over real HTTP and injected, without what differs by design (request ids, transport headers). */
async function both(request: InjectRequest & { body?: string }) {
  const res = await fetch(gw.url + request.path, {
    method: request.method,
    headers: request.headers,
    body: request.body,
  });
  const overHttp = {
    status: res.status,
    headers: comparable(Object.fromEntries(res.headers)),
    body: withoutId(await res.text()),
  };
  const reply = await gw.inject(request);
  const injected = { status: reply.status, headers: comparable(reply.headers), body: withoutId(reply.body) };
  return { overHttp, injected };
}

const withoutId = (body: string) => body.replace(/"requestId":"[^"]*"/, '"requestId":"…"');
const comparable = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !VARYING.has(name)));

describe('Router.inject', () => {
  it.each<[string, InjectRequest & { body?: string }]>([
    ['a success', { method: 'GET', path: '/healthz' }],
    [
      'a validation error naming every bad field',
      {
        method: 'POST',
        path: '/v1/accounts',
        headers: { 'content-type': 'application/json' },
        body: '{"username":1,"password":2}',
      },
    ],
    ['a missing credential', { method: 'GET', path: '/v1/accounts/me' }],
    ['an unknown route', { method: 'GET', path: '/v1/nowhere?x=1' }],
    ['another method of a known path', { method: 'PUT', path: '/v1/accounts' }],
    ['HEAD of a known path (headers only)', { method: 'HEAD', path: '/v1/accounts' }],
    ['a body of the wrong type', { method: 'POST', path: '/v1/accounts', headers: { 'content-type': 'text/plain' }, body: 'x' }],
    [
      'a body over the limit',
      { method: 'POST', path: '/v1/accounts', headers: { 'content-type': 'application/json' }, body: `"${'x'.repeat(4096)}"` },
    ],
    [
      'a CORS preflight',
      {
        method: 'OPTIONS',
        path: '/v1/accounts',
        headers: { origin: 'https://app.example.test', 'access-control-request-method': 'POST' },
      },
    ],
  ])('answers %s as the listening gateway does', async (_name, request) => {
    const { overHttp, injected } = await both(request);
    expect(injected).toEqual(overHttp);
  });

  it('drops a request with ambiguous framing without an answer, as the socket path does', async () => {
    const reply = await gw.inject({
      method: 'POST',
      path: '/v1/accounts',
      headers: { 'content-type': 'application/json', 'content-length': '2', 'transfer-encoding': 'chunked' },
      body: '{}',
    });
    expect(reply).toMatchObject({ status: 0, dropped: true, body: '' });
  });

  it('serves a gateway that does not listen', async () => {
    const quiet = await startTestGateway({}, { listen: false });
    try {
      expect(quiet.url).toBe('');
      const reply = await quiet.inject({
        method: 'POST',
        path: '/v1/accounts',
        body: { username: 'injected1', password: 'passphrase 12' },
      });
      expect(reply.status).toBe(201);
      expect(reply.json<{ account: { username: string } }>()).toMatchObject({ account: { username: 'injected1' } });
    } finally {
      await quiet.close();
    }
  });
});
