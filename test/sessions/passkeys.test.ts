import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SoftAuthenticator } from '../support/soft-authenticator.ts';
import { jsonCaller } from '../support/json-call.ts';
import { startGateway } from '../../src/gateway/gateway.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/**
 * Passkeys over real HTTP with a software authenticator that makes what a browser would send:
 * registration, username-less login, the passkey as a second step, and every refusal — bad
 * shape, wrong origin, wrong RP ID, reused or expired challenge, bad signature, a counter going
 * backwards — each a catalogued error after which nothing was stored. Attacks are performed the
 * way an attacker would: a stolen old access token, a second account, someone else's credential id.
 */
const RP_ID = 'vigil.test';
const ORIGIN = 'https://app.vigil.test';
let gw: TestGateway;
let redis: Redis;
const authenticator = new SoftAuthenticator(RP_ID, ORIGIN);

beforeAll(async () => {
  gw = await startTestGateway({
    VIGIL_WEBAUTHN_RP_ID: RP_ID,
    VIGIL_WEBAUTHN_ORIGINS: `${ORIGIN},https://vigil.test`,
    VIGIL_MFA_PROOF_MAX_AGE_SECONDS: '6',
    VIGIL_LOGIN_PER_IP: '1000',
    VIGIL_LOGIN_PER_IDENTIFIER: '1000',
    // Low, so a lockout keyed on a credential id would show.
    VIGIL_LOCKOUT_MAX_FAILURES: '3',
  });
  redis = new Redis(gw.config.REDIS_URL, { keyPrefix: gw.config.REDIS_PREFIX });
});
afterAll(async () => {
  redis?.disconnect();
  await gw?.close();
});

const call = jsonCaller(() => gw.url);

const PASSWORD = 'correct horse battery';
let users = 0;
const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, any>;

async function newAccount() {
  const username = `pk${process.pid}x${++users}`;
  expect((await call('POST', '/v1/accounts', { username, password: PASSWORD })).status).toBe(201);
  const login = await call('POST', '/v1/sessions', { identifier: username, password: PASSWORD });
  expect(login.status).toBe(201);
  return { username, token: login.body.accessToken as string, userId: login.body.user.id as string };
}

async function registrationOptions(token: string) {
  const res = await call('POST', '/v1/passkeys/registration-options', undefined, token);
  expect(res.status).toBe(200);
  return res.body.options as { challenge: string; user: { id: string }; rp: { id: string } };
}

/** A new account holding one registered passkey. */
async function withPasskey(name = 'laptop') {
  const account = await newAccount();
  const { credential, response } = authenticator.create(await registrationOptions(account.token));
  const added = await call('POST', '/v1/passkeys', { name, response }, account.token);
  expect(added.status).toBe(201);
  return { ...account, credential };
}

async function loginOptions() {
  const res = await call('POST', '/v1/sessions/passkey/options');
  expect(res.status).toBe(200);
  return res.body.options as { challenge: string; allowCredentials?: unknown[] };
}

const list = async (token: string) =>
  (await call('GET', '/v1/passkeys', undefined, token)).body.passkeys as Array<Record<string, any>>;
const storedCounter = async (token: string, id: string) => (await list(token)).find((p) => p.id === id)?.lastUsedAt;

