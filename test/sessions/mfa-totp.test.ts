import { MongoClient } from 'mongodb';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClock } from '../support/clock.ts';
import { jsonCaller } from '../support/json-call.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/**
 * Authenticator apps (TOTP) over real HTTP: setup and confirmation, the two-step login, replay
 * and guessing refused, recovery codes single use, and a stolen access token that cannot strip
 * the factor. Codes come from otplib as an authenticator app would make them.
 */
const MFA_KEYS = `t1:${Buffer.alloc(32, 7).toString('base64')}`;
let gw: TestGateway;
const PROOF_MAX_AGE_SECONDS = 3;
const clock = new TestClock();

beforeAll(async () => {
  gw = await startTestGateway(
    {
      VIGIL_MFA_KEYS: MFA_KEYS,
      VIGIL_MFA_PROOF_MAX_AGE_SECONDS: String(PROOF_MAX_AGE_SECONDS),
      VIGIL_LOGIN_PER_IP: '1000',
      VIGIL_LEGACY_DIALECTS: 'b',
      VIGIL_LEGACY_B_JWT_SECRET: 'b'.repeat(64),
    },
    { clock },
  );
});
afterAll(() => gw?.close());

const call = jsonCaller(() => gw.url);

const PASSWORD = 'correct horse battery';
let users = 0;

/** A new account with a confirmed authenticator app: its secret, recovery codes and a fresh session. */
async function withAuthenticator() {
  const username = `totp${process.pid}x${++users}`;
  expect((await call('POST', '/v1/accounts', { username, password: PASSWORD })).status).toBe(201);
  const login = await call('POST', '/v1/sessions', { identifier: username, password: PASSWORD });
  expect(login.status).toBe(201);
  const token = login.body.accessToken as string;
  const setup = await call('POST', '/v1/mfa/totp', undefined, token);
  expect(setup.status).toBe(200);
  const secret = setup.body.secret as string;
  const confirm = await call('POST', '/v1/mfa/totp/confirm', { code: await generate({ secret }) }, token);
  expect(confirm.status).toBe(200);
  return { username, token, secret, userId: login.body.user.id as string, recoveryCodes: confirm.body.recoveryCodes as string[] };
}

/** Step one of a login of an account with a second factor: the MFA ticket. */
async function firstStep(username: string): Promise<string> {
  const res = await call('POST', '/v1/sessions', { identifier: username, password: PASSWORD });
  expect(res.status).toBe(202);
  expect(res.body).not.toHaveProperty('accessToken');
  expect(res.body.mfa.methods).toEqual(['totp', 'recovery_code']);
  return res.body.mfa.ticket as string;
}

/** The authenticator's code for the next 30 s step, as a phone a little ahead would show. */
const nextCode = (secret: string) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });

