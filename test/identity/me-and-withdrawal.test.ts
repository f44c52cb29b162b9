import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { client, errorOf, latestCode, login, startIdentityGateway, IN_PROCESS, type Client } from './support.ts';

// The caller's own account: read, change, withdraw.
let gw: TestGateway;
let api: Client;
let mongo: MongoClient;

beforeAll(async () => {
  gw = await startIdentityGateway({ VIGIL_PROFILE_FIELDS: JSON.stringify([{ name: 'profession', type: 'string' }]) }, IN_PROCESS);
  api = client(gw);
  mongo = new MongoClient(gw.config.MONGO_URL);
  await mongo.connect();
});
afterAll(async () => {
  await mongo.close();
  await gw.close();
});

const db = () => mongo.db(gw.config.MONGO_DB);

describe('me', () => {
  it('reads and patches the profile; null removes a field', async () => {
    await api.post('/v1/accounts', {
      username: 'patcher',
      password: 'passphrase 12',
      profile: { name: 'Kim', profession: 'doctor' },
    });
    const { accessToken } = await login(api, 'patcher', 'passphrase 12');
    const me = await api.get<{ username: string; profile: Record<string, unknown>; locale: string }>(
      '/v1/accounts/me',
      api.bearer(accessToken),
    );
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ username: 'patcher', locale: 'ko', profile: { name: 'Kim', profession: 'doctor' } });

    const patched = await api.patch<{ username: string; profile: Record<string, unknown>; locale: string }>(
      '/v1/accounts/me',
      { username: 'Patcher2', locale: 'en', profile: { profession: null, birthDate: '1990-01-02' } },
      api.bearer(accessToken),
    );
    expect(patched.status).toBe(200);
    expect(patched.body.username).toBe('Patcher2');
    expect(patched.body.locale).toBe('en');
    expect(patched.body.profile).toEqual({ name: 'Kim', birthDate: '1990-01-02', age: expect.any(Number) });
    await login(api, 'patcher2', 'passphrase 12');
  });

  it('refuses a taken username and names bad fields', async () => {
    await api.post('/v1/accounts', { username: 'occupied', password: 'passphrase 12' });
    await api.post('/v1/accounts', { username: 'mover', password: 'passphrase 12' });
    const { accessToken } = await login(api, 'mover', 'passphrase 12');
    const taken = await api.patch('/v1/accounts/me', { username: 'OCCUPIED' }, api.bearer(accessToken));
    expect(taken.status).toBe(409);
    expect(errorOf(taken)).toMatchObject({ code: 'CONFLICT', details: [{ field: 'username' }] });
    const bad = await api.patch(
      '/v1/accounts/me',
      { email: 'x@example.com', profile: { profession: 5 } },
      api.bearer(accessToken),
    );
    expect(bad.status).toBe(400);
    expect(
      errorOf(bad)
        .details!.map((d) => d.field)
        .sort(),
    ).toEqual(['email', 'profile.profession']);
  });

  it('needs a token', async () => {
    expect((await api.get('/v1/accounts/me')).status).toBe(401);
  });
});

