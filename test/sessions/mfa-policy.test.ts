import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { jsonCaller } from '../support/json-call.ts';
import { TestSocket } from '../realtime/support.ts';

/**
 * VIGIL_MFA_REQUIRE=everyone over real HTTP and WebSocket: an account without a second factor
 * logs in to a session that can only enrol one (as Kratos' aal2 requirement does), refused
 * everywhere else — routes, sockets, introspection, refresh does not launder it — and logs in
 * fully once it has a factor. Legacy dialects, whose clients cannot enrol, refuse such logins.
 */
const INTROSPECTION_TOKEN = 'policy-introspection-token-0123456789';
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    VIGIL_MFA_REQUIRE: 'everyone',
    VIGIL_INTROSPECTION_TOKEN: INTROSPECTION_TOKEN,
    VIGIL_LOGIN_PER_IP: '1000',
    VIGIL_LEGACY_DIALECTS: 'b',
    VIGIL_LEGACY_B_JWT_SECRET: 'b'.repeat(64),
  });
});
afterAll(() => gw?.close());

const call = jsonCaller(() => gw.url);

const PASSWORD = 'correct horse battery';
const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { amr: string[] };

describe('VIGIL_MFA_REQUIRE=everyone', () => {
  it('gives an account without a second factor a session that can only enrol one', async () => {
    const username = `policy${process.pid}`;
    expect((await call('POST', '/v1/accounts', { username, password: PASSWORD })).status).toBe(201);
    const login = await call('POST', '/v1/sessions', { identifier: username, password: PASSWORD });
    expect(login.status).toBe(201);
    expect(login.body.mfaEnrolmentRequired).toBe(true);
    const restricted = login.body.accessToken as string;

    // Everything but enrolment is refused: the account, its sessions, the socket, introspection.
    const me = await call('GET', '/v1/accounts/me', undefined, restricted);
    expect(me.status).toBe(403);
    expect(me.body.error.code).toBe('MFA_ENROLMENT_REQUIRED');
    expect((await call('GET', '/v1/sessions', undefined, restricted)).body.error.code).toBe('MFA_ENROLMENT_REQUIRED');
    const socket = new TestSocket(gw.url, { token: restricted });
    const refused = await socket.opened.then(
      () => socket.closed.then((c) => `closed ${c.code} ${c.reason}`),
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/HTTP 403|closed 4523 MFA_ENROLMENT_REQUIRED/);
    const introspected = await fetch(`${gw.url}/v1/tokens/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INTROSPECTION_TOKEN}` },
      body: JSON.stringify({ token: restricted }),
    });
    expect(await introspected.json()).toEqual({ active: false, code: 'MFA_ENROLMENT_REQUIRED' });
    // Refreshing keeps the login's amr: it does not launder the restriction away.
    const refreshed = await call('POST', '/v1/sessions/refresh', { refreshToken: login.body.refreshToken });
    expect(refreshed.status).toBe(200);
    expect((await call('GET', '/v1/accounts/me', undefined, refreshed.body.accessToken)).body.error.code).toBe(
      'MFA_ENROLMENT_REQUIRED',
    );

    // Enrolment is allowed; the restricted session stays restricted; a login with the factor is whole.
    const setup = await call('POST', '/v1/mfa/totp', undefined, refreshed.body.accessToken);
    expect(setup.status).toBe(200);
    const secret = setup.body.secret as string;
    expect(
      (await call('POST', '/v1/mfa/totp/confirm', { code: await generate({ secret }) }, refreshed.body.accessToken)).status,
    ).toBe(200);
    expect((await call('GET', '/v1/accounts/me', undefined, refreshed.body.accessToken)).status).toBe(403);
    const first = await call('POST', '/v1/sessions', { identifier: username, password: PASSWORD });
    expect(first.status).toBe(202);
    const next = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
    const full = await call('POST', '/v1/sessions/mfa', { ticket: first.body.mfa.ticket, code: next });
    expect(full.status).toBe(201);
    expect(full.body).not.toHaveProperty('mfaEnrolmentRequired');
    expect(claims(full.body.accessToken).amr).toEqual(['pwd', 'otp', 'mfa']);
    expect((await call('GET', '/v1/accounts/me', undefined, full.body.accessToken)).status).toBe(200);
    const active = await fetch(`${gw.url}/v1/tokens/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INTROSPECTION_TOKEN}` },
      body: JSON.stringify({ token: full.body.accessToken }),
    });
    expect(await active.json()).toMatchObject({ active: true, amr: ['pwd', 'otp', 'mfa'] });
    // A restricted session can still log out.
    expect((await call('DELETE', '/v1/sessions/current', undefined, restricted)).status).toBe(200);
  });

  it('refuses a legacy dialect login of an account without a second factor (its clients cannot enrol)', async () => {
    const username = `policyb${process.pid}`;
    expect((await call('POST', '/v1/accounts', { username, password: PASSWORD })).status).toBe(201);
    const res = await call('POST', '/api/auth/sign-in', { authId: username, password: PASSWORD });
    expect(res).toEqual({ status: 400, body: { data: null, error: '2단계 인증이 필요한 사용자' } });
  });
});
