import { createHash, createSecretKey } from 'node:crypto';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { B } from './fixtures/b-spring.ts';
import { compareWithExample, shapes } from './shape.ts';
import { B_SECRET, client, latestCode, rawRequest, startLegacyGateway, type Client } from './support.ts';

// Dialect B replayed from its document, in the order a client walks it, on a fresh gateway (so
// the first account is user 1, as in the examples). The reset example's password "hi" needs the
// legacy minimum lowered to 2 (VIGIL_LEGACY_PASSWORD_MIN_LENGTH; docs/legacy.md).
let gw: TestGateway;
let api: Client;
const email = B.signUp.request.email;
const signInAs = { authId: B.signUp.request.authId, password: B.signUp.request.password };

beforeAll(async () => {
  gw = await startLegacyGateway('b', { VIGIL_LEGACY_PASSWORD_MIN_LENGTH: '2' });
  api = client(gw.url);
});
afterAll(() => gw.close());

const getWithBody = (body: unknown) =>
  rawRequest(gw.url + B.checkAuthCode.path, 'GET', JSON.stringify(body), { 'content-type': 'application/json' });

describe('dialect B, replayed from the document', () => {
  it('check/auth-id and check/email: usable before sign-up', async () => {
    const id = await api.get(B.checkAuthId.path);
    expect([id.status, compareWithExample(id.body, B.checkAuthId.usable.body)]).toEqual([200, []]);
    const mail = await api.get(B.checkEmail.path);
    expect([mail.status, compareWithExample(mail.body, B.checkEmail.usable.body)]).toEqual([200, []]);
  });

  it('send/auth-key SIGN_UP mails a code; check/auth-code (GET with a body) says whether it is right', async () => {
    const sent = await api.post(B.sendAuthKey.path, B.sendAuthKey.request);
    expect([sent.status, compareWithExample(sent.body, B.sendAuthKey.success.body)]).toEqual([200, []]);
    const code = await latestCode(api, email);

    const wrong = await getWithBody(B.checkAuthCode.request); // the document's own code is not ours
    expect([wrong.status, compareWithExample(wrong.json, B.checkAuthCode.unusable.body)]).toEqual([200, []]);
    const right = await getWithBody({ ...B.checkAuthCode.request, authCode: code });
    expect([right.status, compareWithExample(right.json, B.checkAuthCode.usable.body)]).toEqual([200, []]);
  });

  it('sign-up: the example answers user 1; the proven email starts verified; a second time is refused', async () => {
    const reply = await api.post(B.signUp.path, B.signUp.request);
    expect(reply.status).toBe(B.signUp.success.status);
    expect(compareWithExample(reply.body, B.signUp.success.body)).toEqual([]);
    const account = await gw.gateway.mongo.db.collection('accounts').findOne({ seq: 1 });
    expect(account?.emailVerifiedAt).toBeInstanceOf(Date);

    const again = await api.post(B.signUp.path, B.signUp.request);
    expect([again.status, compareWithExample(again.body, B.signUp.taken.body)]).toEqual([400, []]);
    const sameId = await api.post(B.signUp.path, { ...B.signUp.request, email: 'other@example.com' });
    expect([sameId.status, compareWithExample(sameId.body, B.signUp.taken.body)]).toEqual([400, []]);
  });

  it('check/auth-id, check/email and send/auth-key see the account now', async () => {
    const id = await api.get(`/api/auth/check/auth-id/${B.signUp.request.authId}`);
    expect(compareWithExample(id.body, B.checkAuthId.unusable.body)).toEqual([]);
    const mail = await api.get(B.checkEmail.path);
    expect(compareWithExample(mail.body, B.checkEmail.unusable.body)).toEqual([]);
    const sent = await api.post(B.sendAuthKey.path, B.sendAuthKey.request);
    expect([sent.status, compareWithExample(sent.body, B.sendAuthKey.emailTaken.body)]).toEqual([400, []]);
  });

  it('sign-in: an HS512 JWT {iat, sub: authId, exp} under the configured secret', async () => {
    // The document signs in as "parkh" (the name) but answers authId "phj123": the request as
    // written names no account, which is the document's own "unknown id" answer.
    const asWritten = await api.post(B.signIn.path, B.signIn.request);
    expect([asWritten.status, compareWithExample(asWritten.body, B.signIn.unknownId.body)]).toEqual([400, []]);

    const reply = await api.post<{ data: { token: string } }>(B.signIn.path, signInAs);
    expect(reply.status).toBe(200);
    expect(compareWithExample(reply.body, B.signIn.success.body, { '/data/token': shapes.jwt('HS512') })).toEqual([]);
    const header = JSON.parse(Buffer.from(reply.body.data.token.split('.')[0]!, 'base64url').toString());
    expect(header).toEqual({ alg: 'HS512' });
    const { payload } = await jwtVerify(reply.body.data.token, createSecretKey(Buffer.from(B_SECRET)), { algorithms: ['HS512'] });
    expect(payload.sub).toBe('phj123');
    expect(payload.exp! - payload.iat!).toBe(86_400);

    const wrong = await api.post(B.signIn.path, { ...signInAs, password: 'not-the-password' });
    expect([wrong.status, compareWithExample(wrong.body, B.signIn.wrongPassword.body)]).toEqual([400, []]);
  });

  it('reset/password: FORGET_PASSWORD code, checked, then the same code with the numeric userId', async () => {
    const signedIn = await api.post<{ data: { token: string } }>(B.signIn.path, signInAs);
    const sent = await api.post(B.sendAuthKey.path, { authId: 'phj123', email, type: 'FORGET_PASSWORD' });
    expect(compareWithExample(sent.body, B.sendAuthKey.success.body)).toEqual([]);
    const code = await latestCode(api, email, 2);
    const checked = await api.post(B.checkAuthCode.path, { authId: 'phj123', email, authCode: code, type: 'FORGET_PASSWORD' });
    expect(compareWithExample(checked.body, B.checkAuthCode.usable.body)).toEqual([]);

    const wrong = await api.post(B.resetPassword.path, B.resetPassword.request); // the document's code
    expect([wrong.status, compareWithExample(wrong.body, B.resetPassword.wrongCode.body)]).toEqual([400, []]);
    const reset = await api.post(B.resetPassword.path, { ...B.resetPassword.request, authCode: code });
    expect([reset.status, compareWithExample(reset.body, B.resetPassword.success.body)]).toEqual([200, []]);

    // The code is spent; the old password is gone; the reset ended the earlier session (its token).
    const replay = await api.post(B.resetPassword.path, { ...B.resetPassword.request, authCode: code });
    expect(compareWithExample(replay.body, B.resetPassword.wrongCode.body)).toEqual([]);
    expect((await api.post(B.signIn.path, signInAs)).body).toEqual(B.signIn.wrongPassword.body);
    expect((await api.post(B.signIn.path, { ...signInAs, password: 'hi' })).status).toBe(200);
    const key = `dtok:legacy-b:${createHash('sha256').update(signedIn.body.data.token).digest('base64url')}`;
    expect(await gw.gateway.redis.exists(key)).toBe(0);
  });

  it('reset/password also takes the mailed code directly, without the check step', async () => {
    await api.post(B.sendAuthKey.path, { authId: 'phj123', email, type: 'FORGET_PASSWORD' });
    const code = await latestCode(api, email, 3);
    const reset = await api.post(B.resetPassword.path, { userId: 1, authCode: code, newPassword: 'password' });
    expect(compareWithExample(reset.body, B.resetPassword.success.body)).toEqual([]);
    expect((await api.post(B.signIn.path, signInAs)).status).toBe(200);
  });

  it('withdrawal: unknown id, wrong password, then withdrawn for good', async () => {
    const asWritten = await api.post(B.withdrawal.path, B.withdrawal.request);
    expect([asWritten.status, compareWithExample(asWritten.body, B.withdrawal.unknownId.body)]).toEqual([400, []]);
    const wrong = await api.post(B.withdrawal.path, { ...signInAs, password: 'not-the-password' });
    expect([wrong.status, compareWithExample(wrong.body, B.withdrawal.wrongPassword.body)]).toEqual([400, []]);
    const done = await api.post(B.withdrawal.path, signInAs);
    expect([done.status, compareWithExample(done.body, B.withdrawal.success.body)]).toEqual([200, []]);
    expect((await api.post(B.signIn.path, signInAs)).body).toEqual(B.signIn.unknownId.body);
    expect(compareWithExample((await api.get(B.checkEmail.path)).body, B.checkEmail.usable.body)).toEqual([]);
  });
});

describe('dialect B edges', () => {
  it('FORGET_PASSWORD for an unknown email answers the same and mails nothing', async () => {
    const sent = await api.post(B.sendAuthKey.path, { authId: 'ghost1', email: 'ghost@example.com', type: 'FORGET_PASSWORD' });
    expect(compareWithExample(sent.body, B.sendAuthKey.success.body)).toEqual([]);
    const box = await api.get<unknown[]>('/v1/dev/outbox?to=ghost@example.com');
    expect(box.body).toEqual([]);
  });

  it('malformed ids and emails are simply not usable; bad bodies are 400 in the envelope', async () => {
    expect((await api.get('/api/auth/check/auth-id/12345678')).body).toEqual(B.checkAuthId.unusable.body);
    expect((await api.get('/api/auth/check/email/not-an-email')).body).toEqual(B.checkEmail.unusable.body);
    const bad = await api.post(B.signUp.path, { authId: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ data: null, error: '잘못 된 요청' });
  });

  it('refuses to start without the HS512 secret', async () => {
    await expect(startLegacyGateway('b', { VIGIL_LEGACY_B_JWT_SECRET: '' })).rejects.toThrow(/VIGIL_LEGACY_B_JWT_SECRET/);
  });
});
