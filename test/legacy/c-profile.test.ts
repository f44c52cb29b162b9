import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageFrom } from '../../src/identity/accounts/account.ts';
import type { TestGateway } from '../support/gateway.ts';
import { C } from './fixtures/c-profile.ts';
import { S3_KEY, startS3StandIn } from './s3-stand-in.ts';
import { compareWithExample, shapes } from './shape.ts';
import { ADMIN_TOKEN, client, latestCode, startLegacyGateway, type Client } from './support.ts';

// Dialect C replayed from its document against a running gateway (real HTTP, Redis, FerretDB,
// SMS into the dev outbox). VIGIL_PUBLIC_URL is the document's http://localhost:8000, so media
// URLs come out exactly as written.
let gw: TestGateway;
let api: Client;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const tennis = { emoji: '🎾', name: '테니스', image: 'images/interests/interest_Tennis0000000000000000.jpeg' };
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 0xff, 0xd9]);

/** Shapes for what differs per run; the document's username/uuid/status differ between its own examples. */
const sessionShapes = { '/access': shapes.jwt('EdDSA'), '/refresh': shapes.coreRefresh, '/user/uuid': shapes.alnum(22) };
const expectedUser = (overrides: Record<string, unknown>) => ({
  ...C.registration.created.body.user,
  age: ageFrom('1984-10-23'),
  interests: [
    ...C.registration.created.body.user.interests,
    { ...tennis, uuid: 'fQW6UJWc5eNzvTNxSHK001', image: `http://localhost:8000/media/${tennis.image}` },
  ],
  ...overrides,
});

/** sign-s3, then PUT the bytes where it says (on this gateway when it stores uploads itself). */
async function upload(
  fileName: string,
  kind?: string,
  base = gw.url,
  bytes: Buffer = JPEG,
): Promise<{ path: string; url: string }> {
  const signed = await client(base).post<{ url: string; path: string; headers: Record<string, string>; method: string }>(
    '/api/sign-s3/',
    {
      file_name: fileName,
      file_type: 'image/jpeg',
      ...(kind ? { kind } : {}),
    },
  );
  expect(signed.status).toBe(200);
  const target = new URL(signed.body.url);
  const url = target.origin === 'http://localhost:8000' ? base + target.pathname + target.search : signed.body.url;
  const put = await fetch(url, { method: signed.body.method, headers: signed.body.headers, body: bytes });
  expect(put.status).toBe(200);
  return { path: signed.body.path, url };
}

beforeAll(async () => {
  gw = await startLegacyGateway('c', { VIGIL_PUBLIC_URL: 'http://localhost:8000' });
  api = client(gw.url);
  const put = (kind: string, uuid: string, body: unknown) => api.put(`/v1/admin/legacy/c/catalogue/${kind}/${uuid}`, body, admin);
  expect(
    (
      await put('interests', 'fQW6UJWc5eNzvTNxSHK000', {
        emoji: '⛳',
        name: '골프',
        image: 'images/interests/interest_P6kjacMDyoBQZXHVy3d6Q8.jpeg',
      })
    ).status,
  ).toBe(200);
  expect((await put('interests', 'fQW6UJWc5eNzvTNxSHK001', tennis)).status).toBe(200);
  expect((await put('professions', '6jPaGgDuJeeVffM7SXTBGx', { emoji: '👨‍⚕️', name: '의사' })).status).toBe(200);
});
afterAll(() => gw.close());

