import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '../../src/gateway/gateway.ts';
import { CLAIM_GRACE_MS } from '../../src/identity/accounts/identifier-claims.ts';
import type { TestGateway } from '../support/gateway.ts';
import { client, errorOf, login, startIdentityGateway, type Client } from './support.ts';

// Logins find an account through its identifier's claim (`account_identifiers`, read by `_id`:
// FerretDB scans for any other filter). These check the claims stay right through every way an
// identifier is taken, changed and let go, over real HTTP on real FerretDB.
let gw: TestGateway;
let api: Client;
let mongo: MongoClient;
let redis: Redis;

beforeAll(async () => {
  gw = await startIdentityGateway();
  api = client(gw.url);
  mongo = new MongoClient(gw.config.MONGO_URL);
  await mongo.connect();
  redis = new Redis(gw.config.REDIS_URL);
});
afterAll(async () => {
  redis.disconnect();
  await mongo.close();
  await gw.close();
});

const claims = () =>
  mongo.db(gw.config.MONGO_DB).collection<{ _id: string; userId: string; claimedAt: Date }>('account_identifiers');
const PASSWORD = 'passphrase 12';
const tryLogin = (identifier: string) => api.post('/v1/sessions', { identifier, password: PASSWORD });
const available = async (username: string) =>
  (await api.get<{ username: { available: boolean } }>(`/v1/accounts/availability?username=${username}`)).body.username.available;

async function signUp(body: Record<string, unknown>): Promise<string> {
  const reply = await api.post<{ account: { id: string } }>('/v1/accounts', { password: PASSWORD, ...body });
  expect(reply.status).toBe(201);
  return reply.body.account.id;
}

