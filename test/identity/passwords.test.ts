import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { client, errorOf, latestCode, login, startIdentityGateway, IN_PROCESS, type Client } from './support.ts';

// Password change and reset over HTTP, with real sessions from the session concern.
let gw: TestGateway;
let api: Client;

beforeAll(async () => {
  gw = await startIdentityGateway({}, IN_PROCESS);
  api = client(gw);
});
afterAll(() => gw.close());

const meStatus = async (token: string) => (await api.get('/v1/accounts/me', api.bearer(token))).status;

describe('password reset', () => {
  it('with the emailed code: sets the new password and revokes every session', async () => {
    await api.post('/v1/accounts', { email: 'reset@example.com', password: 'old passphrase' });
    const phone = await login(api, 'reset@example.com', 'old passphrase');
    const laptop = await login(api, 'reset@example.com', 'old passphrase');
    expect(await meStatus(phone.accessToken)).toBe(200);

    expect((await api.post('/v1/codes', { channel: 'email', to: 'reset@example.com', purpose: 'reset' })).status).toBe(202);
    const code = await latestCode(api, 'reset@example.com');
    const reply = await api.post('/v1/password/reset', { to: 'reset@example.com', code, newPassword: 'new passphrase' });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: 'reset', revokedSessions: 2 });

    expect(await meStatus(phone.accessToken)).toBe(401);
    expect(await meStatus(laptop.accessToken)).toBe(401);
    expect((await api.post('/v1/sessions/refresh', { refreshToken: laptop.refreshToken })).status).toBe(401);
    expect((await api.post('/v1/sessions', { identifier: 'reset@example.com', password: 'old passphrase' })).status).toBe(401);
    await login(api, 'reset@example.com', 'new passphrase');
  });

  it('with a ticket from POST /v1/codes/verify', async () => {
    await api.post('/v1/accounts', { phone: '01060000001', password: 'old passphrase' });
    const session = await login(api, '01060000001', 'old passphrase');
    await api.post('/v1/codes', { channel: 'sms', to: '01060000001', purpose: 'reset' });
    const code = await latestCode(api, '+821060000001');
    const { body } = await api.post<{ ticket: string }>('/v1/codes/verify', {
      channel: 'sms',
      to: '01060000001',
      purpose: 'reset',
      code,
    });
    const reply = await api.post('/v1/password/reset', { ticket: body.ticket, newPassword: 'new passphrase' });
    expect(reply.body).toEqual({ status: 'reset', revokedSessions: 1 });
    expect(await meStatus(session.accessToken)).toBe(401);
    await login(api, '+82 10 6000 0001', 'new passphrase');
    const replay = await api.post('/v1/password/reset', { ticket: body.ticket, newPassword: 'third passphrase' });
    expect(errorOf(replay).code).toBe('TICKET_INVALID');
  });

  it('refuses a wrong code, a ticket of another purpose, and a bad new password without spending the ticket', async () => {
    await api.post('/v1/accounts', { email: 'careful@example.com', password: 'old passphrase' });
    const wrong = await api.post('/v1/password/reset', {
      to: 'careful@example.com',
      code: '000000',
      newPassword: 'new passphrase',
    });
    expect(errorOf(wrong).code).toBe('CODE_INVALID');

    await api.post('/v1/codes', { channel: 'email', to: 'careful@example.com', purpose: 'reset' });
    const code = await latestCode(api, 'careful@example.com');
    const { body } = await api.post<{ ticket: string }>('/v1/codes/verify', {
      channel: 'email',
      to: 'careful@example.com',
      purpose: 'reset',
      code,
    });
    const tooLong = await api.post('/v1/password/reset', { ticket: body.ticket, newPassword: 'x'.repeat(73) });
    expect(errorOf(tooLong)).toMatchObject({ code: 'PASSWORD_TOO_LONG', details: [{ field: 'newPassword' }] });
    const ok = await api.post('/v1/password/reset', { ticket: body.ticket, newPassword: 'new passphrase' });
    expect(ok.status).toBe(200);

    const missing = await api.post('/v1/password/reset', { newPassword: 'new passphrase' });
    expect(errorOf(missing).details).toEqual([{ field: 'to', message: expect.any(String) }]);
  });
});

describe('password change', () => {
  it('needs the current password and revokes every other session, keeping the caller’s', async () => {
    await api.post('/v1/accounts', { username: 'changer.kim', password: 'old passphrase' });
    const here = await login(api, 'changer.kim', 'old passphrase');
    const elsewhere = await login(api, 'changer.kim', 'old passphrase');
    const change = (currentPassword: string, newPassword: string) =>
      api.post('/v1/password/change', { currentPassword, newPassword }, api.bearer(here.accessToken));

    const wrong = await change('not it at all', 'new passphrase');
    expect(wrong.status).toBe(401);
    expect(errorOf(wrong)).toMatchObject({ code: 'PASSWORD_INCORRECT', details: [{ field: 'currentPassword' }] });
    expect(errorOf(await change('old passphrase', 'short'))).toMatchObject({
      code: 'PASSWORD_TOO_SHORT',
      details: [{ field: 'newPassword' }],
    });
    expect(errorOf(await change('old passphrase', 'Changer.Kim'))).toMatchObject({
      code: 'PASSWORD_MATCHES_IDENTIFIER',
      details: [{ field: 'newPassword' }],
    });

    const reply = await change('old passphrase', 'new passphrase');
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: 'changed', revokedSessions: 1 });
    expect(await meStatus(here.accessToken)).toBe(200);
    expect(await meStatus(elsewhere.accessToken)).toBe(401);
    await login(api, 'changer.kim', 'new passphrase');
  });

  it('needs a logged-in caller', async () => {
    const reply = await api.post('/v1/password/change', { currentPassword: 'a passphrase', newPassword: 'b passphrase' });
    expect(reply.status).toBe(401);
  });

  it('limits current-password checks per account', async () => {
    const limited = await startIdentityGateway({ VIGIL_PASSWORD_CHECKS_PER_USER_HOURLY: '2' }, IN_PROCESS);
    try {
      const other = client(limited);
      await other.post('/v1/accounts', { username: 'guesser', password: 'old passphrase' });
      const { accessToken } = await login(other, 'guesser', 'old passphrase');
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        statuses.push(
          (
            await other.post(
              '/v1/password/change',
              { currentPassword: `guess ${i} wrong`, newPassword: 'new passphrase' },
              other.bearer(accessToken),
            )
          ).status,
        );
      }
      expect(statuses).toEqual([401, 401, 429]);
    } finally {
      await limited.close();
    }
  });
});
