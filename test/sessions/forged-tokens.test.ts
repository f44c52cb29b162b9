import { createHmac } from 'node:crypto';
import { CompactSign, SignJWT, importJWK, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningJwk } from '../../src/tokens/key-ring.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { bearer, errorCode, json, startNode, type Node } from './support.ts';

// Every way an access token can be wrong is refused with its own catalogue code, both by a
// route guarded by the bearer authenticator and by introspection.
let gw: TestGateway;
let node: Node;
let signingJwk: { kid: string; publicJwk: JWK; privateJwk: JWK };
let ourKey: CryptoKey;
let strangerKey: CryptoKey;
let valid: { token: string; sessionId: string; userId: string };

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

beforeAll(async () => {
  signingJwk = await generateSigningJwk();
  gw = await startTestGateway({ VIGIL_JWT_PRIVATE_KEYS: JSON.stringify({ keys: [signingJwk.privateJwk] }) });
  node = await startNode(gw.config);
  ourKey = (await importJWK(signingJwk.privateJwk, 'EdDSA')) as CryptoKey;
  strangerKey = (await importJWK((await generateSigningJwk()).privateJwk, 'EdDSA')) as CryptoKey;
  const { session, tokens } = await node.core.sessions.start({ userId: 'user-forged' });
  valid = { token: tokens.accessToken, sessionId: session.id, userId: 'user-forged' };
});
afterAll(async () => {
  await node?.close();
  await gw?.close();
});

function claims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: gw.config.VIGIL_JWT_ISSUER,
    aud: gw.config.VIGIL_JWT_AUDIENCE,
    sub: valid.userId,
    sid: valid.sessionId,
    jti: 'jti-1',
    iat: now,
    exp: now + 600,
    ...overrides,
  };
}

function sign(payload: JWTPayload, header: Record<string, unknown> = {}, key: CryptoKey = ourKey): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid: signingJwk.kid, typ: 'at+jwt', ...header }).sign(key);
}

/** Both checks must agree: the guarded route answers 401 with the code, introspection says inactive with it. */
async function expectRejected(token: string, code: string): Promise<void> {
  const res = await fetch(`${gw.url}/v1/sessions`, { headers: bearer(token) });
  expect(res.status).toBe(401);
  expect(await errorCode(res)).toBe(code);
  const introspection = await fetch(`${gw.url}/v1/tokens/introspect`, json({ token }));
  expect(await introspection.json()).toEqual({ active: false, code });
}

