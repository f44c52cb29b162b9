import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startLegacyGateway, type Client } from '../legacy/support.ts';
import type { TestGateway } from '../support/gateway.ts';

// B's HS512 tokens and E's EdDSA tokens are verified offline by their resource servers, so ending
// the session cannot reach a server that only checks the signature: docs/legacy.md promised they
// were "refused the moment their session ends". What holds now: introspection answers for them
// with the session's state, so a resource server that asks learns at once that the session ended.

const INTROSPECTION_TOKEN = 'introspection-credential-for-legacy-tokens';
let gw: TestGateway;
let api: Client;
const introspector = { authorization: `Bearer ${INTROSPECTION_TOKEN}` };

beforeAll(async () => {
  gw = await startLegacyGateway('b,e', { VIGIL_INTROSPECTION_TOKEN: INTROSPECTION_TOKEN });
  api = client(gw.url);
});
afterAll(() => gw.close());

type Introspection = { active: boolean; sub?: string; sid?: string; tokenType?: string; exp?: number; code?: string };
const introspect = async (token: string, tokenType?: string) =>
  (await api.post<Introspection>('/v1/tokens/introspect', { token, tokenType }, introspector)).body;

/** "Log out everywhere" through the core API, as the owner would after losing a phone. */
async function logOutEverywhere(identifier: string, password: string): Promise<void> {
  const login = await api.post<{ accessToken: string }>('/v1/sessions', { identifier, password });
  expect(login.status).toBe(201);
  expect((await api.del('/v1/sessions', api.bearer(login.body.accessToken))).status).toBe(200);
}

describe('legacy tokens that resource servers verify offline', () => {
  it('B: introspection says active while the session lives and inactive the moment it ends', async () => {
    const signUp = await api.post('/api/auth/sign-up', {
      authId: 'tokenb1',
      password: 'owner-first-pass',
      name: 'B',
      email: 'tokenb1@example.com',
    });
    expect(signUp.status).toBe(200);
    const signIn = await api.post<{ data: { token: string } }>('/api/auth/sign-in', {
      authId: 'tokenb1',
      password: 'owner-first-pass',
    });
    const token = signIn.body.data.token;
    const live = await introspect(token, 'legacy-b');
    // Asked for an access token (the default), the same token is not one.
    expect((await introspect(token)).active).toBe(false);
    expect(live).toMatchObject({ active: true, tokenType: 'legacy-b' });
    expect(live.exp).toBeGreaterThan(Date.now() / 1000);

    await logOutEverywhere('tokenb1', 'owner-first-pass');
    expect(await introspect(token, 'legacy-b')).toEqual({ active: false, code: 'TOKEN_REVOKED' });
  });

  it('E: the same for the JWKS-verified token', async () => {
    const num = '+821055502001';
    expect(
      (await api.post<{ success: boolean }>('/api/v1/auth/signup', { num, password: 'owner-first-pass' })).body.success,
    ).toBe(true);
    const signIn = await api.post<{ data: { item: string[] } }>('/api/v1/auth/signin', { num, password: 'owner-first-pass' });
    const token = signIn.body.data.item[0]!;
    expect(await introspect(token, 'legacy-e')).toMatchObject({ active: true, tokenType: 'legacy-e' });
    expect((await introspect(token, 'legacy-b')).active).toBe(false);

    await logOutEverywhere(num, 'owner-first-pass');
    expect((await introspect(token, 'legacy-e')).active).toBe(false);
  });

  it('a token the gateway never issued is not active, however well formed', async () => {
    const [header, payload] = ['{"alg":"HS512"}', '{"sub":"tokenb1","exp":9999999999}'].map((part) =>
      Buffer.from(part).toString('base64url'),
    );
    expect((await introspect(`${header}.${payload}.c2lnbmF0dXJl`, 'legacy-b')).active).toBe(false);
  });
});
