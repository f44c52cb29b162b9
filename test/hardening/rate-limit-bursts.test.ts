import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { uniquePhone } from './support/accounts.ts';
import { FUZZ_B_SECRET } from './support/fuzz-gateway.ts';

// Abuse limits under concurrent bursts. test/sessions/login.test.ts shows the per-identifier
// login limit lets exactly its number of concurrent attempts through; here: the per-IP sign-up
// limit shared by the core API and every legacy dialect, availability checks, code requests,
// and that a client cannot step around a per-IP limit with X-Forwarded-For unless the operator
// said a proxy sets it (TRUST_PROXY). Every refusal is a catalogued 429 with Retry-After.
const SIGNUPS = 6;
const LIMITS = {
  VIGIL_SIGNUP_PER_IP_HOURLY: String(SIGNUPS),
  VIGIL_AVAILABILITY_PER_IP_PER_MINUTE: '5',
  VIGIL_CODE_HOURLY_PER_IP: '5',
  VIGIL_CODE_RESEND_SECONDS: '0',
  VIGIL_LOGIN_PER_IP: '8',
  VIGIL_LEGACY_DIALECTS: 'a,b,c,d,e',
  VIGIL_LEGACY_B_JWT_SECRET: FUZZ_B_SECRET,
  VIGIL_LEGACY_PASSWORD_MIN_LENGTH: '4',
  VIGIL_DEV_OUTBOX: '1',
};

interface Answer {
  status: number;
  retryAfter: string | null;
  body: unknown;
}

function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  }).then(async (res) => ({ status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() }));
}

const tag = () => randomBytes(4).toString('hex');

describe('per-IP limits under bursts', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway(LIMITS);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it(`lets exactly ${SIGNUPS} of 30 concurrent sign-ups through, counted across the core API and all five dialects`, async () => {
    const password = 'burst password 1';
    const attempts = Array.from({ length: 30 }, (_, i) => {
      const t = tag();
      switch (i % 6) {
        case 0:
          return post(gw.url, '/v1/accounts', { username: `u${t}`, password });
        case 1:
          return post(gw.url, '/server/members/create/', { username: `a${t}`, password });
        case 2:
          return post(gw.url, '/api/auth/sign-up', { authId: `b${t}`, password, name: 'B', email: `b${t}@burst.test` });
        case 3:
          return post(gw.url, '/auth/authentiaction/', { email: `d${t}@burst.test`, password1: password, password2: password });
        case 4:
          return post(gw.url, '/api/v1/auth/signup', { num: uniquePhone(), password });
        default:
          return post(gw.url, '/v1/accounts', { email: `e${t}@burst.test`, password });
      }
    });
    const answers = await Promise.all(attempts);
    // Each dialect refuses in its own envelope (B even with HTTP 400), but every one keeps Retry-After.
    const limited = answers.filter((a) => a.retryAfter !== null);
    expect(limited).toHaveLength(30 - SIGNUPS);
    for (const answer of limited) expect(Number(answer.retryAfter)).toBeGreaterThan(0);
    const admitted = answers.filter((a) => a.retryAfter === null);
    expect(admitted).toHaveLength(SIGNUPS);
    for (const answer of admitted) expect([200, 201]).toContain(answer.status);
  });

  it('caps availability checks and code requests per IP exactly, concurrently', async () => {
    const checks = await Promise.all(
      Array.from({ length: 20 }, () => fetch(`${gw.url}/v1/accounts/availability?username=u${tag()}`).then((r) => r.status)),
    );
    expect(checks.filter((s) => s === 200)).toHaveLength(5);
    expect(checks.filter((s) => s === 429)).toHaveLength(15);
    const codes = await Promise.all(
      Array.from({ length: 20 }, () =>
        post(gw.url, '/v1/codes', { channel: 'email', to: `c${tag()}@burst.test`, purpose: 'signup' }),
      ),
    );
    expect(codes.filter((c) => c.status === 202)).toHaveLength(5);
    expect(codes.filter((c) => c.status === 429)).toHaveLength(15);
  });

  it('ignores X-Forwarded-For unless TRUST_PROXY says a proxy sets it: spoofed addresses share one limit', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        post(
          gw.url,
          '/v1/sessions',
          { identifier: `nobody${i}`, password: 'x' },
          { 'x-forwarded-for': `203.0.113.${i}, 10.0.0.1` },
        ),
      ),
    );
    // The limit is per IP: 8 reach the password check (401), the rest are refused before bcrypt.
    expect(answers.filter((a) => a.status === 401)).toHaveLength(8);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(12);
  });
});

describe('behind a proxy (TRUST_PROXY=1)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ ...LIMITS, TRUST_PROXY: '1' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("limits by the client address the proxy reports (the right-most X-Forwarded-For hop), and a client's own hops do not help", async () => {
    // The proxy (here: the test, on loopback, a trusted proxy by default) appends the peer it saw.
    const one = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        post(gw.url, '/v1/sessions', { identifier: `p${i}`, password: 'x' }, { 'x-forwarded-for': '198.51.100.7' }),
      ),
    );
    expect(one.filter((a) => a.status === 429)).toHaveLength(4);
    const other = await post(gw.url, '/v1/sessions', { identifier: 'q', password: 'x' }, { 'x-forwarded-for': '198.51.100.8' });
    expect(other.status).toBe(401);
    // The same client writing its own header first: the proxy's hop is still the last one.
    const spoofedHead = await post(
      gw.url,
      '/v1/sessions',
      { identifier: 'r', password: 'x' },
      { 'x-forwarded-for': '192.0.2.1, 198.51.100.7' },
    );
    expect(spoofedHead.status).toBe(429);
  });
});
