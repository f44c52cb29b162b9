import { webcrypto } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningJwk } from '../../src/tokens/key-ring.ts';
import type { TestGateway } from '../support/gateway.ts';
import { signUpMember, uniquePhone, type Member } from './support/accounts.ts';
import { FUZZ_B_SECRET, startFuzzGateway } from './support/fuzz-gateway.ts';

// Forgeries test/sessions/forged-tokens.test.ts does not cover (it has alg none, HS/EdDSA
// confusion with the public key, unknown kid, a stranger's signature, tampering, exp/nbf/iat,
// iss/aud, malformed shapes, revoked sessions): keys carried in the token itself (jwk, jku, x5u,
// x5c — never fetched, never trusted), `crit`, hostile `kid` values, duplicate header members,
// alg spelled differently, and every other token this gateway issues (legacy B's HS512 under its
// shared secret, legacy E's EdDSA JWT, refresh tokens, A's opaque tokens) presented as a core
// access token. Each is refused with its catalogue code on a guarded route and by introspection.
let gw: TestGateway;
let signing: { kid: string; privateJwk: JWK };
let ourKey: CryptoKey;
let member: Member;
let keyServer: Server;
let keyServerHits = 0;
let keyServerUrl: string;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

beforeAll(async () => {
  signing = await generateSigningJwk();
  gw = await startFuzzGateway({ VIGIL_JWT_PRIVATE_KEYS: JSON.stringify({ keys: [signing.privateJwk] }) });
  ourKey = (await importJWK(signing.privateJwk, 'EdDSA')) as CryptoKey;
  member = await signUpMember(gw.url, 'jwt');
  // A key server an attacker would point jku/x5u at: the gateway must never ask it anything.
  keyServer = createServer((_req, res) => {
    keyServerHits++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"keys":[]}');
  });
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
  keyServerUrl = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/jwks.json`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => keyServer?.close(() => resolve()));
  await gw?.close();
});

function claims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: gw.config.VIGIL_JWT_ISSUER,
    aud: gw.config.VIGIL_JWT_AUDIENCE,
    sub: member.userId,
    sid: member.sessionId,
    jti: `j${now}`,
    iat: now,
    exp: now + 600,
    ...overrides,
  };
}

/** The guarded route and introspection must both refuse, with the same code. */
async function refusal(token: string): Promise<string> {
  const res = await fetch(`${gw.url}/v1/accounts/me`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { error?: { code: string } };
  expect(res.status, JSON.stringify(body)).toBe(401);
  const introspection = (await (
    await fetch(`${gw.url}/v1/tokens/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    })
  ).json()) as { active: boolean; code?: string };
  expect(introspection).toEqual({ active: false, code: body.error!.code });
  return body.error!.code;
}

