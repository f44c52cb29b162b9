import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { signUpMember, type Member } from './support/accounts.ts';
import { startFuzzGateway } from './support/fuzz-gateway.ts';

// One-time codes against guessing. test/identity/codes.test.ts shows five sequential wrong
// guesses kill a code; here the guesses come all at once, and through every endpoint that checks
// the same code (core verify, core code login, legacy C's SMS login, legacy E's sms_auth_res),
// and the resend and per-IP caps bound what a guesser gets in total.
const MAX_ATTEMPTS = 5;
let gw: TestGateway;
let member: Member;

beforeAll(async () => {
  gw = await startFuzzGateway({ VIGIL_CODE_MAX_ATTEMPTS: String(MAX_ATTEMPTS), VIGIL_LOCKOUT_MAX_FAILURES: '1000' });
  member = await signUpMember(gw.url, 'otp');
});
afterAll(async () => {
  await gw?.close();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function post(path: string, body: unknown, url = gw.url): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function latestCode(to: string, count: number): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const messages = (await (await fetch(`${gw.url}/v1/dev/outbox?to=${encodeURIComponent(to)}`)).json()) as Array<{
      text: string;
    }>;
    if (messages.length >= count) return /\b(\d{6})\b/.exec(messages.at(-1)!.text)![1]!;
    if (Date.now() > deadline) throw new Error(`no code for ${to}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let sent = 0;
async function freshCode(purpose: 'login' | 'verify'): Promise<string> {
  expect((await post('/v1/codes', { channel: 'sms', to: member.phone, purpose })).status).toBe(202);
  return latestCode(member.phone, ++sent);
}

/** Six digits that are not `code`. */
const wrong = (code: string, i: number) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0');
const errorCode = (a: Answer) => (a.body.error as { code?: string } | undefined)?.code;
const attemptsLeft = (a: Answer) => ((a.body.error as { details?: unknown[] } | undefined)?.details ?? []).length > 0;

describe('one-time codes under brute force', () => {
  it(`evaluates at most ${MAX_ATTEMPTS} of 60 concurrent guesses, and the right code is dead after them`, async () => {
    const code = await freshCode('login');
    const guesses = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        post('/v1/codes/verify', { channel: 'sms', to: member.phone, purpose: 'login', code: wrong(code, i) }),
      ),
    );
    // Attempts are reserved atomically before comparing: 4 "wrong, n left", then exhausted/gone.
    expect(guesses.filter(attemptsLeft)).toHaveLength(MAX_ATTEMPTS - 1);
    expect(guesses.filter((g) => errorCode(g) === 'CODE_EXHAUSTED').length).toBeGreaterThanOrEqual(1);
    expect(guesses.every((g) => g.status === 400)).toBe(true);
    const right = await post('/v1/codes/verify', { channel: 'sms', to: member.phone, purpose: 'login', code });
    expect(errorCode(right)).toBe('CODE_INVALID');
  });

  it('counts guesses from every endpoint that checks the same login code against one cap', async () => {
    const code = await freshCode('login');
    // 2 by core code login, 2 by legacy C's SMS login, 1 by core verify: five, concurrently.
    await Promise.all([
      post('/v1/sessions', { phone: member.phone, code: wrong(code, 1) }),
      post('/v1/sessions', { phone: member.phone, code: wrong(code, 2) }),
      post('/api/token/', { mobile: member.phone, token: wrong(code, 3) }),
      post('/api/token/', { mobile: member.phone, token: wrong(code, 4) }),
      post('/v1/codes/verify', { channel: 'sms', to: member.phone, purpose: 'login', code: wrong(code, 5) }),
    ]);
    for (const attempt of [
      () => post('/v1/sessions', { phone: member.phone, code }),
      () => post('/api/token/', { mobile: member.phone, token: code }),
    ]) {
      const answer = await attempt();
      expect(answer.status).not.toBe(200);
      expect(answer.status).not.toBe(201);
    }
  });

  it("counts legacy E's sms_auth_res guesses against the core verify code of the same phone", async () => {
    const code = await freshCode('verify');
    await Promise.all(
      Array.from({ length: MAX_ATTEMPTS }, (_, i) =>
        post('/api/v1/auth/sms_auth_res', { num: member.phone, auth_num: wrong(code, i) }),
      ),
    );
    const right = await post('/v1/codes/verify', { channel: 'sms', to: member.phone, purpose: 'verify', code });
    expect(errorCode(right)).toBe('CODE_INVALID');
  });
});

describe('what a guesser gets in total', () => {
  let capped: TestGateway;
  let victim: Member;
  const PER_DESTINATION = 3;
  const VERIFY_PER_IP = 40;

  beforeAll(async () => {
    capped = await startFuzzGateway({
      VIGIL_CODE_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      VIGIL_CODE_HOURLY_PER_DESTINATION: String(PER_DESTINATION),
      VIGIL_CODE_VERIFY_PER_IP_HOURLY: String(VERIFY_PER_IP),
    });
    victim = await signUpMember(capped.url, 'cap');
  });
  afterAll(async () => {
    await capped?.close();
  });

  it(`fresh codes do not buy unlimited guesses: ${PER_DESTINATION} codes an hour per destination, ${VERIFY_PER_IP} checks an hour per IP`, async () => {
    const requests = await Promise.all(
      Array.from({ length: 10 }, () => post('/v1/codes', { channel: 'sms', to: victim.phone, purpose: 'login' }, capped.url)),
    );
    expect(requests.filter((r) => r.status === 202)).toHaveLength(PER_DESTINATION);
    expect(
      requests.filter((r) => r.status === 429).every((r) => errorCode(r) === 'RATE_LIMITED' || errorCode(r) === 'CODE_COOLDOWN'),
    ).toBe(true);
    // The per-IP verify cap holds under a concurrent burst too: exactly that many are looked at.
    const guesses = await Promise.all(
      Array.from({ length: VERIFY_PER_IP + 20 }, (_, i) =>
        post(
          '/v1/codes/verify',
          { channel: 'sms', to: victim.phone, purpose: 'login', code: String(i).padStart(6, '0') },
          capped.url,
        ),
      ),
    );
    expect(guesses.filter((g) => g.status === 429)).toHaveLength(20);
    expect(guesses.filter((g) => g.status === 400)).toHaveLength(VERIFY_PER_IP);
  });
});
