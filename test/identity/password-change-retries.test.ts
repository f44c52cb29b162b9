import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../hardening/support/cluster.ts';
import { logIn, signUpMember, type Member } from '../hardening/support/accounts.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { startReplicatedRedis, type ReplicatedRedis } from '../support/replicated-redis.ts';
import { bearer, errorCode, json } from '../sessions/support.ts';
import { client, latestCode, ROOMY_LIMITS } from './support.ts';

// A password change or reset is how an owner throws a thief out: it ends the account's other
// sessions. When ending them is answered 503 (too few replicas hold it, or a cluster master
// refuses part of it), the client asks again with the same request, and that retry must end them:
// it used to store the new password first, so the retry named a password no longer current (or a
// code already spent) and was refused, and the thief's sessions stayed live.
// A private master with a replica this file detaches (REPLICAOF NO ONE) and attaches again, as in
// test/sessions/revocation-retries.test.ts; the account's write lease held by the test (as another
// writer holds it) pauses a change just before it stores the new password.
let pair: ReplicatedRedis;
/** Waits for one replica: what is under test. */
let gw: TestGateway;
/** The same stores, waiting for nothing: signs up, logs in (the thief too) and reads the outbox. */
let plain: TestGateway;

beforeAll(async () => {
  pair = await startReplicatedRedis();
  const env = { ...ROOMY_LIMITS, REDIS_URL: pair.master.url, VIGIL_DEV_OUTBOX: '1', VIGIL_DELIVERY_BACKOFF_MS: '50' };
  gw = await startTestGateway({ ...env, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '1000' });
  const { MONGO_DB, REDIS_PREFIX } = gw.config;
  plain = await startTestGateway({ ...env, MONGO_DB: MONGO_DB!, REDIS_PREFIX, REDIS_WAIT_REPLICAS: '0' });
}, 30_000);
afterAll(async () => {
  await plain?.close();
  await gw?.close();
  await pair?.destroy();
});

// A test that failed half-way may have left the replica detached.
beforeEach(async () => {
  if (await pair.detached()) await pair.attach();
}, 15_000);

const sessionKey = (id: string) => `${gw.config.REDIS_PREFIX}sess:{${id}}`;
const onMaster = async (id: string) => (await pair.masterAdmin.exists(sessionKey(id))) === 1;
const onReplica = async (id: string) => (await pair.replicaAdmin.exists(sessionKey(id))) === 1;

