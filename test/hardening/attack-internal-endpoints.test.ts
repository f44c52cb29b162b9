import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAM_PATH, STREAM_SUBPROTOCOL } from '../../protocol/messages.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { signUpMember } from './support/accounts.ts';
import { ATTACKER_ADDRESS, clientFrom, OWNER_ADDRESS } from './support/from-address.ts';

// The unauthenticated surface an operator did not mean to publish: /metrics (route names, counts,
// process figures), token introspection (an oracle on any token, and a signature check on demand),
// and sockets that open without a token and then sit waiting to authenticate.

const METRICS_TOKEN = 'metrics-credential-for-attack-tests';
const INTROSPECTION_TOKEN = 'introspection-credential-for-attack-tests';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('/metrics and introspection behind their credentials', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ VIGIL_METRICS_TOKEN: METRICS_TOKEN, VIGIL_INTROSPECTION_TOKEN: INTROSPECTION_TOKEN });
  });
  afterAll(() => gw.close());

  it('a stranger reads neither; the operator’s systems with the credential do', async () => {
    const stranger = clientFrom(gw.url, ATTACKER_ADDRESS);
    const { accessToken } = await signUpMember(gw.url);
    expect((await stranger.get('/metrics')).status).toBe(401);
    expect((await stranger.get('/metrics', bearer('guessed-credential-000'))).status).toBe(401);
    const oracle = await stranger.post<{ error: { code: string } }>('/v1/tokens/introspect', { token: accessToken });
    expect([oracle.status, oracle.body.error.code]).toEqual([401, 'INTERNAL_CREDENTIAL_REQUIRED']);

    const prometheus = clientFrom(gw.url, OWNER_ADDRESS);
    expect((await prometheus.get('/metrics', bearer(METRICS_TOKEN))).status).toBe(200);
    const answer = await prometheus.post('/v1/tokens/introspect', { token: accessToken }, bearer(INTROSPECTION_TOKEN));
    expect([answer.status, answer.body.active]).toEqual([200, true]);
  });
});

describe('production without the credentials', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      NODE_ENV: 'production',
      VIGIL_JWT_KEY_ENCRYPTION_KEY: 'k'.repeat(43),
      VIGIL_BCRYPT_COST: '10', // production refuses the test suite's cheap hashing
    });
  });
  afterAll(() => gw.close());

  it('serves neither endpoint', async () => {
    const stranger = clientFrom(gw.url, ATTACKER_ADDRESS);
    expect((await stranger.get('/metrics')).status).toBe(403);
    expect((await stranger.post('/v1/tokens/introspect', { token: 'x.y.z' })).status).toBe(403);
  });
});

describe('introspection is rate-limited per client', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ VIGIL_INTROSPECTION_TOKEN: INTROSPECTION_TOKEN, VIGIL_INTROSPECTION_PER_SECOND: '3' });
  });
  afterAll(() => gw.close());

  it('a burst beyond the limit is refused with 429', async () => {
    const caller = clientFrom(gw.url, ATTACKER_ADDRESS);
    const { accessToken } = await signUpMember(gw.url);
    const statuses = (
      await Promise.all(
        Array.from({ length: 20 }, () =>
          caller.post('/v1/tokens/introspect', { token: accessToken }, bearer(INTROSPECTION_TOKEN)),
        ),
      )
    ).map((reply) => reply.status);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(0);
    expect(statuses.every((status) => status === 200 || status === 429)).toBe(true);
  });
});

describe('sockets waiting to authenticate', () => {
  const PENDING = 3;
  let gw: TestGateway;
  const sockets: WebSocket[] = [];
  beforeAll(async () => {
    gw = await startTestGateway({
      VIGIL_CV_ENABLED: 'false',
      VIGIL_WS_MAX_PENDING_PER_CLIENT: String(PENDING),
      VIGIL_WS_AUTH_TIMEOUT_MS: '60000',
    });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.terminate();
    await gw.close();
  });

  /** Opens a socket without a token from `localAddress`: resolves 'open' or the refused status. */
  const openPending = (localAddress: string) =>
    new Promise<'open' | number>((resolve, reject) => {
      const socket = new WebSocket(gw.url.replace(/^http/, 'ws') + STREAM_PATH, [STREAM_SUBPROTOCOL], { localAddress });
      sockets.push(socket);
      socket.once('open', () => resolve('open'));
      socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.once('error', reject);
    });

  it('are capped per client address; other clients still connect', async () => {
    for (let i = 0; i < PENDING; i++) expect(await openPending(ATTACKER_ADDRESS)).toBe('open');
    expect(await openPending(ATTACKER_ADDRESS)).toBe(429);
    expect(await openPending(OWNER_ADDRESS)).toBe('open');
  });
});
