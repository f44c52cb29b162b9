import { expireNow } from '../support/redis-expiry.ts';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { D, fill } from './fixtures/d-email.ts';
import { compareWithExample, shapes } from './shape.ts';
import { client, outbox, startLegacyGateway, type Client } from './support.ts';

// Dialect D replayed from its document against a running gateway (real HTTP, Redis, FerretDB,
// the mail queue into the dev outbox).
let gw: TestGateway;
let api: Client;
const PUBLIC_URL = 'https://legacy-d.example.test';

beforeAll(async () => {
  gw = await startLegacyGateway('d', { VIGIL_PUBLIC_URL: PUBLIC_URL });
  api = client(gw.url);
});
afterAll(() => gw.close());

/** The link of the newest verification mail to `email`, as a path on the gateway. */
async function linkFor(email: string, count = 1): Promise<string> {
  const mails = await outbox(api, email, count);
  const url = new URL(/https:\/\/\S+/.exec(mails[mails.length - 1]!.text)![0]);
  expect(url.origin + url.pathname).toBe(`${PUBLIC_URL}/auth/authentiaction/`);
  return url.pathname + url.search;
}

/** The Redis key (under the test's prefix) of a link's token. */
function linkKey(link: string): string {
  const token = new URLSearchParams(link.split('?')[1]).get('token')!;
  return `link:${createHash('sha256').update(token).digest('base64url')}`;
}

/** The document's headers with lower-case names (fetch would merge "Content-Type" with our "content-type"). */
const lower = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
const signUp = (email: string, password = 'passphrase 12') =>
  api.post(D.signUp.path, fill(D.signUp.request, { email, password }), lower(D.signUp.headers));
const jwt = shapes.jwt('EdDSA');

describe('dialect D, replayed from the document', () => {
  const email = 'd-user@example.com';
  const tokens = { access: '', refresh: '' };

  it('sign-up mails a link valid for one minute (in Redis)', async () => {
    const reply = await signUp(email);
    expect(reply.status).toBe(D.signUp.response.status);
    expect(compareWithExample(reply.body, fill(D.signUp.response.body, { email }))).toEqual([]);
    const link = await linkFor(email);
    const ttl = await gw.gateway.redis.pttl(linkKey(link));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(new URLSearchParams(link.split('?')[1]).get('uid64')).toBe(Buffer.from('1').toString('base64url'));
  });

  it('login is refused until the link is followed; the link activates once, then is invalid', async () => {
    const early = await api.post(D.login.path, fill(D.login.request, { email, password: 'passphrase 12' }));
    expect(early.status).toBe(403);
    expect(early.body).toEqual({ message: '이메일 인증이 필요합니다.' });

    const link = await linkFor(email);
    const first = await api.get(link);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ message: '이메일 인증이 완료되었습니다.' });
    const again = await api.get(link);
    expect([again.status, compareWithExample(again.body, D.verify.invalid.body)]).toEqual([400, []]);
    const forged = await api.get(fill(D.verify.path, { token: 'abc', user: 'MQ' }));
    expect([forged.status, compareWithExample(forged.body, D.verify.invalid.body)]).toEqual([400, []]);
  });

  it('login answers access_token and refresh_token', async () => {
    const reply = await api.post<{ access_token: string; refresh_token: string }>(
      D.login.path,
      fill(D.login.request, { email, password: 'passphrase 12' }),
      lower(D.login.headers),
    );
    expect(reply.status).toBe(D.login.response.status);
    expect(
      compareWithExample(reply.body, D.login.response.body, { '/access_token': jwt, '/refresh_token': shapes.opaque(43) }),
    ).toEqual([]);
    tokens.access = reply.body.access_token;
    tokens.refresh = reply.body.refresh_token;
  });

  it('validate takes the raw access token in Authorization', async () => {
    const reply = await api.post(D.validate.path, undefined, lower(fill(D.validate.headers, { access_token: tokens.access })));
    expect([reply.status, compareWithExample(reply.body, D.validate.response.body)]).toEqual([200, []]);
    const garbage = await api.post(D.validate.path, undefined, { Authorization: 'not-a-token' });
    expect([garbage.status, garbage.body]).toEqual([401, { message: '유효하지 않은 토큰입니다.' }]);
    const missing = await api.post(D.validate.path);
    expect(missing.status).toBe(401);
  });

  it('refresh takes the raw refresh token and answers a new access token; the refresh token stays usable', async () => {
    for (let i = 0; i < 2; i++) {
      const reply = await api.post<{ access_token: string }>(
        D.refresh.path,
        undefined,
        lower(fill(D.refresh.headers, { refresh_token: tokens.refresh })),
      );
      expect(reply.status).toBe(D.refresh.response.status);
      expect(compareWithExample(reply.body, D.refresh.response.body, { '/access_token': jwt })).toEqual([]);
      const valid = await api.post(D.validate.path, undefined, { Authorization: reply.body.access_token });
      expect(valid.status).toBe(200);
    }
    const wrong = await api.post(D.refresh.path, undefined, { Authorization: 'x'.repeat(43) });
    expect([wrong.status, wrong.body]).toEqual([401, { message: '유효하지 않은 토큰입니다.' }]);
  });

  it("D's tokens are a core session: logging out everywhere kills both", async () => {
    const out = await api.del('/v1/sessions/current', api.bearer(tokens.access));
    expect(out.status).toBe(200);
    expect((await api.post(D.validate.path, undefined, { Authorization: tokens.access })).status).toBe(401);
    expect((await api.post(D.refresh.path, undefined, { Authorization: tokens.refresh })).status).toBe(401);
  });
});