describe('dialect C, replayed from the document', () => {
  const session = { access: '', refresh: '' };

  it('registration: uploads first (sign-s3), then the example; 201 with a pair and the pending user', async () => {
    const request = C.registration.request;
    for (const name of [request.avatar, request.profile, request.verification_files[0].original])
      expect((await upload(name)).path).toBe(name);
    const reply = await api.post(C.registration.path, request);
    expect(reply.status).toBe(C.registration.created.status);
    // The document answers username "도도도새" to a registration of "도도"; the account is "도도" (docs/legacy.md).
    const expected = { ...C.registration.created.body, user: expectedUser({ username: request.username }) };
    expect(compareWithExample(reply.body, expected, sessionShapes)).toEqual([]);
  });

  it('registration: a taken username answers the document’s field error', async () => {
    const { avatar: _a, profile: _p, verification_files: _v, ...withoutFiles } = C.registration.request;
    const reply = await api.post(C.registration.path, { ...withoutFiles, mobile: '01090991006' });
    expect([reply.status, compareWithExample(reply.body, C.registration.taken.body)]).toEqual([400, []]);
  });

  it('login step 1: 404 not_found for a non-member, 406 1006 while pending, 403 1005 when rejected', async () => {
    const none = await api.post(C.mobile.path, C.mobile.request);
    expect([none.status, compareWithExample(none.body, C.mobile.notFound.body)]).toEqual([404, []]);

    const other = await api.post<{ user: { uuid: string } }>(C.registration.path, {
      mobile: C.mobile.request.mobile,
      username: '두두',
      name: '박지성',
      birth: '1981-02-25',
      gender: 'male',
    });
    expect(other.status).toBe(201);
    const pending = await api.post(C.mobile.path, C.mobile.request);
    expect([pending.status, compareWithExample(pending.body, C.mobile.pending.body)]).toEqual([406, []]);

    const account = await gw.gateway.mongo.db.collection('accounts').findOne({ phone: C.mobile.request.mobile });
    expect((await api.post(`/v1/admin/accounts/${String(account!._id)}/reject`, { reason: 'test' }, admin)).status).toBe(200);
    const rejected = await api.post(C.mobile.path, C.mobile.request);
    expect([rejected.status, compareWithExample(rejected.body, C.mobile.rejected.body)]).toEqual([403, []]);
  });

  it('login steps 1 and 2 once approved: the texted code for a pair and the user', async () => {
    const account = await gw.gateway.mongo.db.collection('accounts').findOne({ seq: 1 });
    expect((await api.post(`/v1/admin/accounts/${String(account!._id)}/approve`, undefined, admin)).status).toBe(200);
    const mobile = C.registration.request.mobile; // the registered member, in place of the document's +821012345678
    const sent = await api.post(C.mobile.path, { mobile });
    expect([sent.status, compareWithExample(sent.body, C.mobile.sent.body)]).toEqual([200, []]);

    const wrong = await api.post(C.token.path, { ...C.token.request, mobile }); // the document's code is not ours
    expect([wrong.status, wrong.body]).toEqual([400, { token: ['유효하지 않은 인증번호입니다.'] }]);
    const code = await latestCode(api, '+821090991005');
    const reply = await api.post<{ access: string; refresh: string }>(C.token.path, { mobile, token: code });
    expect(reply.status).toBe(C.token.response.status);
    // Approved now; the document's own step-2 example shows "pending", which step 1 refuses (docs/legacy.md).
    expect(
      compareWithExample(
        reply.body,
        { ...C.token.response.body, user: expectedUser({ username: '도도', status: 'approved' }) },
        sessionShapes,
      ),
    ).toEqual([]);
    session.access = reply.body.access;
    session.refresh = reply.body.refresh;
    // The access token is a core one.
    expect((await api.get('/v1/accounts/me', api.bearer(session.access))).status).toBe(200);
  });

  it('refresh: a rotated pair; the spent refresh token is refused (and its reuse ends the session)', async () => {
    const reply = await api.post<{ access: string; refresh: string }>(C.refresh.path, { refresh: session.refresh });
    expect(reply.status).toBe(C.refresh.response.status);
    expect(
      compareWithExample(reply.body, C.refresh.response.body, { '/access': shapes.jwt('EdDSA'), '/refresh': shapes.coreRefresh }),
    ).toEqual([]);
    expect(reply.body.refresh).not.toBe(session.refresh);
    session.access = reply.body.access;
    session.refresh = reply.body.refresh;
    const documentToken = await api.post(C.refresh.path, C.refresh.request);
    expect([documentToken.status, documentToken.body]).toEqual([
      401,
      { detail: '토큰이 유효하지 않거나 만료되었습니다.', code: 'token_not_valid' },
    ]);
  });

  it('logout: the refresh token is dead, and so is the session behind it', async () => {
    const reply = await api.post(C.logout.path, { refresh: session.refresh });
    expect([reply.status, compareWithExample(reply.body, C.logout.response.body)]).toEqual([200, []]);
    expect((await api.post(C.refresh.path, { refresh: session.refresh })).status).toBe(401);
    expect((await api.post(C.logout.path, { refresh: session.refresh })).status).toBe(401);
    // Stricter than the document ("access은 valid합니다"): the session ended, so its access token did too.
    expect((await api.get('/v1/accounts/me', api.bearer(session.access))).status).toBe(401);
  });

  it('logout also reads the refresh token from a `refresh` header', async () => {
    await api.post(C.mobile.path, { mobile: C.registration.request.mobile });
    const code = await latestCode(api, '+821090991005', 2);
    const login = await api.post<{ refresh: string }>(C.token.path, { mobile: C.registration.request.mobile, token: code });
    const reply = await api.post(C.logout.path, undefined, { refresh: login.body.refresh });
    expect([reply.status, reply.body]).toEqual([200, C.logout.response.body]);
  });
});

