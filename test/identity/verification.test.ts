import { createHash } from 'node:crypto';
import { expireNow } from '../support/redis-expiry.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { client, codeIn, errorOf, latestCode, login, outbox, startIdentityGateway, type Client } from './support.ts';

// The status workflow: unverified → verified (by code, by link), pending → approved / rejected.

interface AccountBody {
  account: { id: string; status: string; emailVerified: boolean; phoneVerified: boolean };
}

describe('verification required', () => {
  let gw: TestGateway;
  let api: Client;

  beforeAll(async () => {
    gw = await startIdentityGateway({ VIGIL_REQUIRE_VERIFICATION: '1', VIGIL_PUBLIC_URL: 'https://auth.example.test' });
    api = client(gw.url);
  });
  afterAll(() => gw.close());

  it('an account by phone starts unverified, cannot log in, and is activated by the code texted to it', async () => {
    const created = await api.post<AccountBody>('/v1/accounts', {
      phone: '01020000001',
      password: 'passphrase 12',
      locale: 'ko',
    });
    expect(created.status).toBe(201);
    expect(created.body.account.status).toBe('unverified');

    const blocked = await api.post('/v1/sessions', { identifier: '01020000001', password: 'passphrase 12' });
    expect(blocked.status).toBe(403);
    expect(errorOf(blocked).code).toBe('ACCOUNT_UNVERIFIED');

    const [sms] = await outbox(api, '+821020000001');
    expect(sms!.channel).toBe('sms');
    expect(sms!.text).toContain('인증번호'); // Korean template, as the account's locale asks
    const verified = await api.post('/v1/codes/verify', {
      channel: 'sms',
      to: '010-2000-0001',
      purpose: 'verify',
      code: codeIn(sms!.text),
    });
    expect(verified.status).toBe(200);
    expect(verified.body).toMatchObject({ purpose: 'verify', verified: true });

    const session = await login(api, '+821020000001', 'passphrase 12');
    expect(session.user.status).toBe('active');
    const me = await api.get<{ phoneVerified: boolean; status: string }>('/v1/accounts/me', api.bearer(session.accessToken));
    expect(me.body).toMatchObject({ phoneVerified: true, status: 'active' });
  });

  it('an account by email is activated by its verification link, which works once', async () => {
    const created = await api.post<AccountBody>('/v1/accounts', {
      email: 'link@example.com',
      password: 'passphrase 12',
      locale: 'en',
    });
    expect(created.body.account.status).toBe('unverified');
    const [mail] = await outbox(api, 'link@example.com');
    expect(mail!.subject).toBe('Confirm your email address');
    const url = new URL(/https:\/\/\S+/.exec(mail!.text)![0]);
    expect(url.origin + url.pathname).toBe('https://auth.example.test/v1/accounts/verify-email');

    const first = await api.get(`/v1/accounts/verify-email${url.search}`);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ status: 'verified', accountStatus: 'active' });
    const again = await api.get(`/v1/accounts/verify-email${url.search}`);
    expect(again.status).toBe(400);
    expect(errorOf(again)).toMatchObject({ code: 'LINK_INVALID', details: [{ field: 'query.token' }] });

    const session = await login(api, 'link@example.com', 'passphrase 12');
    expect(session.user.status).toBe('active');
  });

  it('an email can also be verified by a code', async () => {
    await api.post('/v1/accounts', { email: 'bycode@example.com', password: 'passphrase 12' });
    await outbox(api, 'bycode@example.com'); // the link
    const sent = await api.post('/v1/codes', { channel: 'email', to: 'ByCode@example.com', purpose: 'verify' });
    expect(sent.status).toBe(202);
    const code = await latestCode(api, 'bycode@example.com', 2);
    const verified = await api.post('/v1/codes/verify', { channel: 'email', to: 'bycode@example.com', purpose: 'verify', code });
    expect(verified.body).toMatchObject({ verified: true });
    expect((await login(api, 'bycode@example.com', 'passphrase 12')).user.status).toBe('active');
  });

  it('a link can be sent again; unknown addresses get the same answer and no mail', async () => {
    await api.post('/v1/accounts', { email: 'resend@example.com', password: 'passphrase 12' });
    const resent = await api.post('/v1/accounts/verification-link', { email: 'resend@example.com' });
    expect(resent.status).toBe(202);
    const messages = await outbox(api, 'resend@example.com', 2);
    expect(messages.every((m) => m.template === 'verify-link')).toBe(true);
    // Unknown addresses get the same answer and no mail.
    const unknown = await api.post('/v1/accounts/verification-link', { email: 'nobody@example.com' });
    expect(unknown.status).toBe(202);
    expect(unknown.body).toEqual(resent.body);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await api.get('/v1/dev/outbox?to=nobody@example.com')).body).toEqual([]);
  });

  it('an expired link no longer verifies (TTL from config)', async () => {
    const short = await startIdentityGateway({ VIGIL_REQUIRE_VERIFICATION: '1', VIGIL_VERIFY_LINK_TTL_SECONDS: '1' });
    try {
      const other = client(short.url);
      await other.post('/v1/accounts', { email: 'late@example.com', password: 'passphrase 12' });
      const [mail] = await outbox(other, 'late@example.com');
      expect(mail!.text).toContain('링크는 1초 동안'); // default locale ko; the TTL is told as it is
      const token = /token=([\w-]+)/.exec(mail!.text)![1]!;
      // The second is Redis' TTL on the link: check it, then let Redis expire the link now.
      const key = `link:${createHash('sha256').update(token).digest('base64url')}`;
      expect(await short.gateway.redis.pttl(key)).toBeGreaterThan(0);
      expect(await short.gateway.redis.pttl(key)).toBeLessThanOrEqual(1_000);
      await expireNow(short.gateway.redis, key);
      const reply = await other.get(`/v1/accounts/verify-email?token=${token}`);
      expect(errorOf(reply).code).toBe('LINK_INVALID');
    } finally {
      await short.close();
    }
  });

  it('a sign-up that presents a ticket for its phone starts verified', async () => {
    const sent = await api.post('/v1/codes', { channel: 'sms', to: '01020000009', purpose: 'signup' });
    expect(sent.status).toBe(202);
    const code = await latestCode(api, '+821020000009');
    const verified = await api.post<{ ticket: string }>('/v1/codes/verify', {
      channel: 'sms',
      to: '01020000009',
      purpose: 'signup',
      code,
    });
    const created = await api.post<AccountBody>('/v1/accounts', {
      phone: '01020000009',
      password: 'passphrase 12',
      ticket: verified.body.ticket,
    });
    expect(created.status).toBe(201);
    expect(created.body.account).toMatchObject({ status: 'active', phoneVerified: true });
    // The ticket is spent.
    const reuse = await api.post('/v1/accounts', { phone: '01020000010', ticket: verified.body.ticket });
    expect(errorOf(reuse)).toMatchObject({ code: 'TICKET_INVALID' });
  });

  it('refuses a ticket issued for another destination', async () => {
    await api.post('/v1/codes', { channel: 'sms', to: '01020000011', purpose: 'signup' });
    const code = await latestCode(api, '+821020000011');
    const { body } = await api.post<{ ticket: string }>('/v1/codes/verify', {
      channel: 'sms',
      to: '01020000011',
      purpose: 'signup',
      code,
    });
    const reply = await api.post('/v1/accounts', { phone: '01020000012', ticket: body.ticket });
    expect(reply.status).toBe(400);
    expect(errorOf(reply)).toMatchObject({ code: 'TICKET_INVALID', details: [{ field: 'ticket' }] });
  });

  it('requires an email or phone when accounts must be verified', async () => {
    const reply = await api.post('/v1/accounts', { username: 'no.contact', password: 'passphrase 12' });
    expect(reply.status).toBe(400);
    expect(errorOf(reply).details).toEqual([
      { field: 'email', message: 'an email or phone is required: new accounts must confirm one' },
    ]);
  });
});