describe('dialect D edges', () => {
  it('different passwords, a taken email and a wrong password are refused with a message', async () => {
    const differ = await api.post(D.signUp.path, {
      email: 'differ@example.com',
      password1: 'passphrase 12',
      password2: 'passphrase 13',
    });
    expect([differ.status, differ.body]).toEqual([400, { message: '비밀번호가 일치하지 않습니다.' }]);
    const taken = await signUp('d-user@example.com');
    expect([taken.status, taken.body]).toEqual([409, { message: '이미 가입된 이메일입니다.' }]);
    const wrong = await api.post(D.login.path, { email: 'd-user@example.com', password: 'wrong password' });
    expect([wrong.status, wrong.body]).toEqual([401, { message: '이메일 또는 비밀번호가 올바르지 않습니다.' }]);
  });

  it('"다시 진행하세요": repeating the sign-up with the same password sends a fresh link; another password is refused', async () => {
    const email = 'again@example.com';
    expect((await signUp(email)).status).toBe(200);
    expect((await signUp(email, 'someone else 1')).status).toBe(409);
    expect((await signUp(email)).status).toBe(200);
    const link = await linkFor(email, 2);
    expect((await api.get(link)).status).toBe(200);
    expect((await api.post(D.login.path, { email, password: 'passphrase 12' })).status).toBe(200);
  });

  it('the link is dead once Redis expires it', async () => {
    const email = 'slow@example.com';
    expect((await signUp(email)).status).toBe(200);
    const link = await linkFor(email);
    // The minute is Redis' TTL on the link (checked above): instead of waiting it out, move the
    // expiry to now and let Redis drop the key, as it will after a minute.
    const key = linkKey(link);
    expect(await gw.gateway.redis.pttl(key)).toBeGreaterThan(50_000);
    await expireNow(gw.gateway.redis, key);
    const late = await api.get(link);
    expect([late.status, compareWithExample(late.body, D.verify.invalid.body)]).toEqual([400, []]);
  });
});

describe('dialect D with a redirect after activation', () => {
  it('redirects to VIGIL_LEGACY_D_VERIFIED_URL', async () => {
    const redirecting = await startLegacyGateway('d', { VIGIL_LEGACY_D_VERIFIED_URL: 'https://app.example.test/welcome' });
    try {
      const other = client(redirecting.url);
      await other.post(D.signUp.path, { email: 'redirect@example.com', password1: 'passphrase 12', password2: 'passphrase 12' });
      const mails = await outbox(other, 'redirect@example.com');
      const url = new URL(/https?:\/\/\S+/.exec(mails[0]!.text)![0]);
      const res = await fetch(redirecting.url + url.pathname + url.search, { redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('https://app.example.test/welcome');
    } finally {
      await redirecting.close();
    }
  });
});