describe('passkeys', () => {
  it('registers a named, discoverable passkey and logs in with it username-less, like any other login', async () => {
    const account = await newAccount();
    const options = await registrationOptions(account.token);
    expect(options.rp.id).toBe(RP_ID);
    expect(options).toMatchObject({ authenticatorSelection: { residentKey: 'required', userVerification: 'required' } });
    const { credential, response } = authenticator.create(options);
    const added = await call('POST', '/v1/passkeys', { name: 'work laptop', response }, account.token);
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({
      id: credential.id,
      name: 'work laptop',
      backupEligible: true,
      backedUp: true,
      transports: ['internal'],
    });

    const login = await call('POST', '/v1/sessions/passkey', {
      response: authenticator.get(credential, await loginOptions()),
      device: { id: 'phone-pk-1', platform: 'ios' },
    });
    expect(login.status).toBe(201);
    expect(login.body.user.id).toBe(account.userId);
    expect(claims(login.body.accessToken).amr).toEqual(['hwk', 'user', 'mfa']);
    const token = login.body.accessToken as string;
    expect((await list(token))[0]).toMatchObject({ id: credential.id, lastUsedAt: expect.any(String) });
    const devices = (await call('GET', '/v1/devices', undefined, token)).body.devices as Array<{ id: string }>;
    expect(devices.map((d) => d.id)).toContain('phone-pk-1');
    const audit = (await call('GET', '/v1/accounts/me/audit', undefined, token)).body.events as Array<Record<string, any>>;
    expect(audit.find((e) => e.event === 'login.succeeded')?.detail).toEqual({ method: 'passkey' });
    expect(audit.some((e) => e.event === 'mfa.passkey_added')).toBe(true);

    // A second named passkey; rename one, delete the other.
    const second = authenticator.create(await registrationOptions(token));
    expect((await call('POST', '/v1/passkeys', { name: 'phone', response: second.response }, token)).status).toBe(201);
    expect((await call('PATCH', `/v1/passkeys/${credential.id}`, { name: 'old laptop' }, token)).body.name).toBe('old laptop');
    expect((await call('DELETE', `/v1/passkeys/${second.credential.id}`, undefined, token)).status).toBe(200);
    expect((await list(token)).map((p) => p.name)).toEqual(['old laptop']);
    expect((await call('GET', '/v1/mfa', undefined, token)).body).toMatchObject({ passkeys: 1, methods: ['passkey'] });
  });

  it('refuses each bad registration with its catalogued code, naming the field, and stores nothing', async () => {
    const { token } = await newAccount();
    const attempt = async (mutate: (r: any) => void, overrides = {}) => {
      const { response } = authenticator.create(await registrationOptions(token), overrides);
      mutate(response);
      return call('POST', '/v1/passkeys', { name: 'x', response }, token);
    };
    const garbled = await attempt((r) => (r.response.attestationObject = 'AAAA'));
    expect(garbled.body.error.code).toBe('PASSKEY_RESPONSE_MALFORMED');
    expect(garbled.body.error.details[0].field).toBe('/response/response/attestationObject');
    const notJson = await attempt((r) => (r.response.clientDataJSON = Buffer.from('{nope').toString('base64url')));
    expect(notJson.body.error).toMatchObject({
      code: 'PASSKEY_RESPONSE_MALFORMED',
      details: [{ field: '/response/response/clientDataJSON' }],
    });
    expect((await attempt(() => {}, { origin: 'https://evil.example' })).body.error.code).toBe('PASSKEY_ORIGIN_MISMATCH');
    expect((await attempt(() => {}, { rpId: 'evil.example' })).body.error.code).toBe('PASSKEY_RP_ID_MISMATCH');
    expect((await attempt(() => {}, { type: 'webauthn.get' })).body.error.code).toBe('PASSKEY_RESPONSE_MALFORMED');
    const schema = await call('POST', '/v1/passkeys', { name: 'x', response: { id: 'short' } }, token);
    expect(schema.status).toBe(400);
    expect(schema.body.error.code).toBe('VALIDATION_FAILED');

    // Expired: the challenge lives in Redis with a TTL; let it lapse, then answer it.
    const late = await registrationOptions(token);
    const key = `webauthn:challenge:${late.challenge}`;
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120);
    await redis.pexpire(key, 1);
    while ((await redis.exists(key)) === 1) await new Promise((r) => setTimeout(r, 5));
    const expired = await call('POST', '/v1/passkeys', { name: 'c', response: authenticator.create(late).response }, token);
    expect(expired.body.error.code).toBe('PASSKEY_CHALLENGE_INVALID');
    expect(await list(token)).toEqual([]);

    // Reused: the same options answered twice (the second by a fresh key pair, as a replaying client would).
    const first = authenticator.create(await registrationOptions(token));
    expect((await call('POST', '/v1/passkeys', { name: 'a', response: first.response }, token)).status).toBe(201);
    const proven = await call('POST', '/v1/sessions/passkey', {
      response: authenticator.get(first.credential, await loginOptions()),
    });
    const mfaToken = proven.body.accessToken as string;
    const options = await registrationOptions(mfaToken);
    expect(
      (await call('POST', '/v1/passkeys', { name: 'b', response: authenticator.create(options).response }, mfaToken)).status,
    ).toBe(201);
    const reused = await call('POST', '/v1/passkeys', { name: 'c', response: authenticator.create(options).response }, mfaToken);
    expect(reused.body.error.code).toBe('PASSKEY_CHALLENGE_INVALID');
    expect((await list(token)).map((p) => p.name)).toEqual(['a', 'b']);
  });

  it('refuses each bad assertion with its catalogued code, and a refused login changes nothing', async () => {
    const { token, credential } = await withPasskey();
    const tryLogin = async (overrides = {}, mutate: (r: any) => void = () => {}) => {
      const response = authenticator.get(credential, await loginOptions(), overrides);
      mutate(response);
      return call('POST', '/v1/sessions/passkey', { response });
    };
    expect((await tryLogin({ origin: 'https://app.vigil.test.evil.example' })).body.error.code).toBe('PASSKEY_ORIGIN_MISMATCH');
    expect((await tryLogin({ rpId: 'evil.example' })).body.error.code).toBe('PASSKEY_RP_ID_MISMATCH');
    expect((await tryLogin({ corruptSignature: true })).body.error.code).toBe('PASSKEY_VERIFICATION_FAILED');
    const garbled = await tryLogin({}, (r) => (r.response.authenticatorData = 'AAAA'));
    expect(garbled.body.error).toMatchObject({
      code: 'PASSKEY_RESPONSE_MALFORMED',
      details: [{ field: '/response/response/authenticatorData' }],
    });
    expect((await tryLogin({ type: 'webauthn.create' })).body.error.code).toBe('PASSKEY_RESPONSE_MALFORMED');
    expect((await tryLogin({}, (r) => (r.id = r.rawId = 'A'.repeat(22)))).body.error.code).toBe('PASSKEY_UNKNOWN');

    expect((await list(token))[0]?.lastUsedAt).toBeUndefined(); // nothing recorded by a refused login

    // Reused challenge: a captured assertion replayed.
    const options = await loginOptions();
    const assertion = authenticator.get(credential, options);
    expect((await call('POST', '/v1/sessions/passkey', { response: assertion })).status).toBe(201);
    const replayed = await call('POST', '/v1/sessions/passkey', { response: assertion });
    expect(replayed.body.error.code).toBe('PASSKEY_CHALLENGE_INVALID');

    // Expired challenge.
    const late = await loginOptions();
    const key = `webauthn:challenge:${late.challenge}`;
    expect(await redis.ttl(key)).toBeGreaterThan(0);
    await redis.pexpire(key, 1);
    while ((await redis.exists(key)) === 1) await new Promise((r) => setTimeout(r, 5));
    expect((await call('POST', '/v1/sessions/passkey', { response: authenticator.get(credential, late) })).body.error.code).toBe(
      'PASSKEY_CHALLENGE_INVALID',
    );
  });

  it('refuses and audits a signature counter going backwards (a cloned authenticator), keeping the stored counter', async () => {
    const { credential } = await withPasskey();
    const first = await call('POST', '/v1/sessions/passkey', {
      response: authenticator.get(credential, await loginOptions(), { counter: 10 }),
    });
    expect(first.status).toBe(201);
    const token = first.body.accessToken as string;
    const lastUsed = await storedCounter(token, credential.id);
    // The clone signs with the same key but its counter lags behind.
    const clone = await call('POST', '/v1/sessions/passkey', {
      response: authenticator.get(credential, await loginOptions(), { counter: 7 }),
    });
    expect(clone.status).toBe(401);
    expect(clone.body.error.code).toBe('PASSKEY_COUNTER_REGRESSED');
    const same = await call('POST', '/v1/sessions/passkey', {
      response: authenticator.get(credential, await loginOptions(), { counter: 10 }),
    });
    expect(same.body.error.code).toBe('PASSKEY_COUNTER_REGRESSED');
    expect(await storedCounter(token, credential.id)).toBe(lastUsed);
    const audit = (await call('GET', '/v1/accounts/me/audit', undefined, token)).body.events as Array<Record<string, any>>;
    expect(audit.filter((e) => e.event === 'passkey.counter_regressed').map((e) => e.detail)).toEqual([
      { credentialId: credential.id, stored: 10, presented: 10 },
      { credentialId: credential.id, stored: 10, presented: 7 },
    ]);
    // The genuine authenticator, ahead of the stored counter, still logs in.
    expect(
      (
        await call('POST', '/v1/sessions/passkey', {
          response: authenticator.get(credential, await loginOptions(), { counter: 11 }),
        })
      ).status,
    ).toBe(201);
  });

  it('lets one of two assertions with the same counter through when they race (a clone used at the same moment)', async () => {
    const doubled: string[] = [];
    for (let round = 0; round < 6; round++) {
      const { credential } = await withPasskey();
      const [a, b] = [await loginOptions(), await loginOptions()];
      const answers = await Promise.all(
        [a, b].map((options) =>
          call('POST', '/v1/sessions/passkey', { response: authenticator.get(credential, options, { counter: 5 }) }),
        ),
      );
      const statuses = answers.map((r) => r.status).sort();
      if (statuses.join() !== '201,401') doubled.push(`round ${round}: ${statuses.join('/')}`);
    }
    expect(doubled).toEqual([]);
  });

  it('a password-only session made before the first factor can neither add another factor nor remove one', async () => {
    // The thief logged in with the password while the account had no factor; then the owner added a passkey.
    const { token: thief, credential } = await withPasskey();
    const options = await call('POST', '/v1/passkeys/registration-options', undefined, thief);
    expect(options.body.error.code).toBe('MFA_FACTOR_PROOF_REQUIRED');
    expect((await call('DELETE', `/v1/passkeys/${credential.id}`, undefined, thief)).body.error.code).toBe(
      'MFA_FACTOR_PROOF_REQUIRED',
    );
    expect((await call('POST', '/v1/mfa/totp', undefined, thief)).body.error.code).toBe('MFA_FACTOR_PROOF_REQUIRED');
    // The owner, logged in with the passkey, can.
    const owner = await call('POST', '/v1/sessions/passkey', { response: authenticator.get(credential, await loginOptions()) });
    expect((await call('POST', '/v1/mfa/totp', undefined, owner.body.accessToken)).status).toBe(200);
    expect((await call('DELETE', `/v1/passkeys/${credential.id}`, undefined, owner.body.accessToken)).status).toBe(200);
  });

  it("a stranger's failed assertions for someone's credential id do not lock its owner out", async () => {
    const victim = await withPasskey();
    // The credential id is no secret (MFA options list it to whoever knows the password).
    for (let i = 0; i < 6; i++) {
      const forged = authenticator.get(victim.credential, await loginOptions(), { corruptSignature: true, counter: 100 + i });
      expect((await call('POST', '/v1/sessions/passkey', { response: forged })).body.error.code).toBe(
        'PASSKEY_VERIFICATION_FAILED',
      );
    }
    const owner = await call('POST', '/v1/sessions/passkey', {
      response: authenticator.get(victim.credential, await loginOptions()),
    });
    expect(owner.status).toBe(201);
    expect(owner.body.user.id).toBe(victim.userId);
  });

  it('records the backup state each login reports, is erased with the account, and the test page is not served', async () => {
    const { token, credential, userId } = await withPasskey();
    expect((await list(token))[0]).toMatchObject({ backupEligible: true, backedUp: true });
    const login = await call('POST', '/v1/sessions/passkey', {
      response: authenticator.get(credential, await loginOptions(), { backedUp: false }),
    });
    expect((await list(login.body.accessToken))[0]).toMatchObject({ backupEligible: true, backedUp: false });
    expect((await call('POST', '/v1/accounts/me/withdraw', { password: PASSWORD }, login.body.accessToken)).status).toBe(200);
    const mongo = await MongoClient.connect(gw.config.MONGO_URL);
    try {
      expect(await mongo.db(gw.config.MONGO_DB).collection('passkeys').countDocuments({ userId })).toBe(0);
    } finally {
      await mongo.close();
    }
    // Without VIGIL_WEBAUTHN_TEST_PAGE the browser test page does not exist.
    expect((await fetch(`${gw.url}/test/passkeys`)).status).toBe(404);
  });

  it('a stolen access token of an old login can neither add a passkey nor delete one', async () => {
    const { token, credential } = await withPasskey();
    await new Promise((r) => setTimeout(r, 6_100)); // the login is now older than VIGIL_MFA_PROOF_MAX_AGE_SECONDS
    const options = await call('POST', '/v1/passkeys/registration-options', undefined, token);
    expect(options.body.error.code).toBe('MFA_PROOF_STALE');
    const removed = await call('DELETE', `/v1/passkeys/${credential.id}`, undefined, token);
    expect(removed.body.error.code).toBe('MFA_PROOF_STALE');
    expect((await list(token)).map((p) => p.id)).toEqual([credential.id]);
  });

  it("a second account can neither use another session's registration challenge nor touch another account's passkey", async () => {
    const victim = await withPasskey();
    // The attacker holds an account of their own, fully proven (its own passkey).
    const attackerAccount = await withPasskey('attacker key');
    const attackerLogin = await call('POST', '/v1/sessions/passkey', {
      response: authenticator.get(attackerAccount.credential, await loginOptions()),
    });
    const attacker = { token: attackerLogin.body.accessToken as string };
    // The victim's registration options, answered from the attacker's session.
    const victimSession = await call('POST', '/v1/sessions/passkey', {
      response: authenticator.get(victim.credential, await loginOptions()),
    });
    const stolen = await registrationOptions(victimSession.body.accessToken);
    const planted = await call(
      'POST',
      '/v1/passkeys',
      { name: 'mine', response: authenticator.create(stolen).response },
      attacker.token,
    );
    expect(planted.body.error.code).toBe('PASSKEY_CHALLENGE_INVALID');
    // The victim's credential id, from the attacker's account.
    expect((await call('PATCH', `/v1/passkeys/${victim.credential.id}`, { name: 'pwned' }, attacker.token)).body.error.code).toBe(
      'PASSKEY_NOT_FOUND',
    );
    expect((await call('DELETE', `/v1/passkeys/${victim.credential.id}`, undefined, attacker.token)).body.error.code).toBe(
      'PASSKEY_NOT_FOUND',
    );
    // The victim's credential id claimed by the attacker's own authenticator (its own key), over its own challenge.
    const hijack = authenticator.create(await registrationOptions(attacker.token), { credentialId: victim.credential.id });
    expect(
      (await call('POST', '/v1/passkeys', { name: 'copy', response: hijack.response }, attacker.token)).body.error.code,
    ).toBe('PASSKEY_ALREADY_REGISTERED');
    // The victim's passkey still logs the victim in (its key was not replaced).
    const victimLogin = await call('POST', '/v1/sessions/passkey', {
      response: authenticator.get(victim.credential, await loginOptions()),
    });
    expect(victimLogin.body.user.id).toBe(victim.userId);
    // A login challenge cannot register a passkey.
    const loginChallenge = await loginOptions();
    const crossPurpose = authenticator.create({ challenge: loginChallenge.challenge, user: { id: 'x' } });
    expect(
      (await call('POST', '/v1/passkeys', { name: 'x', response: crossPurpose.response }, attacker.token)).body.error.code,
    ).toBe('PASSKEY_CHALLENGE_INVALID');
    expect((await list(victim.token)).map((p) => p.name)).toEqual(['laptop']);
    expect((await list(attacker.token)).map((p) => p.name)).toEqual(['attacker key']);
  });

  it('is the second step for an account with a passkey: only its own passkey, over a challenge bound to that ticket', async () => {
    const owner = await withPasskey();
    const other = await withPasskey();
    const step1 = async () => {
      const res = await call('POST', '/v1/sessions', { identifier: owner.username, password: PASSWORD });
      expect(res.status).toBe(202);
      expect(res.body.mfa.methods).toEqual(['passkey']);
      return res.body.mfa.ticket as string;
    };
    const mfaOptions = async (ticket: string) => {
      const res = await call('POST', '/v1/sessions/mfa/passkey-options', { ticket });
      expect(res.status).toBe(200);
      return res.body.options as { challenge: string; allowCredentials: Array<{ id: string }> };
    };
    const ticket = await step1();
    const options = await mfaOptions(ticket);
    expect(options.allowCredentials.map((c) => c.id)).toEqual([owner.credential.id]);
    // Another account's passkey (discoverable, valid signature) cannot answer this account's ticket.
    const foreign = await call('POST', '/v1/sessions/mfa', { ticket, passkey: authenticator.get(other.credential, options) });
    expect(foreign.body.error.code).toBe('PASSKEY_UNKNOWN');
    expect((await list(other.token))[0]?.lastUsedAt).toBeUndefined(); // nothing recorded on the other account
    // A challenge of another ticket cannot answer this one.
    const otherTicket = await step1();
    const crossed = await call('POST', '/v1/sessions/mfa', {
      ticket,
      passkey: authenticator.get(owner.credential, await mfaOptions(otherTicket)),
    });
    expect(crossed.body.error.code).toBe('PASSKEY_CHALLENGE_INVALID');
    // A username-less login challenge cannot either.
    const fromLogin = await call('POST', '/v1/sessions/mfa', {
      ticket,
      passkey: authenticator.get(owner.credential, await loginOptions()),
    });
    expect(fromLogin.body.error.code).toBe('PASSKEY_CHALLENGE_INVALID');
    const done = await call('POST', '/v1/sessions/mfa', {
      ticket,
      passkey: authenticator.get(owner.credential, await mfaOptions(ticket)),
    });
    expect(done.status).toBe(201);
    expect(claims(done.body.accessToken).amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
  });

  it('a passkey registered before holder markers existed still makes a password login two steps after a start (no second factor skipped)', async () => {
    const owner = await withPasskey();
    // What an older gateway leaves: the passkey without its holder marker. Read that way, the login
    // would skip the second factor: that is the attack the start-up back-fill closes.
    const mongo = new MongoClient(gw.config.MONGO_URL);
    await mongo.connect();
    try {
      await mongo
        .db(gw.config.MONGO_DB)
        .collection('passkey_holders')
        .deleteOne({ _id: owner.userId as never });
      const skipped = await call('POST', '/v1/sessions', { identifier: owner.username, password: PASSWORD });
      expect(skipped.status).toBe(201);
      const restarted = await startGateway(gw.config, { listen: false });
      await restarted.close();
      const res = await call('POST', '/v1/sessions', { identifier: owner.username, password: PASSWORD });
      expect(res.status).toBe(202);
      expect(res.body.mfa.methods).toEqual(['passkey']);
    } finally {
      await mongo.close();
    }
  });
});