describe('withdrawal', () => {
  it('with the password: anonymises the account, removes devices, revokes every session, keeps the audit trail', async () => {
    const created = await api.post<{ account: { id: string } }>('/v1/accounts', {
      username: 'leaver',
      email: 'leaver@example.com',
      phone: '01070000001',
      password: 'passphrase 12',
      profile: { name: 'Leaving Soon', profession: 'pilot' },
      device: { id: 'device-1', platform: 'ios' },
    });
    const id = created.body.account.id;
    const one = await login(api, 'leaver', 'passphrase 12');
    const two = await login(api, 'leaver@example.com', 'passphrase 12');

    const wrong = await api.post('/v1/accounts/me/withdraw', { password: 'not the password' }, api.bearer(one.accessToken));
    expect(wrong.status).toBe(401);
    expect(errorOf(wrong)).toMatchObject({ code: 'PASSWORD_INCORRECT', details: [{ field: 'password' }] });
    const none = await api.post('/v1/accounts/me/withdraw', {}, api.bearer(one.accessToken));
    expect(errorOf(none).details).toEqual([{ field: 'password', message: expect.any(String) }]);

    const reply = await api.post('/v1/accounts/me/withdraw', { password: 'passphrase 12' }, api.bearer(one.accessToken));
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: 'withdrawn', revokedSessions: 2 });

    expect((await api.get('/v1/accounts/me', api.bearer(one.accessToken))).status).toBe(401);
    expect((await api.get('/v1/accounts/me', api.bearer(two.accessToken))).status).toBe(401);
    expect((await api.post('/v1/sessions', { identifier: 'leaver', password: 'passphrase 12' })).status).toBe(401);

    const stored = await db()
      .collection('accounts')
      .findOne({ _id: id as never });
    expect(stored).toMatchObject({ status: 'withdrawn', profile: {} });
    for (const gone of ['username', 'usernameKey', 'email', 'phone', 'passwordHash']) expect(stored).not.toHaveProperty(gone);
    expect(await db().collection('devices').countDocuments({ userId: id })).toBe(0);
    const events = (await db().collection('audit').find({ userId: id }).toArray()).map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['account.created', 'login.succeeded', 'account.withdrawn']));

    // The identifiers are free again.
    const availability = await api.get('/v1/accounts/availability?username=leaver&email=leaver@example.com&phone=01070000001');
    expect(Object.values(availability.body).every((entry) => (entry as { available: boolean }).available)).toBe(true);
    expect(
      (await api.post('/v1/accounts', { username: 'leaver', email: 'leaver@example.com', password: 'passphrase 12' })).status,
    ).toBe(201);
  });

  it('with a ticket from a fresh code (purpose withdraw), for a code-only account', async () => {
    await api.post('/v1/accounts', { phone: '01070000002' });
    await api.post('/v1/codes', { channel: 'sms', to: '01070000002', purpose: 'login' });
    const session = await api.post<{ accessToken: string }>('/v1/sessions', {
      phone: '01070000002',
      code: await latestCode(api, '+821070000002'),
    });
    expect(session.status).toBe(201);
    const bearer = api.bearer(session.body.accessToken);

    await api.post('/v1/codes', { channel: 'sms', to: '01070000002', purpose: 'withdraw' });
    const code = await latestCode(api, '+821070000002', 2);
    const { body } = await api.post<{ ticket: string }>('/v1/codes/verify', {
      channel: 'sms',
      to: '01070000002',
      purpose: 'withdraw',
      code,
    });
    const reply = await api.post('/v1/accounts/me/withdraw', { ticket: body.ticket }, bearer);
    expect(reply.status).toBe(200);
    expect((await api.get('/v1/accounts/me', bearer)).status).toBe(401);
  });

  it('refuses a withdraw ticket issued for someone else’s phone', async () => {
    await api.post('/v1/accounts', { phone: '01070000003', password: 'passphrase 12' });
    await api.post('/v1/accounts', { phone: '01070000004', password: 'passphrase 12' });
    const victim = await login(api, '01070000003', 'passphrase 12');
    await api.post('/v1/codes', { channel: 'sms', to: '01070000004', purpose: 'withdraw' });
    const code = await latestCode(api, '+821070000004');
    const { body } = await api.post<{ ticket: string }>('/v1/codes/verify', {
      channel: 'sms',
      to: '01070000004',
      purpose: 'withdraw',
      code,
    });
    const reply = await api.post('/v1/accounts/me/withdraw', { ticket: body.ticket }, api.bearer(victim.accessToken));
    expect(reply.status).toBe(400);
    expect(errorOf(reply)).toMatchObject({ code: 'TICKET_INVALID', details: [{ field: 'ticket' }] });
    expect((await api.get('/v1/accounts/me', api.bearer(victim.accessToken))).status).toBe(200);
  });
});
