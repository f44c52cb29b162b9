import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../../protocol/errors.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { bearer, errorCode, json, sleep } from './support.ts';

// Login over real HTTP against a gateway with real identity, Redis and FerretDB: accounts are
// signed up through POST /v1/accounts, codes read from the dev outbox.
// Long enough that a loaded machine's slow requests cannot outlast it between the failures and the check.
const LOCK_SECONDS = 4;
const PER_IDENTIFIER = 5;
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    VIGIL_BCRYPT_COST: '10', // the timing test below compares bcrypt-dominated answers
    VIGIL_DEV_OUTBOX: '1',
    VIGIL_LOGIN_PER_IDENTIFIER: String(PER_IDENTIFIER),
    VIGIL_LOGIN_PER_IP: '1000',
    VIGIL_LOCKOUT_MAX_FAILURES: '3',
    VIGIL_LOCKOUT_SECONDS: String(LOCK_SECONDS),
    VIGIL_CODE_RESEND_SECONDS: '0',
  });
});
afterAll(async () => {
  await gw?.close();
});

interface LoginReply {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  expiresIn: number;
  user: { id: string; username?: string; email?: string };
}

let counter = 0;
async function signUp(
  extra: Record<string, unknown> = {},
): Promise<{ id: string; username: string; email: string; password: string }> {
  const n = `${Date.now().toString(36)}${counter++}`;
  const account = { username: `user${n}`, email: `user${n}@example.com`, password: 'correct horse battery', ...extra };
  const res = await fetch(`${gw.url}/v1/accounts`, json(account));
  expect(res.status).toBe(201);
  const body = (await res.json()) as { account?: { id: string }; id?: string };
  return { ...account, id: body.account?.id ?? body.id! };
}

