import { createHash } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { E } from './fixtures/e-phone.ts';
import { compareWithExample, shapes } from './shape.ts';
import { client, latestCode, startLegacyGateway, type Client } from './support.ts';

// Dialect E replayed from its document, in the order a phone app walks it, on a fresh gateway
// (so the first account is user 1), with SMS delivered into the dev outbox.
let gw: TestGateway;
let api: Client;
const phone = '+821012345678';
const headers = { 'content-type': E.signUp.headers['Content-Type'] };
const post = <T = Record<string, unknown>>(path: string, body: unknown) => api.post<T>(path, body, headers);
const failure = (code: number) => ({ success: false, code, data: { item: [], item_length: 0, total: 0 } });
let texts = 0;
const nextCode = async () => Number(await latestCode(api, phone, ++texts));

beforeAll(async () => {
  gw = await startLegacyGateway('e');
  api = client(gw.url);
});
afterAll(() => gw.close());

describe('dialect E, replayed from the document', () => {
  it('exists: a free number is [false]', async () => {
    const reply = await post(E.exists.path, E.exists.request);
    expect([reply.status, compareWithExample(reply.body, E.exists.free.body)]).toEqual([200, []]);
  });

  it('sms_auth_req texts a code; sms_auth_res answers [false] for a wrong one and [true] for it (an Int)', async () => {
    const sent = await post(E.smsAuthReq.path, E.smsAuthReq.request);
    expect([sent.status, compareWithExample(sent.body, E.smsAuthReq.response.body)]).toEqual([200, []]);
    const code = await nextCode();
    const wrong = await post(E.smsAuthRes.path, { ...E.smsAuthRes.request, auth_num: (code + 1) % 1_000_000 });
    expect(
      compareWithExample(wrong.body, { ...E.smsAuthRes.response.body, data: { item: [false], item_length: 1, total: 1 } }),
    ).toEqual([]);
    const right = await post(E.smsAuthRes.path, { ...E.smsAuthRes.request, auth_num: code });
    expect([right.status, compareWithExample(right.body, E.smsAuthRes.response.body)]).toEqual([200, []]);
  });

  it('signup: the example answers user 1, with the device and the proven (verified) number', async () => {
    const reply = await post(E.signUp.path, E.signUp.request);
    expect([reply.status, compareWithExample(reply.body, E.signUp.response.body)]).toEqual([200, []]);
    const account = await gw.gateway.mongo.db.collection('accounts').findOne({ seq: 1 });
    expect(account).toMatchObject({ phone, status: 'active' });
    expect(account?.phoneVerifiedAt).toBeInstanceOf(Date);
    expect(await gw.gateway.mongo.db.collection('devices').findOne({ userId: account!._id, deviceId: 'EW34WWE' })).not.toBeNull();

    const registered = await post(E.exists.path, E.exists.request);
    expect(compareWithExample(registered.body, E.exists.registered.body)).toEqual([]);
    const again = await post(E.signUp.path, E.signUp.request);
    expect([again.status, again.body]).toMatchObject([200, { ...failure(2001), message: 'already registered' }]);
  });

  it('signin: data.item holds a JWT carrying the numeric user id, verifiable with the JWKS', async () => {
    const reply = await post<{ data: { item: string[] } }>(E.signIn.path, E.signIn.request);
    expect(reply.status).toBe(E.signIn.response.status);
    expect(compareWithExample(reply.body, E.signIn.response.body, { '/data/item/0': shapes.jwt('EdDSA') })).toEqual([]);
    const jwks = (await api.get<JSONWebKeySet>('/.well-known/jwks.json')).body;
    const { payload, protectedHeader } = await jwtVerify(reply.body.data.item[0]!, createLocalJWKSet(jwks), {
      issuer: 'vigil',
      audience: 'legacy-e',
      algorithms: ['EdDSA'],
    });
    expect(protectedHeader.typ).toBe('JWT');
    expect(payload.u).toBe(1);
    expect(payload.exp! - payload.iat!).toBe(86_400);
    // Not a core access token: the core refuses it.
    expect((await api.get('/v1/accounts/me', api.bearer(reply.body.data.item[0]!))).status).toBe(401);

    const wrong = await post(E.signIn.path, { ...E.signIn.request, password: 'wrong password' });
    expect(wrong.body).toMatchObject(failure(2002));
  });

  it('num_find: the user id of a number, [false] for a free one', async () => {
    const found = await post(E.numFind.path, E.numFind.request);
    expect([found.status, compareWithExample(found.body, E.numFind.found.body)]).toEqual([200, []]);
    const free = await post(E.numFind.path, { num: '01099998888' });
    expect(compareWithExample(free.body, E.numFind.notFound.body)).toEqual([]);
  });

  it('password change (num_find path, {id, password}) needs this phone to have passed sms_auth_res just before', async () => {
    const signedIn = await post<{ data: { item: string[] } }>(E.signIn.path, E.signIn.request);
    // The proof from before sign-up was spent by the sign-up; nothing allows a change now.
    const refused = await post(E.passwordChange.path, E.passwordChange.request);
    expect([refused.status, refused.body]).toMatchObject([200, { ...failure(2006), message: 'sms authentication required' }]);

    await post(E.smsAuthReq.path, E.smsAuthReq.request);
    const code = await nextCode();
    expect((await post(E.smsAuthRes.path, { ...E.smsAuthRes.request, auth_num: code })).body).toEqual(E.smsAuthRes.response.body);
    const proofKey = (await gw.gateway.redis.keys(`${gw.config.REDIS_PREFIX}legacy:e:proof:reset:*`))[0]!;
    const ttl = await gw.gateway.redis.ttl(proofKey.slice(gw.config.REDIS_PREFIX.length));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);

    const changed = await post(E.passwordChange.path, E.passwordChange.request);
    expect([changed.status, compareWithExample(changed.body, E.passwordChange.response.body)]).toEqual([200, []]);
    // Spent: the same body again is refused; the old password and the old token are dead.
    expect((await post(E.passwordChange.path, E.passwordChange.request)).body).toMatchObject(failure(2006));
    expect((await post(E.signIn.path, E.signIn.request)).body).toMatchObject(failure(2002));
    expect((await post(E.signIn.path, { ...E.signIn.request, password: '1q2w3e4r' })).status).toBe(200);
    const tokenKey = `dtok:legacy-e:${createHash('sha256').update(signedIn.body.data.item[0]!).digest('base64url')}`;
    expect(await gw.gateway.redis.exists(tokenKey)).toBe(0);
  });

  it('password change is also served at /password_change; an unknown id gets the same refusal', async () => {
    await post(E.smsAuthReq.path, E.smsAuthReq.request);
    const code = await nextCode();
    await post(E.smsAuthRes.path, { ...E.smsAuthRes.request, auth_num: code });
    const changed = await post('/api/v1/auth/password_change', { id: 1, password: '123123123' });
    expect(compareWithExample(changed.body, E.passwordChange.response.body)).toEqual([]);
    expect((await post('/api/v1/auth/password_change', { id: 999, password: '123123123' })).body).toMatchObject(failure(2006));
  });
});

describe('dialect E edges', () => {
  it('bad bodies and numbers keep the envelope, HTTP 200, code 2000', async () => {
    const bad = await post(E.signUp.path, { num: 'abc' });
    expect([bad.status, bad.body]).toMatchObject([200, failure(2000)]);
    const notPhone = await post(E.exists.path, { num: '12' });
    expect(notPhone.body).toMatchObject(failure(2000));
  });

  it('a too-short password is refused with code 2004', async () => {
    const reply = await post(E.signUp.path, { num: '01055554444', password: 'short' });
    expect(reply.body).toMatchObject({ ...failure(2004), message: 'password too short' });
  });

  it('a signup without sms proof is allowed but starts unverified when verification is required', async () => {
    const strict = await startLegacyGateway('e', { VIGIL_REQUIRE_VERIFICATION: '1' });
    try {
      const other = client(strict.url);
      const created = await other.post(E.signUp.path, { num: '01077776666', password: '123123123' });
      expect(created.body).toMatchObject({ success: true, data: { item: [1] } });
      const refused = await other.post(E.signIn.path, { num: '01077776666', password: '123123123' });
      expect(refused.body).toMatchObject({ ...failure(2003), message: 'phone not verified' });
    } finally {
      await strict.close();
    }
  });
});