/** Holds the account's write lease as another writer would: a password write waits (up to 5 s) until it is let go. */
async function holdWriteLease(userId: string): Promise<() => Promise<void>> {
  const key = `${gw.config.REDIS_PREFIX}account-write:{${userId}}`;
  expect(await pair.masterAdmin.set(key, 'held by the test', 'PX', 20_000, 'NX')).toBe('OK');
  return async () => void (await pair.masterAdmin.del(key));
}

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${path}`, json(body, headers));

/** Asks again, as a client told 503 does, until another answer. */
const untilAnswered = (request: () => Promise<Response>) =>
  eventually(
    async () => {
      const res = await request();
      return res.status !== 503 && res;
    },
    10_000,
    'an answer but 503',
  );

/** The session is over for its holder: its access token and its refresh token are refused, and no replica could bring it back. */
async function expectEnded(session: { sessionId: string; accessToken: string; refreshToken: string }): Promise<void> {
  const me = await fetch(`${gw.url}/v1/accounts/me`, { headers: bearer(session.accessToken) });
  expect(me.status).toBe(401);
  expect(await errorCode(me)).toBe('TOKEN_REVOKED');
  const refreshed = await fetch(`${plain.url}/v1/sessions/refresh`, json({ refreshToken: session.refreshToken }));
  expect(refreshed.status).toBe(401);
  expect(await onMaster(session.sessionId)).toBe(false);
  expect(await onReplica(session.sessionId)).toBe(false);
}

async function expectPassword(member: Member, current: string): Promise<void> {
  const old = await fetch(`${plain.url}/v1/sessions`, json({ identifier: member.username, password: member.password }));
  expect(old.status).toBe(401);
  await logIn(plain.url, member.username, current);
}

describe('a password change answered 503', () => {
  it('while the replica is away: the retry with the same request ends the thief’s session and sets the password', async () => {
    const owner = await signUpMember(plain.url, 'pcr');
    const thief = await logIn(plain.url, owner.username, owner.password);
    const newPassword = `${owner.password} changed`;
    const change = () => post('/v1/password/change', { currentPassword: owner.password, newPassword }, bearer(owner.accessToken));

    await pair.detach();
    expect((await change()).status).toBe(503);
    const again = await change();
    expect(again.status).toBe(503);
    expect(again.headers.get('retry-after')).toBe('1');
    await pair.attach();
    const last = await untilAnswered(change);
    expect(last.status).toBe(200);
    expect(((await last.json()) as { status: string }).status).toBe('changed');

    await expectEnded(thief);
    expect((await fetch(`${gw.url}/v1/accounts/me`, { headers: bearer(owner.accessToken) })).status).toBe(200);
    await expectPassword(owner, newPassword);
  });

  it('after the new password was stored: the retry, naming a password no longer current, still finishes', async () => {
    const owner = await signUpMember(plain.url, 'pcw');
    const thief = await logIn(plain.url, owner.username, owner.password);
    const newPassword = `${owner.password} changed`;
    const change = () => post('/v1/password/change', { currentPassword: owner.password, newPassword }, bearer(owner.accessToken));

    // Paused before the write; the replica leaves meanwhile, so only what follows the write fails.
    const release = await holdWriteLease(owner.userId);
    const first = change();
    await eventually(async () => !(await onMaster(thief.sessionId)), 4_000, 'the first revocation');
    await pair.detach();
    await release();
    expect((await first).status).toBe(503);
    // Stored: the current password the retry names is the old one.
    await expectPassword(owner, newPassword);
    expect((await change()).status).toBe(503);
    await pair.attach();
    const last = await untilAnswered(change);
    expect(last.status).toBe(200);
    await expectEnded(thief);

    // A lost 200 is asked again too, and answered alike; another session of the account cannot
    // pass for the one that changed it.
    expect((await change()).status).toBe(200);
    const later = await logIn(plain.url, owner.username, newPassword);
    const stranger = await post(
      '/v1/password/change',
      { currentPassword: owner.password, newPassword },
      bearer(later.accessToken),
    );
    expect(stranger.status).toBe(401);
    expect(await errorCode(stranger)).toBe('PASSWORD_INCORRECT');
  });
});

describe('a password reset by code answered 503', () => {
  async function resetCode(member: Member): Promise<string> {
    const asked = await fetch(`${plain.url}/v1/codes`, json({ channel: 'email', to: member.email, purpose: 'reset' }));
    expect(asked.status).toBe(202);
    return latestCode(client(plain), member.email);
  }

  it('while the replica is away: the retry with the same code ends every session and sets the password', async () => {
    const owner = await signUpMember(plain.url, 'prr');
    const thief = await logIn(plain.url, owner.username, owner.password);
    const code = await resetCode(owner);
    const newPassword = `${owner.password} reset`;
    const reset = () => post('/v1/password/reset', { to: owner.email, code, newPassword });

    await pair.detach();
    expect((await reset()).status).toBe(503);
    expect((await reset()).status).toBe(503);
    await pair.attach();
    const last = await untilAnswered(reset);
    expect(last.status).toBe(200);
    expect(((await last.json()) as { status: string }).status).toBe('reset');

    await expectEnded(thief);
    await expectEnded(owner);
    await expectPassword(owner, newPassword);
    // Spent by the reset that succeeded, not before.
    const replay = await reset();
    expect(replay.status).toBe(400);
    expect(await errorCode(replay)).toBe('CODE_INVALID');
  });

  it('after the new password was stored: the code still serves the retry', async () => {
    const owner = await signUpMember(plain.url, 'prw');
    const thief = await logIn(plain.url, owner.username, owner.password);
    const code = await resetCode(owner);
    const newPassword = `${owner.password} reset`;
    const reset = () => post('/v1/password/reset', { to: owner.email, code, newPassword });

    const release = await holdWriteLease(owner.userId);
    const first = reset();
    await eventually(async () => !(await onMaster(thief.sessionId)), 4_000, 'the first revocation');
    await pair.detach();
    await release();
    expect((await first).status).toBe(503);
    await pair.attach();
    const last = await untilAnswered(reset);
    expect(last.status).toBe(200);
    await expectEnded(thief);
    await expectPassword(owner, newPassword);
  });
});

describe('a thief who knows the old password', () => {
  it('logging in between the revocation and the new password: ended by the change', async () => {
    const owner = await signUpMember(plain.url, 'pti');
    const thief = await logIn(plain.url, owner.username, owner.password);
    const newPassword = `${owner.password} changed`;

    const release = await holdWriteLease(owner.userId);
    const change = post('/v1/password/change', { currentPassword: owner.password, newPassword }, bearer(owner.accessToken));
    await eventually(async () => !(await onMaster(thief.sessionId)), 4_000, 'the first revocation');
    // The old password is still the account's: the thief is let in again.
    const again = await logIn(plain.url, owner.username, owner.password);
    await release();
    expect((await change).status).toBe(200);

    await expectEnded(thief);
    await expectEnded(again);
    await expectPassword(owner, newPassword);
  });

  it('whose login read the old password before the change stored the new one, and opens its session after: refused', async () => {
    // A gateway whose one bcrypt slot is busy for seconds: a login there reads the account, then
    // waits for bcrypt, and the owner's whole change fits in that wait.
    const { MONGO_DB, REDIS_PREFIX } = gw.config;
    const queued = await startTestGateway({
      REDIS_URL: pair.master.url,
      MONGO_DB: MONGO_DB!,
      REDIS_PREFIX,
      REDIS_WAIT_REPLICAS: '0',
      VIGIL_BCRYPT_COST: '13',
      VIGIL_BCRYPT_CONCURRENCY: '1',
      ...ROOMY_LIMITS,
    });
    try {
      const waiting = async () =>
        Number(/^vigil_password_hash_waiting (\d+)/m.exec(await (await fetch(`${queued.url}/metrics`)).text())?.[1]);
      const slow = await signUpMember(queued.url, 'pts'); // its password is hashed at cost 13
      const owner = await signUpMember(plain.url, 'ptq');
      const newPassword = `${owner.password} changed`;
      const busy = [1, 2].map(() =>
        fetch(`${queued.url}/v1/sessions`, json({ identifier: slow.username, password: slow.password })),
      );
      await eventually(async () => (await waiting()) === 1, 10_000, 'one login checking, one waiting');
      const thief = fetch(`${queued.url}/v1/sessions`, json({ identifier: owner.username, password: owner.password }));
      // Waiting behind both: it has read the account, with the old password.
      await eventually(async () => (await waiting()) === 2, 10_000, 'the thief waiting for bcrypt');
      const change = await post(
        '/v1/password/change',
        { currentPassword: owner.password, newPassword },
        bearer(owner.accessToken),
      );
      expect(change.status).toBe(200);
      expect(await waiting()).toBe(2); // the change was over before the thief's password was checked

      // Its session, made after the change's last revocation, is ended by the login itself.
      const login = await thief;
      expect(login.status).toBe(401);
      expect(await errorCode(login)).toBe('LOGIN_FAILED');
      for (const res of await Promise.all(busy)) expect(res.status).toBe(201);
      // Its login wanted the old password rehashed at cost 13: not stored over the new one.
      await expectPassword(owner, newPassword);
    } finally {
      await queued.gateway.close();
    }
  }, 60_000);

  it('logging in again while the owner’s change is answered 503: ended by the retry', async () => {
    const owner = await signUpMember(plain.url, 'pto');
    const thief = await logIn(plain.url, owner.username, owner.password);
    const newPassword = `${owner.password} changed`;
    const change = () => post('/v1/password/change', { currentPassword: owner.password, newPassword }, bearer(owner.accessToken));

    await pair.detach();
    expect((await change()).status).toBe(503);
    // Whatever the first call did, the thief tries the old password again on a gateway that waits for nothing.
    const login = await fetch(`${plain.url}/v1/sessions`, json({ identifier: owner.username, password: owner.password }));
    const again =
      login.status === 201
        ? ((await login.json()) as { sessionId: string; accessToken: string; refreshToken: string })
        : undefined;
    await pair.attach();
    expect((await untilAnswered(change)).status).toBe(200);

    await expectEnded(thief);
    if (again) await expectEnded(again);
    await expectPassword(owner, newPassword);
  });
});