describe('identifier claims', () => {
  it('sign-up claims every identifier under its normalised form', async () => {
    const id = await signUp({ username: 'Claimer', email: 'Claimer@Example.com', phone: '01055550001' });
    const held = await claims().find({ userId: id }).toArray();
    expect(held.map((c) => c._id).sort()).toEqual(['email:claimer@example.com', 'phone:+821055550001', 'username:claimer']);
    await login(api, 'CLAIMER@example.com', PASSWORD);
    await login(api, '010-5555-0001', PASSWORD);
  });

  it('a username change: the old name no longer logs in, the new one does, and the old one is free again', async () => {
    const id = await signUp({ username: 'before-change' });
    const { accessToken } = await login(api, 'before-change', PASSWORD);
    const patched = await api.patch('/v1/accounts/me', { username: 'after-change' }, api.bearer(accessToken));
    expect(patched.status).toBe(200);

    expect((await tryLogin('before-change')).status).toBe(401);
    expect((await login(api, 'after-change', PASSWORD)).user.id).toBe(id);
    expect(await claims().findOne({ _id: 'username:before-change' })).toBeNull();
    // Free at once, as before claims existed.
    await signUp({ username: 'before-change' });
    expect((await login(api, 'after-change', PASSWORD)).user.id).toBe(id);
  });

  it('two accounts racing to rename to one name: exactly one gets it, and it logs in', async () => {
    await signUp({ username: 'racer-a' });
    await signUp({ username: 'racer-b' });
    const tokens = await Promise.all(['racer-a', 'racer-b'].map(async (name) => (await login(api, name, PASSWORD)).accessToken));
    const replies = await Promise.all(tokens.map((t) => api.patch('/v1/accounts/me', { username: 'contested' }, api.bearer(t))));
    expect(replies.map((r) => r.status).sort()).toEqual([200, 409]);
    const loser = replies.findIndex((r) => r.status === 409);
    expect(errorOf(replies[loser]!)).toMatchObject({ code: 'CONFLICT', details: [{ field: 'username' }] });
    await login(api, 'contested', PASSWORD);
    // The loser keeps its name.
    await login(api, loser === 0 ? 'racer-a' : 'racer-b', PASSWORD);
    expect(await claims().countDocuments({ _id: 'username:contested' })).toBe(1);
  });

  it('a sign-up racing a rename to the same name: exactly one account ends up with it', async () => {
    await signUp({ username: 'renamer' });
    const { accessToken } = await login(api, 'renamer', PASSWORD);
    const [rename, signUpReply] = await Promise.all([
      api.patch('/v1/accounts/me', { username: 'wanted' }, api.bearer(accessToken)),
      api.post('/v1/accounts', { username: 'wanted', password: PASSWORD }),
    ]);
    // One wins, the other is told the name is taken.
    expect(rename.status === 200 ? signUpReply.status : rename.status).toBe(409);
    expect(rename.status === 200 || signUpReply.status === 201).toBe(true);
    const holders = await mongo.db(gw.config.MONGO_DB).collection('accounts').countDocuments({ usernameKey: 'wanted' });
    expect(holders).toBe(1);
    await login(api, 'wanted', PASSWORD);
  });

  it('withdrawal frees every identifier at once (a new account may take them), and the old password opens nothing', async () => {
    await signUp({ username: 'leaver', email: 'leaver@example.com' });
    const { accessToken } = await login(api, 'leaver', PASSWORD);
    const withdrawn = await api.post('/v1/accounts/me/withdraw', { password: PASSWORD }, api.bearer(accessToken));
    expect(withdrawn.status).toBe(200);
    expect(await claims().countDocuments({ _id: { $in: ['username:leaver', 'email:leaver@example.com'] } })).toBe(0);
    expect((await tryLogin('leaver')).status).toBe(401);
    const newcomer = await signUp({ username: 'leaver', email: 'leaver@example.com', password: 'another passphrase' });
    const reply = await api.post<{ user: { id: string } }>('/v1/sessions', {
      identifier: 'leaver@example.com',
      password: 'another passphrase',
    });
    expect(reply.body.user.id).toBe(newcomer);
  });

  it('rejection keeps the identifiers taken, as before', async () => {
    const rejecting = await startIdentityGateway({ VIGIL_REQUIRE_APPROVAL: 'true' });
    try {
      const api2 = client(rejecting.url);
      const created = await api2.post<{ account: { id: string } }>('/v1/accounts', { username: 'refused', password: PASSWORD });
      const reject = await api2.post(`/v1/admin/accounts/${created.body.account.id}/reject`, { reason: 'spam' }, api2.admin);
      expect(reject.status).toBe(200);
      const again = await api2.post('/v1/accounts', { username: 'refused', password: PASSWORD });
      expect(again.status).toBe(409);
      expect(errorOf(await api2.post('/v1/sessions', { identifier: 'refused', password: PASSWORD }))).toMatchObject({
        code: 'ACCOUNT_REJECTED',
      });
    } finally {
      await rejecting.close();
    }
  });

  it('a claim left by a sign-up that died before storing its account: ignored by logins, and sign-up and availability agree on it', async () => {
    // The crash: a claim, no account. Young, but no writer holds the account's lease any more.
    await claims().insertOne({ _id: 'username:ghost-fresh', userId: 'never-stored', claimedAt: new Date() });
    await claims().insertOne({
      _id: 'username:ghost-old',
      userId: 'never-stored',
      claimedAt: new Date(Date.now() - CLAIM_GRACE_MS - 1_000),
    });
    expect((await tryLogin('ghost-fresh')).status).toBe(401);
    expect(await available('ghost-fresh')).toBe(true);
    // Free means free: the sign-up takes the dead claim over at once, not a minute later.
    for (const name of ['ghost-fresh', 'ghost-old']) {
      const id = await signUp({ username: name });
      expect((await claims().findOne({ _id: `username:${name}` }))?.userId).toBe(id);
      await login(api, name, PASSWORD);
    }
  });

  it('a claim whose writer still holds its account write lease (between claim and account write) is taken for sign-up and availability alike', async () => {
    // The crash a moment ago (or a sign-up still writing): its claim, and its lease not yet lapsed.
    await claims().insertOne({ _id: 'username:ghost-busy', userId: 'still-writing', claimedAt: new Date() });
    await redis.set(`${gw.config.REDIS_PREFIX}account-write:{still-writing}`, 'dead-writer', 'PX', 60_000);
    expect(await available('ghost-busy')).toBe(false);
    const refused = await api.post('/v1/accounts', { username: 'ghost-busy', password: PASSWORD });
    expect(refused.status).toBe(409);
    // The lease lapses: free for both.
    await redis.del(`${gw.config.REDIS_PREFIX}account-write:{still-writing}`);
    expect(await available('ghost-busy')).toBe(true);
    const id = await signUp({ username: 'ghost-busy' });
    expect((await claims().findOne({ _id: 'username:ghost-busy' }))?.userId).toBe(id);
  });

  it('accounts stored before claims existed log in after a start (the back-fill), and it is idempotent', async () => {
    const ids = await Promise.all(
      ['legacy-one', 'legacy-two'].map((username) => signUp({ username, email: `${username}@example.com` })),
    );
    // What an older gateway leaves: the accounts without any claim.
    await claims().deleteMany({ userId: { $in: ids } });
    expect((await tryLogin('legacy-one')).status).toBe(401);

    for (let start = 0; start < 2; start++) {
      const again = await startGateway(gw.config, { listen: false });
      await again.close();
    }
    expect((await login(api, 'legacy-one', PASSWORD)).user.id).toBe(ids[0]);
    expect((await login(api, 'legacy-two@example.com', PASSWORD)).user.id).toBe(ids[1]);
    expect(await claims().countDocuments({ userId: { $in: ids } })).toBe(4);
  });
});