describe('dialect C registration checks', () => {
  const base = { mobile: '01020002000', username: '새회원', name: '김민재', birth: '1996-11-15', gender: 'male' };

  it('refuses references that were never uploaded, or signed but not uploaded, or already registered', async () => {
    const never = await api.post(C.registration.path, {
      ...base,
      avatar: 'images/users/avatars/avatar_NeverUploaded000000000.jpeg',
    });
    expect(never.status).toBe(400);
    expect(never.body).toEqual({
      avatar: ['업로드되지 않은 파일입니다: images/users/avatars/avatar_NeverUploaded000000000.jpeg'],
    });

    const signed = await api.post<{ path: string }>('/api/sign-s3/', {
      file_name: 'me.png',
      file_type: 'image/jpeg',
      kind: 'profile',
    });
    expect(signed.body.path).toMatch(/^images\/users\/profiles\/profile_[A-Za-z0-9]{22}\.png$/);
    const notUploaded = await api.post(C.registration.path, { ...base, profile: signed.body.path });
    expect(Object.keys(notUploaded.body)).toEqual(['profile']);

    const taken = await api.post(C.registration.path, { ...base, avatar: C.registration.request.avatar });
    expect(Object.keys(taken.body)).toEqual(['avatar']);
    expect(await gw.gateway.mongo.db.collection('accounts').findOne({ phone: '+821020002000' })).toBeNull();
  });

  it('refuses unknown interests and professions by field', async () => {
    const reply = await api.post(C.registration.path, {
      ...base,
      interests: ['fQW6UJWc5eNzvTNxSHK000', 'UnknownInterest0000000'],
    });
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ interests: ['유효하지 않은 pk "UnknownInterest0000000" - 객체가 존재하지 않습니다.'] });
  });

  it('gateway uploads check signature, type and size', async () => {
    const signed = await api.post<{ url: string }>('/api/sign-s3/', {
      file_name: 'a.jpg',
      file_type: 'image/jpeg',
      kind: 'avatar',
    });
    const target = new URL(signed.body.url);
    const path = target.pathname + target.search;
    const tampered = path.replace(/sig=[^&]+/, `sig=${'A'.repeat(43)}`);
    expect(
      (await fetch(gw.url + tampered, { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body: JPEG })).status,
    ).toBe(403);
    expect((await fetch(gw.url + path, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: JPEG })).status).toBe(
      403,
    );
    expect((await fetch(gw.url + path, { method: 'PUT', headers: { 'content-type': 'text/html' }, body: '<p>' })).status).toBe(
      415,
    );
    const big = Buffer.alloc(gw.config.VIGIL_LEGACY_C_UPLOAD_MAX_BYTES + 1);
    expect((await fetch(gw.url + path, { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body: big })).status).toBe(
      413,
    );
    expect((await fetch(gw.url + path, { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body: JPEG })).status).toBe(
      200,
    );
  });

  it('the catalogue is the operator’s: admin only', async () => {
    expect((await api.get('/v1/admin/legacy/c/catalogue')).status).toBe(401);
    const list = await api.get<{ interests: unknown[]; professions: unknown[] }>('/v1/admin/legacy/c/catalogue', admin);
    expect([list.body.interests.length, list.body.professions.length]).toEqual([2, 1]);
  });

  it('withdrawing deletes the C profile and its files', async () => {
    const mobile = '01030003000';
    const { path } = await upload('v.jpg', 'verification');
    const created = await api.post<{ access: string }>(C.registration.path, {
      ...base,
      mobile,
      username: '탈퇴자',
      verification_files: [{ display_order: 0, original: path }],
    });
    expect(created.status).toBe(201);
    const account = await gw.gateway.mongo.db.collection('accounts').findOne({ phone: '+821030003000' });
    await api.post(`/v1/admin/accounts/${String(account!._id)}/approve`, undefined, admin);
    await api.post('/v1/codes', { channel: 'sms', to: mobile, purpose: 'withdraw' });
    const code = await latestCode(api, '+821030003000');
    const { body } = await api.post<{ ticket: string }>('/v1/codes/verify', {
      channel: 'sms',
      to: mobile,
      purpose: 'withdraw',
      code,
    });
    expect((await api.post('/v1/accounts/me/withdraw', { ticket: body.ticket }, api.bearer(created.body.access))).status).toBe(
      200,
    );
    const db = gw.gateway.mongo.db;
    expect(await db.collection('legacy_c_profiles').findOne({ _id: account!._id })).toBeNull();
    expect(await db.collection('legacy_c_upload_blobs').findOne({ _id: path as never })).toBeNull();
  });
});