const login = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/v1/sessions`, json(body, headers));

async function loginOk(body: Record<string, unknown>): Promise<LoginReply> {
  const res = await login(body);
  expect(res.status).toBe(201);
  return (await res.json()) as LoginReply;
}

async function codeFromOutbox(to: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const messages = (await (await fetch(`${gw.url}/v1/dev/outbox?to=${encodeURIComponent(to)}`)).json()) as Array<{
      text: string;
    }>;
    const last = messages.at(-1);
    const code = last?.text.match(/\b(\d{6})\b/)?.[1];
    if (code) return code;
    await sleep(50);
  }
  throw new Error(`no code arrived for ${to}`);
}

describe('password login', () => {
  it('logs in by username or email and returns tokens that work', async () => {
    const account = await signUp();
    const byName = await loginOk({ identifier: account.username, password: account.password });
    expect(byName).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, user: { id: account.id, email: account.email } });
    const byEmail = await loginOk({ identifier: account.email.toUpperCase(), password: account.password });
    expect(byEmail.sessionId).not.toBe(byName.sessionId);

    const me = await fetch(`${gw.url}/v1/accounts/me`, { headers: bearer(byEmail.accessToken) });
    expect(me.status).toBe(200);
    const sessions = (await (await fetch(`${gw.url}/v1/sessions`, { headers: bearer(byName.accessToken) })).json()) as {
      sessions: unknown[];
    };
    expect(sessions.sessions).toHaveLength(2);

    // The whole life of a session over HTTP: refresh, then log out.
    const refreshed = await fetch(`${gw.url}/v1/sessions/refresh`, json({ refreshToken: byName.refreshToken }));
    const pair = (await refreshed.json()) as LoginReply;
    expect(refreshed.status).toBe(200);
    const out = await fetch(`${gw.url}/v1/sessions/current`, { method: 'DELETE', headers: bearer(pair.accessToken) });
    expect(await out.json()).toEqual({ revoked: 1 });
    expect(await errorCode(await fetch(`${gw.url}/v1/sessions`, { headers: bearer(pair.accessToken) }))).toBe('TOKEN_REVOKED');
  });

  it('answers an unknown identifier exactly like a wrong password, in about the same time', async () => {
    const accounts = await Promise.all([signUp(), signUp(), signUp()]);
    const timed = async (body: Record<string, unknown>) => {
      const started = performance.now();
      const res = await login(body);
      const ms = performance.now() - started;
      const error = ((await res.json()) as ErrorBody).error;
      return { status: res.status, code: error.code, message: error.message, ms };
    };
    const wrong: Awaited<ReturnType<typeof timed>>[] = [];
    const unknown: Awaited<ReturnType<typeof timed>>[] = [];
    for (let round = 0; round < 2; round++) {
      for (const [i, account] of accounts.entries()) {
        wrong.push(await timed({ identifier: account.username, password: 'not the password' }));
        unknown.push(await timed({ identifier: `nobody${round}${i}${Date.now()}`, password: 'not the password' }));
      }
    }
    for (const answer of [...wrong, ...unknown]) {
      expect({ status: answer.status, code: answer.code, message: answer.message }).toEqual({
        status: 401,
        code: 'LOGIN_FAILED',
        message: 'The identifier or password is wrong',
      });
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const a = median(wrong.map((x) => x.ms));
    const b = median(unknown.map((x) => x.ms));
    // Both spend one bcrypt comparison; the difference is a database lookup, not a hash.
    expect(Math.abs(a - b)).toBeLessThan(Math.max(a, b) * 0.5);
  });

  it('locks an identifier after repeated failures, refuses even the right password, and unlocks after the lock', async () => {
    const account = await signUp();
    for (let i = 0; i < 3; i++) {
      expect(await errorCode(await login({ identifier: account.username, password: 'wrong' }))).toBe('LOGIN_FAILED');
    }
    const locked = await login({ identifier: account.username, password: account.password });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await errorCode(locked)).toBe('LOGIN_LOCKED');
    // An identifier nobody has locks the same way (the lock reveals nothing).
    for (let i = 0; i < 3; i++) await login({ identifier: 'ghost-user', password: 'wrong' });
    expect(await errorCode(await login({ identifier: 'ghost-user', password: 'wrong' }))).toBe('LOGIN_LOCKED');

    await sleep(LOCK_SECONDS * 1000 + 300);
    await loginOk({ identifier: account.username, password: account.password });
  });

  it('lets exactly the per-identifier limit of concurrent attempts through to bcrypt', async () => {
    const account = await signUp();
    const answers = await Promise.all(
      Array.from({ length: 15 }, () => login({ identifier: account.email, password: 'wrong password' })),
    );
    const codes = await Promise.all(answers.map((res) => errorCode(res)));
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(15 - PER_IDENTIFIER);
    expect(codes.filter((c) => c === 'LOGIN_FAILED')).toHaveLength(PER_IDENTIFIER);
    const limited = answers.find((res) => res.status === 429)!;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Only the admitted attempts were checked (and audited as wrong credentials).
    const audit = await gw.gateway.mongo.db.collection('audit').countDocuments({ userId: account.id, event: 'login.failed' });
    expect(audit).toBe(PER_IDENTIFIER);
  });

  it('names what is missing or extra in a login body', async () => {
    const missing = await login({ identifier: 'someone' });
    expect(missing.status).toBe(400);
    const details = ((await missing.json()) as ErrorBody).error.details!;
    expect(details.map((d) => d.field)).toEqual(['password']);
    const mixed = await login({ identifier: 'someone', password: 'x', code: '123456' });
    expect(((await mixed.json()) as ErrorBody).error.details!.map((d) => d.field)).toEqual(['code']);
    const empty = await login({});
    expect(await errorCode(empty)).toBe('VALIDATION_FAILED');
  });
});

describe('one-time code login', () => {
  it('logs in with an emailed code, and the code works once', async () => {
    const account = await signUp();
    const sent = await fetch(`${gw.url}/v1/codes`, json({ channel: 'email', to: account.email, purpose: 'login' }));
    expect(sent.status).toBe(202);
    const code = await codeFromOutbox(account.email);
    const reply = await loginOk({ email: account.email, code });
    expect(reply.user.id).toBe(account.id);
    expect(await errorCode(await login({ email: account.email, code }))).toBe('CODE_INVALID');
  });

  it('logs in with a texted code to a phone given in national format', async () => {
    const phone = `010${String(Date.now()).slice(-8)}`;
    const account = await signUp({ phone });
    await fetch(`${gw.url}/v1/codes`, json({ channel: 'sms', to: phone, purpose: 'login' }));
    const code = await codeFromOutbox(`+82${phone.slice(1)}`);
    expect((await loginOk({ phone, code })).user.id).toBe(account.id);
  });

  it('logs in with a ticket from POST /v1/codes/verify', async () => {
    const account = await signUp();
    await fetch(`${gw.url}/v1/codes`, json({ channel: 'email', to: account.email, purpose: 'login' }));
    const code = await codeFromOutbox(account.email);
    const verified = await fetch(
      `${gw.url}/v1/codes/verify`,
      json({ channel: 'email', to: account.email, purpose: 'login', code }),
    );
    const { ticket } = (await verified.json()) as { ticket: string };
    expect((await loginOk({ ticket })).user.id).toBe(account.id);
    expect(await errorCode(await login({ ticket }))).toBe('TICKET_INVALID');
  });

  it('refuses a wrong code and counts it towards the lockout', async () => {
    const account = await signUp();
    await fetch(`${gw.url}/v1/codes`, json({ channel: 'email', to: account.email, purpose: 'login' }));
    // The right code is read first, so the lock (LOCK_SECONDS) is checked right after the failures.
    const code = await codeFromOutbox(account.email);
    for (let i = 0; i < 3; i++) expect((await login({ email: account.email, code: '000000' })).status).toBe(400);
    expect(await errorCode(await login({ email: account.email, code }))).toBe('LOGIN_LOCKED');
  });
});

describe('devices and the audit trail', () => {
  it('registers the device of a login, lists it, and removing it ends its sessions', async () => {
    const account = await signUp();
    const device = {
      id: 'watch-1',
      platform: 'wearos',
      brand: 'Acme',
      model: 'Pulse 2',
      osVersion: '4.0',
      pushToken: 'push-abc',
    };
    const onWatch = await loginOk({ identifier: account.username, password: account.password, device });
    const onPhone = await loginOk({ identifier: account.username, password: account.password });

    const listed = (await (await fetch(`${gw.url}/v1/devices`, { headers: bearer(onPhone.accessToken) })).json()) as {
      devices: Array<Record<string, unknown>>;
    };
    expect(listed.devices).toEqual([
      expect.objectContaining({ id: 'watch-1', platform: 'wearos', model: 'Pulse 2', hasPushToken: true, activeSessions: 1 }),
    ]);
    const sessions = (await (await fetch(`${gw.url}/v1/sessions`, { headers: bearer(onPhone.accessToken) })).json()) as {
      sessions: Array<{ id: string; device?: { id: string } }>;
    };
    expect(sessions.sessions.find((s) => s.id === onWatch.sessionId)?.device).toMatchObject({ id: 'watch-1', brand: 'Acme' });

    const removed = await fetch(`${gw.url}/v1/devices/watch-1`, { method: 'DELETE', headers: bearer(onPhone.accessToken) });
    expect(await removed.json()).toEqual({ removed: true, revokedSessions: 1 });
    expect(await errorCode(await fetch(`${gw.url}/v1/sessions`, { headers: bearer(onWatch.accessToken) }))).toBe('TOKEN_REVOKED');
    expect((await fetch(`${gw.url}/v1/devices/watch-1`, { method: 'DELETE', headers: bearer(onPhone.accessToken) })).status).toBe(
      404,
    );
  });

  it("shows users their own security events, newest first, page by page, and nobody else's", async () => {
    const account = await signUp();
    await login({ identifier: account.username, password: 'wrong' });
    const session = await loginOk({ identifier: account.username, password: account.password });
    await fetch(`${gw.url}/v1/sessions/refresh`, json({ refreshToken: session.refreshToken }));
    const other = await signUp();
    await loginOk({ identifier: other.username, password: other.password });

    const page = async (query: string) =>
      (await (await fetch(`${gw.url}/v1/accounts/me/audit${query}`, { headers: bearer(session.accessToken) })).json()) as {
        events: Array<{ event: string; outcome: string; ip?: string }>;
        next?: string;
      };
    const all = await page('');
    const events = all.events.map((e) => e.event);
    expect(events.slice(0, 3)).toEqual(['token.refreshed', 'login.succeeded', 'login.failed']);
    expect(events).toContain('account.created');
    expect(all.events[0]!.ip).toBe('127.0.0.1');
    expect(JSON.stringify(all)).not.toContain(account.password);

    const first = await page('?limit=2');
    expect(first.events.map((e) => e.event)).toEqual(['token.refreshed', 'login.succeeded']);
    const second = await page(`?limit=2&before=${encodeURIComponent(first.next!)}`);
    expect(second.events[0]!.event).toBe('login.failed');
  });
});
