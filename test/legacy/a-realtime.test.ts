import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { A } from './fixtures/a-realtime.ts';
import { compareWithExample, shapes } from './shape.ts';
import { client, startLegacyGateway, type Client } from './support.ts';

// Dialect A replayed from its document against a running gateway (real HTTP, Redis, FerretDB).
let gw: TestGateway;
let api: Client;

beforeAll(async () => {
  gw = await startLegacyGateway('a');
  api = client(gw.url);
});
afterAll(() => gw.close());

const form = (fields: Record<string, string | number>) => {
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) data.set(name, String(value));
  return data;
};

describe('dialect A members, replayed from the document', () => {
  it('create: the example answers the example, and the first account gets pk 1', async () => {
    const reply = await api.post(A.create.path, A.create.request);
    expect(reply.status).toBe(A.create.response.status);
    expect(compareWithExample(reply.body, A.create.response.body)).toEqual([]);
  });

  it('login: a 40-hex token and the user with its stable pk', async () => {
    // The login example names another user (hyeonggeun21) than the create example; create it too.
    const created = await api.post(A.create.path, { ...A.create.request, username: A.login.request.username });
    expect(created.status).toBe(200);
    const reply = await api.post(A.login.path, A.login.request);
    expect(reply.status).toBe(A.login.response.status);
    expect(
      compareWithExample(reply.body, A.login.response.body, { '/token': shapes.hex(40), '/user/pk': shapes.positiveInt }),
    ).toEqual([]);
    const again = await api.post<{ user: { pk: number } }>(A.login.path, A.login.request);
    expect(again.body.user.pk).toBe((reply.body as { user: { pk: number } }).user.pk);
    const first = await api.post<{ user: { pk: number } }>(A.login.path, {
      username: A.create.request.username,
      password: A.create.request.password,
    });
    expect(first.body.user.pk).toBe(1);
  });

  it('logout: GET with Authorization: Token <token> ends the session; the token is dead afterwards', async () => {
    const login = await api.post<{ token: string }>(A.login.path, A.login.request);
    const headers = { Authorization: `Token ${login.body.token}` };
    const reply = await api.get(A.logout.path, headers);
    expect(reply.status).toBe(A.logout.response.status);
    expect(compareWithExample(reply.body, A.logout.response.body)).toEqual([]);
    const twice = await api.get(A.logout.path, headers);
    expect(twice.status).toBe(401);
    expect(twice.body).toEqual({ detail: '토큰이 유효하지 않습니다.' });
    // The document's own example token was never issued here.
    const unknown = await api.get(A.logout.path, A.logout.headers);
    expect(unknown.status).toBe(401);
  });

  it('accepts form-encoded and multipart bodies, as DRF does', async () => {
    const urlencoded = await fetch(gw.url + A.create.path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'formuser', password: 'gudrms12', name: 'Form User', gender: 'female', age: '31' }),
    });
    expect(urlencoded.status).toBe(200);
    expect(await urlencoded.json()).toEqual({ user: { username: 'formuser', name: 'Form User', age: 31, gender: 'female' } });
    const multipart = await fetch(gw.url + A.login.path, {
      method: 'POST',
      body: form({ username: 'formuser', password: 'gudrms12' }),
    });
    expect(multipart.status).toBe(200);
  });
});

describe('dialect A failures (undocumented; DRF shapes, docs/legacy.md)', () => {
  it('a taken username is a DRF field error in Korean', async () => {
    const reply = await api.post(A.create.path, A.create.request);
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ username: ['해당 사용자 이름은 이미 존재합니다.'] });
  });

  it('a missing field and a short password name their fields', async () => {
    const missing = await api.post(A.create.path, { username: 'nopass' });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ password: ['이 필드는 필수 항목입니다.'] });
    const short = await api.post(A.create.path, { username: 'shortpw', password: 'abc' });
    expect(short.status).toBe(400);
    expect(short.body).toEqual({ password: ['비밀번호가 너무 짧습니다. 최소 8 문자를 포함해야 합니다.'] });
  });

  it('wrong credentials answer like DRF’s obtain-token view, for unknown users too', async () => {
    const wrong = await api.post(A.login.path, { username: A.login.request.username, password: 'not the password' });
    const unknown = await api.post(A.login.path, { username: 'nobody-here', password: 'whatever1' });
    for (const reply of [wrong, unknown]) {
      expect(reply.status).toBe(400);
      expect(reply.body).toEqual({ non_field_errors: ['제공된 인증 데이터(credentials)로는 로그인할 수 없습니다.'] });
    }
  });

  it('logout without a token or with another scheme is 401', async () => {
    expect((await api.get(A.logout.path)).body).toEqual({
      detail: '자격 인증데이터(authentication credentials)가 제공되지 않았습니다.',
    });
    expect((await api.get(A.logout.path, { Authorization: 'Bearer abc' })).status).toBe(401);
  });

  it('an A token is a real session of kind legacy-a, and the login is audited', async () => {
    const login = await api.post<{ token: string; user: { pk: number } }>(A.login.path, A.login.request);
    const account = await gw.gateway.mongo.db.collection('accounts').findOne({ seq: login.body.user.pk });
    const sessions = await gw.gateway.redis.zrange(`usess:${String(account!._id)}`, '0', '-1');
    expect(sessions.length).toBeGreaterThan(0);
    const kinds = await Promise.all(sessions.map((id) => gw.gateway.redis.hget(`sess:{${id}}`, 'kind')));
    expect(kinds).toContain('legacy-a');
    const audit = await gw.gateway.mongo.db.collection('audit').findOne({ event: 'login.succeeded', 'detail.kind': 'legacy-a' });
    expect(audit).not.toBeNull();
  });
});