describe('authenticator apps (TOTP)', () => {
  it('sets up with an otpauth URI and QR code, confirmed by a first code; the secret is sealed at rest', async () => {
    const username = `setup${process.pid}`;
    await call('POST', '/v1/accounts', { username, password: PASSWORD });
    const token = (await call('POST', '/v1/sessions', { identifier: username, password: PASSWORD })).body.accessToken as string;
    // Setups racing each other (a double click) all answer; the last one is the pending one.
    const raced = await Promise.all(Array.from({ length: 4 }, () => call('POST', '/v1/mfa/totp', undefined, token)));
    expect(raced.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const setup = await call('POST', '/v1/mfa/totp', undefined, token);
    expect(setup.body.uri).toMatch(/^otpauth:\/\/totp\/Vigil:[^?]+\?.*secret=[A-Z2-7]{32}/);
    expect(setup.body.qrSvg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    expect((await call('GET', '/v1/mfa', undefined, token)).body).toEqual({
      totp: { enabled: false, pendingSetup: true },
      recoveryCodesLeft: 0,
      passkeys: 0,
      methods: [],
    });
    expect((await call('POST', '/v1/mfa/totp/confirm', { code: '000000' }, token)).body.error.code).toBe('MFA_CODE_INVALID');
    const confirmed = await call('POST', '/v1/mfa/totp/confirm', { code: await generate({ secret: setup.body.secret }) }, token);
    expect(confirmed.body.recoveryCodes).toHaveLength(10);
    expect((await call('GET', '/v1/mfa', undefined, token)).body).toMatchObject({
      totp: { enabled: true },
      recoveryCodesLeft: 10,
      methods: ['totp', 'recovery_code'],
    });
    // This password-only session predates the factor: it may not start another setup (nor remove this one).
    expect((await call('POST', '/v1/mfa/totp', undefined, token)).body.error.code).toBe('MFA_FACTOR_PROOF_REQUIRED');

    const mongo = await MongoClient.connect(gw.config.MONGO_URL);
    try {
      const raw = JSON.stringify(await mongo.db(gw.config.MONGO_DB).collection('totp_factors').findOne({}));
      expect(raw).not.toContain(setup.body.secret);
      expect(raw).toContain('"sealed"');
    } finally {
      await mongo.close();
    }
  });

  it('logs in in two steps, and refuses the same code a second time (replay)', async () => {
    const { username, secret } = await withAuthenticator();
    const code = await nextCode(secret);
    const done = await call('POST', '/v1/sessions/mfa', { ticket: await firstStep(username), code });
    expect(done.status).toBe(201);
    expect(done.body.accessToken).toMatch(/^ey/);
    // RFC 8176: the token says how its session's login authenticated the user.
    const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { amr?: string[] };
    expect(claims(done.body.accessToken).amr).toEqual(['pwd', 'otp', 'mfa']);
    const refreshed = await call('POST', '/v1/sessions/refresh', { refreshToken: done.body.refreshToken });
    expect(claims(refreshed.body.accessToken).amr).toEqual(['pwd', 'otp', 'mfa']);
    const replay = await call('POST', '/v1/sessions/mfa', { ticket: await firstStep(username), code });
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe('MFA_CODE_INVALID');
  });

  it('takes each recovery code once', async () => {
    const { username, recoveryCodes } = await withAuthenticator();
    const first = await call('POST', '/v1/sessions/mfa', {
      ticket: await firstStep(username),
      recoveryCode: recoveryCodes[3]!.toLowerCase(),
    });
    expect(first.status).toBe(201);
    const again = await call('POST', '/v1/sessions/mfa', { ticket: await firstStep(username), recoveryCode: recoveryCodes[3] });
    expect(again.body.error.code).toBe('MFA_CODE_INVALID');
  });

  it('accepts one code, and one recovery code, once even when presented on two tickets at the same moment', async () => {
    // A thief who watched the code being typed races the owner with it: one login, not two.
    const doubled: string[] = [];
    for (let round = 0; round < 6; round++) {
      const { username, secret, recoveryCodes } = await withAuthenticator();
      const code = await nextCode(secret);
      const tickets = [await firstStep(username), await firstStep(username)];
      const byCode = await Promise.all(tickets.map((ticket) => call('POST', '/v1/sessions/mfa', { ticket, code })));
      const recoveryTickets = [await firstStep(username), await firstStep(username)];
      const byRecovery = await Promise.all(
        recoveryTickets.map((ticket) => call('POST', '/v1/sessions/mfa', { ticket, recoveryCode: recoveryCodes[0] })),
      );
      for (const [what, answers] of [
        ['code', byCode],
        ['recovery code', byRecovery],
      ] as const) {
        const statuses = answers.map((a) => a.status).sort();
        if (statuses.join() !== '201,401') doubled.push(`round ${round}, ${what}: ${statuses.join('/')}`);
      }
    }
    expect(doubled).toEqual([]);
  });

  it('confirms a setup once when two confirmations race, so the recovery codes shown are the ones stored', async () => {
    const doubled: string[] = [];
    for (let round = 0; round < 6; round++) {
      const username = `totpc${process.pid}x${++users}`;
      expect((await call('POST', '/v1/accounts', { username, password: PASSWORD })).status).toBe(201);
      const token = (await call('POST', '/v1/sessions', { identifier: username, password: PASSWORD })).body.accessToken as string;
      const secret = (await call('POST', '/v1/mfa/totp', undefined, token)).body.secret as string;
      const code = await generate({ secret });
      const answers = await Promise.all([0, 1].map(() => call('POST', '/v1/mfa/totp/confirm', { code }, token)));
      const statuses = answers.map((a) => a.status).sort();
      if (statuses.join() !== '200,401') doubled.push(`round ${round}: ${statuses.join('/')}`);
      const shown = answers.find((a) => a.status === 200)?.body.recoveryCodes as string[] | undefined;
      if (shown) {
        const done = await call('POST', '/v1/sessions/mfa', { ticket: await firstStep(username), recoveryCode: shown[0] });
        if (done.status !== 201) doubled.push(`round ${round}: a shown recovery code answered ${done.status}`);
      }
    }
    expect(doubled).toEqual([]);
  });

  it('kills a ticket after five wrong codes, so guessing cannot continue on it', async () => {
    const { username, secret } = await withAuthenticator();
    const ticket = await firstStep(username);
    for (let i = 0; i < 5; i++) {
      expect((await call('POST', '/v1/sessions/mfa', { ticket, code: String(100000 + i) })).body.error.code).toBe(
        'MFA_CODE_INVALID',
      );
    }
    const late = await call('POST', '/v1/sessions/mfa', { ticket, code: await nextCode(secret) });
    expect(late.body.error.code).toBe('MFA_TICKET_INVALID');
  });

  it('caps second-factor answers per account across tickets', async () => {
    const { username } = await withAuthenticator();
    let limited = false;
    for (let round = 0; round < 6 && !limited; round++) {
      const ticket = await firstStep(username);
      for (let i = 0; i < 5; i++) {
        const res = await call('POST', '/v1/sessions/mfa', { ticket, code: String(200000 + round * 10 + i) });
        if (res.status === 429) limited = true;
      }
    }
    expect(limited).toBe(true); // 20 answers per hour by default
  });

  it('refuses a thief with only an old access token: the factor cannot be removed or replaced', async () => {
    const { token } = await withAuthenticator();
    clock.advance((PROOF_MAX_AGE_SECONDS + 1) * 1000); // the login is now older than the proof may be
    const removed = await call('DELETE', '/v1/mfa/totp', undefined, token);
    expect(removed.status).toBe(403);
    expect(removed.body.error.code).toBe('MFA_PROOF_STALE');
    expect((await call('GET', '/v1/mfa', undefined, token)).body.totp.enabled).toBe(true);
  });

  it('refuses the password alone on a legacy dialect, whose old clients cannot take a second step', async () => {
    const { username } = await withAuthenticator();
    const res = await call('POST', '/api/auth/sign-in', { authId: username, password: PASSWORD });
    // B answers every failure with 400 and a Korean message (its document's only failure shape).
    expect(res).toEqual({ status: 400, body: { data: null, error: '2단계 인증이 필요한 사용자' } });
    expect(JSON.stringify(res.body)).not.toMatch(/"token":"ey/);
  });

  it('is erased when the account withdraws', async () => {
    const { userId, token } = await withAuthenticator();
    expect((await call('POST', '/v1/accounts/me/withdraw', { password: PASSWORD }, token)).status).toBe(200);
    const mongo = await MongoClient.connect(gw.config.MONGO_URL);
    try {
      expect(
        await mongo
          .db(gw.config.MONGO_DB)
          .collection('totp_factors')
          .countDocuments({ _id: userId as never }),
      ).toBe(0);
    } finally {
      await mongo.close();
    }
  });

  it('lets the owner remove it after a fresh login, and logins are one step again', async () => {
    const { username, secret } = await withAuthenticator();
    const fresh = await call('POST', '/v1/sessions/mfa', { ticket: await firstStep(username), code: await nextCode(secret) });
    expect((await call('DELETE', '/v1/mfa/totp', undefined, fresh.body.accessToken)).body).toEqual({ removed: true });
    const oneStep = await call('POST', '/v1/sessions', { identifier: username, password: PASSWORD });
    expect(oneStep.status).toBe(201);
    expect(JSON.parse(Buffer.from(oneStep.body.accessToken.split('.')[1], 'base64url').toString()).amr).toEqual(['pwd']);
  });
});