describe('access token verification', () => {
  it('accepts a genuine token', async () => {
    expect((await fetch(`${gw.url}/v1/sessions`, { headers: bearer(valid.token) })).status).toBe(200);
    const res = await fetch(`${gw.url}/v1/tokens/introspect`, json({ token: valid.token }));
    expect(await res.json()).toMatchObject({ active: true, sub: valid.userId, sid: valid.sessionId, kid: signingJwk.kid });
  });

  it('accepts a token we forge correctly (the forging helper itself is sound)', async () => {
    const res = await fetch(`${gw.url}/v1/tokens/introspect`, json({ token: await sign(claims()) }));
    expect(await res.json()).toMatchObject({ active: true });
  });

  it('refuses a missing bearer token', async () => {
    const res = await fetch(`${gw.url}/v1/sessions`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await errorCode(res)).toBe('TOKEN_MISSING');
  });

  it('refuses alg "none"', async () => {
    const token = `${b64({ alg: 'none', typ: 'at+jwt', kid: signingJwk.kid })}.${b64(claims())}.`;
    await expectRejected(token, 'TOKEN_ALG_NONE');
  });

  it('refuses HS256 signed with the public key (algorithm confusion)', async () => {
    const header = b64({ alg: 'HS256', typ: 'at+jwt', kid: signingJwk.kid });
    const body = b64(claims());
    for (const secret of [Buffer.from(signingJwk.publicJwk.x!, 'base64url'), JSON.stringify(signingJwk.publicJwk)]) {
      const signature = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url');
      await expectRejected(`${header}.${body}.${signature}`, 'TOKEN_ALG_MISMATCH');
    }
  });

  it('refuses an unknown kid', async () => {
    await expectRejected(await sign(claims(), { kid: 'no-such-key' }, strangerKey), 'TOKEN_KID_UNKNOWN');
    await expectRejected(await sign(claims(), { kid: undefined }), 'TOKEN_KID_UNKNOWN');
  });

  it('refuses our kid with a stranger’s signature', async () => {
    await expectRejected(await sign(claims(), {}, strangerKey), 'TOKEN_SIGNATURE_INVALID');
  });

  it('refuses a tampered payload', async () => {
    const [header, , signature] = valid.token.split('.');
    const payload = JSON.parse(Buffer.from(valid.token.split('.')[1]!, 'base64url').toString()) as JWTPayload;
    await expectRejected(`${header}.${b64({ ...payload, sub: 'someone-else' })}.${signature}`, 'TOKEN_SIGNATURE_INVALID');
  });

  it('refuses an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRejected(await sign(claims({ iat: now - 7200, exp: now - 3600 })), 'TOKEN_EXPIRED');
  });

  it('refuses a token that is not valid yet (nbf or iat in the future)', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRejected(await sign(claims({ nbf: now + 3600 })), 'TOKEN_NOT_YET_VALID');
    await expectRejected(await sign(claims({ iat: now + 3600, exp: now + 7200 })), 'TOKEN_NOT_YET_VALID');
  });

  it('refuses the wrong issuer and the wrong audience', async () => {
    await expectRejected(await sign(claims({ iss: 'someone-else' })), 'TOKEN_ISSUER_INVALID');
    await expectRejected(await sign(claims({ aud: 'another-api' })), 'TOKEN_AUDIENCE_INVALID');
  });

  it('refuses malformed tokens', async () => {
    await expectRejected('not-a-jwt', 'TOKEN_MALFORMED');
    await expectRejected('abc.def.ghi', 'TOKEN_MALFORMED');
    // Signature first: an unsigned payload is never parsed, so garbage with a made-up signature is a bad signature…
    await expectRejected(
      `${b64({ alg: 'EdDSA', kid: signingJwk.kid, typ: 'at+jwt' })}.bm90IGpzb24.c2ln`,
      'TOKEN_SIGNATURE_INVALID',
    );
    // …and a properly signed payload that is not a claims object is malformed.
    const notJson = await new CompactSign(new TextEncoder().encode('not json'))
      .setProtectedHeader({ alg: 'EdDSA', kid: signingJwk.kid, typ: 'at+jwt' })
      .sign(ourKey);
    await expectRejected(notJson, 'TOKEN_MALFORMED');
    // Well signed, but not an access token: wrong typ, or no session.
    await expectRejected(await sign(claims(), { typ: 'JWT' }), 'TOKEN_MALFORMED');
    await expectRejected(await sign(claims({ sid: undefined })), 'TOKEN_MALFORMED');
  });

  it('refuses a genuine token whose session was revoked', async () => {
    const { session, tokens } = await node.core.sessions.start({ userId: 'user-revoked' });
    await node.core.sessions.revoke('user-revoked', session.id, 'test');
    await expectRejected(tokens.accessToken, 'TOKEN_REVOKED');
  });

  it('counts each outcome in the metrics', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    for (const outcome of ['verified', 'cache_hit', 'TOKEN_ALG_NONE', 'TOKEN_ALG_MISMATCH', 'TOKEN_EXPIRED', 'TOKEN_REVOKED']) {
      expect(text).toMatch(new RegExp(`vigil_token_verifications_total\\{outcome="${outcome}"\\} [1-9]`));
    }
    expect(text).toMatch(/vigil_revocation_channel_up 1/);
    expect(text).toMatch(/vigil_token_cache_entries [1-9]/);
  });
});