describe('approval required', () => {
  let gw: TestGateway;
  let api: Client;

  beforeAll(async () => {
    gw = await startIdentityGateway({ VIGIL_REQUIRE_APPROVAL: '1' });
    api = client(gw.url);
  });
  afterAll(() => gw.close());

  it('pending → approved: the login error is ACCOUNT_PENDING until an operator approves', async () => {
    const created = await api.post<AccountBody>('/v1/accounts', { username: 'waiting', password: 'passphrase 12' });
    expect(created.body.account.status).toBe('pending');
    const blocked = await api.post('/v1/sessions', { identifier: 'waiting', password: 'passphrase 12' });
    expect(blocked.status).toBe(403);
    expect(errorOf(blocked).code).toBe('ACCOUNT_PENDING');

    const list = await api.get<{ accounts: Array<{ id: string; username: string }> }>(
      '/v1/admin/accounts?status=pending',
      api.admin,
    );
    expect(list.status).toBe(200);
    expect(list.body.accounts.map((a) => a.username)).toContain('waiting');

    const approved = await api.post<{ status: string }>(
      `/v1/admin/accounts/${created.body.account.id}/approve`,
      undefined,
      api.admin,
    );
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('active');
    expect((await login(api, 'waiting', 'passphrase 12')).user.status).toBe('active');
    const again = await api.post(`/v1/admin/accounts/${created.body.account.id}/approve`, undefined, api.admin);
    expect(again.status).toBe(409);
    expect(errorOf(again)).toMatchObject({ code: 'ACCOUNT_STATUS_INVALID', message: 'The account is active; cannot approve it' });
  });

  it('pending → rejected: the login error is ACCOUNT_REJECTED', async () => {
    const created = await api.post<AccountBody>('/v1/accounts', { username: 'refused', password: 'passphrase 12' });
    const rejected = await api.post<{ status: string }>(
      `/v1/admin/accounts/${created.body.account.id}/reject`,
      { reason: 'documents unreadable' },
      api.admin,
    );
    expect(rejected.status).toBe(200);
    expect(rejected.body.status).toBe('rejected');
    const blocked = await api.post('/v1/sessions', { identifier: 'refused', password: 'passphrase 12' });
    expect(blocked.status).toBe(403);
    expect(errorOf(blocked).code).toBe('ACCOUNT_REJECTED');
    const pending = await api.get<{ accounts: Array<{ username: string }> }>('/v1/admin/accounts?status=pending', api.admin);
    expect(pending.body.accounts.map((a) => a.username)).not.toContain('refused');
  });

  it('admin endpoints need the admin token', async () => {
    const none = await api.get('/v1/admin/accounts');
    expect(none.status).toBe(401);
    expect(errorOf(none).code).toBe('ADMIN_UNAUTHORIZED');
    const wrong = await api.post('/v1/admin/accounts/x/approve', undefined, {
      authorization: 'Bearer not-the-admin-token-at-all',
    });
    expect(wrong.status).toBe(401);
    const missing = await api.post('/v1/admin/accounts/no-such-id/approve', undefined, api.admin);
    expect(missing.status).toBe(404);
  });

  it('pages through accounts by number', async () => {
    for (let i = 0; i < 3; i++) await api.post('/v1/accounts', { username: `paged${i}`, password: 'passphrase 12' });
    const first = await api.get<{ accounts: Array<{ number: number }>; next?: number }>('/v1/admin/accounts?limit=2', api.admin);
    expect(first.body.accounts).toHaveLength(2);
    expect(first.body.next).toBe(first.body.accounts[1]!.number);
    const second = await api.get<{ accounts: Array<{ number: number }> }>(
      `/v1/admin/accounts?limit=2&after=${first.body.next}`,
      api.admin,
    );
    expect(second.body.accounts[0]!.number).toBeGreaterThan(first.body.next!);
  });
});

describe('verification and approval both required', () => {
  it('unverified → (code) → pending → (approve) → active', async () => {
    const gw = await startIdentityGateway({ VIGIL_REQUIRE_VERIFICATION: '1', VIGIL_REQUIRE_APPROVAL: '1' });
    try {
      const api = client(gw.url);
      const created = await api.post<AccountBody>('/v1/accounts', { phone: '01030000001', password: 'passphrase 12' });
      expect(created.body.account.status).toBe('unverified');
      const code = await latestCode(api, '+821030000001');
      await api.post('/v1/codes/verify', { channel: 'sms', to: '01030000001', purpose: 'verify', code });
      const blocked = await api.post('/v1/sessions', { identifier: '01030000001', password: 'passphrase 12' });
      expect(errorOf(blocked).code).toBe('ACCOUNT_PENDING');
      await api.post(`/v1/admin/accounts/${created.body.account.id}/approve`, undefined, api.admin);
      expect((await login(api, '01030000001', 'passphrase 12')).user.status).toBe('active');
    } finally {
      await gw.close();
    }
  });
});