describe('access tokens the gateway must refuse (gaps of test/sessions/forged-tokens.test.ts)', () => {
  it('the forging helper is sound: our key and our claims verify', async () => {
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'EdDSA', kid: signing.kid, typ: 'at+jwt' }).sign(ourKey);
    expect((await fetch(`${gw.url}/v1/accounts/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('trusts no key the token brings along (jwk, jku, x5u, x5c) and fetches nothing', async () => {
    const attacker = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const attackerJwk = await exportJWK(attacker.publicKey);
    const variants: Array<Record<string, unknown>> = [
      { jwk: attackerJwk },
      { jwk: attackerJwk, kid: undefined },
      { jku: keyServerUrl },
      { jku: keyServerUrl, kid: 'attacker-key' },
      { x5u: keyServerUrl },
      { x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] },
    ];
    for (const extra of variants) {
      const header = { alg: 'EdDSA', kid: signing.kid, typ: 'at+jwt', ...extra };
      const token = await new SignJWT(claims()).setProtectedHeader(header).sign(attacker.privateKey);
      expect(['TOKEN_SIGNATURE_INVALID', 'TOKEN_KID_UNKNOWN', 'TOKEN_MALFORMED']).toContain(await refusal(token));
    }
    expect(keyServerHits).toBe(0);
  });

  it('refuses critical header extensions it does not understand', async () => {
    // jose will not even sign this; sign the bytes directly with our key.
    const input = `${b64({ alg: 'EdDSA', kid: signing.kid, typ: 'at+jwt', crit: ['exp-v2'], 'exp-v2': 1 })}.${b64(claims())}`;
    const signature = Buffer.from(await webcrypto.subtle.sign('Ed25519', ourKey, Buffer.from(input)));
    expect(await refusal(`${input}.${signature.toString('base64url')}`)).toBe('TOKEN_MALFORMED');
  });

  it('answers hostile kid values with TOKEN_KID_UNKNOWN or TOKEN_MALFORMED, never a 5xx', async () => {
    for (const kid of [
      '../../../../dev/null',
      "' OR '1'='1",
      '{"$ne":null}',
      '__proto__',
      'constructor',
      'x'.repeat(4_000),
      '',
      7,
      null,
      ['a'],
      { $gt: '' },
    ]) {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' } as { alg: string })
        .sign(ourKey);
      const code = await refusal(token);
      expect(['TOKEN_KID_UNKNOWN', 'TOKEN_MALFORMED'], JSON.stringify(kid).slice(0, 30)).toContain(code);
    }
  });

  it('reads a duplicated header member the way JSON does (the last), so "alg":"EdDSA","alg":"none" is alg none', async () => {
    const good = await new SignJWT(claims()).setProtectedHeader({ alg: 'EdDSA', kid: signing.kid, typ: 'at+jwt' }).sign(ourKey);
    const [, payload, signature] = good.split('.');
    const header = Buffer.from(`{"alg":"EdDSA","kid":"${signing.kid}","typ":"at+jwt","alg":"none"}`).toString('base64url');
    expect(await refusal(`${header}.${payload}.${signature}`)).toBe('TOKEN_ALG_NONE');
    const swapped = Buffer.from(`{"alg":"none","kid":"${signing.kid}","typ":"at+jwt","alg":"EdDSA"}`).toString('base64url');
    // Parsed as EdDSA, but the signature covers the original header bytes.
    expect(await refusal(`${swapped}.${payload}.${signature}`)).toBe('TOKEN_SIGNATURE_INVALID');
  });

  it('accepts no other spelling of an algorithm', async () => {
    const [, payload, signature] = (
      await new SignJWT(claims()).setProtectedHeader({ alg: 'EdDSA', kid: signing.kid, typ: 'at+jwt' }).sign(ourKey)
    ).split('.');
    for (const alg of ['NONE', 'None', 'nOnE'])
      expect(await refusal(`${b64({ alg, kid: signing.kid, typ: 'at+jwt' })}.${payload}.`)).toBe('TOKEN_ALG_NONE');
    for (const alg of ['eddsa', 'Ed25519', 'ES256', 'RS256', 'HS256', 'HS512', '']) {
      expect(await refusal(`${b64({ alg, kid: signing.kid, typ: 'at+jwt' })}.${payload}.${signature}`)).toBe(
        'TOKEN_ALG_MISMATCH',
      );
    }
  });

  it("refuses an HS512 token minted with legacy B's shared secret, core claims and our kid (B's resource servers hold that secret)", async () => {
    const secret = new TextEncoder().encode(FUZZ_B_SECRET);
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS512', kid: signing.kid, typ: 'at+jwt' }).sign(secret);
    expect(await refusal(token)).toBe('TOKEN_ALG_MISMATCH');
  });

  it('refuses every other token this gateway issues: B and E JWTs, refresh tokens, A tokens', async () => {
    // B: HS512 under the shared secret, for B's own resource servers.
    const authId = `b${Date.now().toString(36)}`;
    const password = 'b-password-123';
    const post = (path: string, body: unknown) =>
      fetch(`${gw.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json() as Promise<Record<string, unknown>>);
    await post('/api/auth/sign-up', { authId, password, name: 'B', email: `${authId}@hardening.test` });
    const bToken = ((await post('/api/auth/sign-in', { authId, password })).data as { token: string }).token;
    expect(bToken.split('.')).toHaveLength(3);
    expect(await refusal(bToken)).toBe('TOKEN_ALG_MISMATCH');

    // E: EdDSA under our own key ring — only typ and aud keep it out.
    const num = uniquePhone();
    await post('/api/v1/auth/signup', { num, password });
    const eToken = ((await post('/api/v1/auth/signin', { num, password })).data as { item: string[] }).item[0]!;
    expect(JSON.parse(Buffer.from(eToken.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg: 'EdDSA' });
    expect(['TOKEN_AUDIENCE_INVALID', 'TOKEN_MALFORMED']).toContain(await refusal(eToken));

    // A core refresh token, and A's 40-hex opaque token.
    expect(await refusal(member.refreshToken)).toBe('TOKEN_MALFORMED');
    const aLogin = await post('/server/members/login/', { username: member.username, password: member.password });
    expect(await refusal(String(aLogin.token))).toBe('TOKEN_MALFORMED');
  });

  it('keeps a genuine token of another typ out, even signed by our key (an ID-token look-alike)', async () => {
    for (const typ of ['JWT', 'id+jwt', undefined]) {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'EdDSA', kid: signing.kid, ...(typ ? { typ } : {}) })
        .sign(ourKey);
      expect(await refusal(token)).toBe('TOKEN_MALFORMED');
    }
  });
});