describe('dialect C with an S3-compatible store', () => {
  it('sign-s3 presigns PUTs to the store; registration checks the object is there', async () => {
    const s3 = await startS3StandIn();
    const withS3 = await startLegacyGateway('c', { VIGIL_LEGACY_C_S3_URL: s3.configUrl });
    try {
      const api3 = client(withS3.url);
      const { path, url } = await upload('avatar.jpeg', 'avatar', withS3.url);
      expect(url.startsWith(`${s3.url}/${S3_KEY.bucket}/images/users/avatars/avatar_`)).toBe(true);
      expect(s3.objects.get(`/${S3_KEY.bucket}/${path}`)).toEqual(JPEG);
      const signedOnly = await api3.post<{ path: string }>('/api/sign-s3/', {
        file_name: 'p.jpg',
        file_type: 'image/jpeg',
        kind: 'profile',
      });
      const refused = await api3.post(C.registration.path, { ...base3, profile: signedOnly.body.path });
      expect(Object.keys(refused.body)).toEqual(['profile']);
      const accepted = await api3.post(C.registration.path, { ...base3, avatar: path });
      expect(accepted.status).toBe(201);
      expect(s3.requests).toContain(`HEAD /${S3_KEY.bucket}/${path}`);
      // The gateway serves no upload endpoint of its own then.
      expect((await fetch(`${withS3.url}/api/uploads/`, { method: 'PUT' })).status).toBe(404);
    } finally {
      await withS3.close();
      await s3.close();
    }
  });
  const base3 = { mobile: '01040004000', username: '에스삼', name: '이강인', birth: '2001-02-19', gender: 'male' };
});

describe('dialect C registration limit', () => {
  it('counts registrations per IP before any catalogue or upload check', async () => {
    const strict = await startLegacyGateway('c', { VIGIL_SIGNUP_PER_IP_HOURLY: '2' });
    try {
      const other = client(strict.url);
      const body = {
        mobile: '01050005000',
        username: '제한',
        name: '황희찬',
        birth: '1996-01-26',
        gender: 'male',
        avatar: 'images/users/avatars/avatar_NeverUploaded000000000.jpeg',
      };
      expect((await other.post(C.registration.path, body)).status).toBe(400);
      expect((await other.post(C.registration.path, body)).status).toBe(400);
      const third = await other.post(C.registration.path, body);
      expect(third.status).toBe(429);
      expect(third.body).toMatchObject({ code: 'throttled' });
      expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await strict.close();
    }
  });
});
