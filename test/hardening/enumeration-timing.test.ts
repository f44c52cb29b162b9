import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { signUpMember, type Member } from './support/accounts.ts';
import { startFuzzGateway } from './support/fuzz-gateway.ts';

// Answers that must not tell whether an account exists — by body or by time. The core password
// login is covered by test/sessions/login.test.ts (same body, close timing); here: recovery and
// verification (codes for reset/login, the verification link) and the legacy logins that promise
// the same. Timing is compared on interleaved pairs (known, unknown) with the median of the
// per-pair differences, which the machine's load shifts for both alike. Legacy B is left out on
// purpose: its documented check/email says outright whether an address is registered.
const PAIRS = 80;
/**
 * Without bcrypt a request takes 15–40 ms here, and a lookup that finds an account costs FerretDB
 * a little more than one that finds none (≈ 1 ms quiet, up to 5 ms under a busy machine): 25 % or
 * 6 ms. The leaks these tests found were 15–18 ms on 20–40 ms requests.
 */
const TOLERANCE = 0.25;
/**
 * bcrypt dominates a login (~100 ms here) and its threads share the machine's two cores with the
 * rest of the suite, so those times are noisier: 30 % still catches a missing dummy hash (which
 * would make one side about twice as fast).
 */
const BCRYPT_TOLERANCE = 0.3;
let gw: TestGateway;
let member: Member;
let n = 0;

beforeAll(async () => {
  // Lockout would answer 429 for the known identifier after ten failures: a different answer.
  gw = await startFuzzGateway({ VIGIL_LOCKOUT_MAX_FAILURES: '1000', VIGIL_BCRYPT_COST: '10' });
  // Active, its email not yet confirmed: verification links go to it.
  member = await signUpMember(gw.url, 'en');
});
afterAll(async () => {
  await gw?.close();
});

async function post(path: string, body: unknown): Promise<{ ms: number; status: number; body: string }> {
  const started = performance.now();
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  // The request id differs by design; everything else must be identical.
  return {
    ms: performance.now() - started,
    status: res.status,
    body: text.replace(/"requestId":"[^"]*"/, '').replace(/"to":"[^"]*"/, ''),
  };
}

/** Up to this many rounds: other work on the machine is noise that comes and goes, a leak is in every round. */
const ROUNDS = 3;

/**
 * Same status and body; the median paired time difference within max(6 ms, `tolerance`) of the
 * median time — in at least one of up to ROUNDS rounds of `pairs` pairs.
 */
async function indistinguishable(
  known: () => ReturnType<typeof post>,
  unknown: () => ReturnType<typeof post>,
  pairs = PAIRS,
  tolerance = TOLERANCE,
): Promise<void> {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rounds: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const differences: number[] = [];
    const times: number[] = [];
    for (let i = 0; i < pairs; i++) {
      // Alternate the order, so work one request leaves behind is charged to both kinds alike.
      let k: Awaited<ReturnType<typeof post>>;
      let u: Awaited<ReturnType<typeof post>>;
      if (i % 2 === 0) {
        k = await known();
        u = await unknown();
      } else {
        u = await unknown();
        k = await known();
      }
      expect({ status: k.status, body: k.body }).toEqual({ status: u.status, body: u.body });
      differences.push(k.ms - u.ms);
      times.push(k.ms, u.ms);
    }
    const gap = median(differences);
    const typical = median(times);
    if (Math.abs(gap) < Math.max(6, typical * tolerance)) return;
    rounds.push(`${gap.toFixed(2)} ms of a typical ${typical.toFixed(2)} ms`);
  }
  expect.fail(`known − unknown, every round: ${rounds.join('; ')}`);
}

describe('enumeration-safe recovery and verification', () => {
  it('a reset code by email: same answer, same time, for a registered and an unknown address', async () => {
    await indistinguishable(
      () => post('/v1/codes', { channel: 'email', to: member.email, purpose: 'reset' }),
      () => post('/v1/codes', { channel: 'email', to: `nobody${n++}@hardening.test`, purpose: 'reset' }),
    );
  });

  it('a login code by SMS: same answer, same time, for a registered and an unknown number', async () => {
    await indistinguishable(
      () => post('/v1/codes', { channel: 'sms', to: member.phone, purpose: 'login' }),
      () => post('/v1/codes', { channel: 'sms', to: `+8210${String(70_000_000 + n++)}`, purpose: 'login' }),
    );
  });

  it('the verification link (mailed only to accounts with an unconfirmed address): same answer, same time (src/identity/codes/email-links.ts queued it before answering)', async () => {
    await indistinguishable(
      () => post('/v1/accounts/verification-link', { email: member.email }),
      () => post('/v1/accounts/verification-link', { email: `nobody${n++}@hardening.test` }),
    );
  });

  it(
    'legacy logins that promise one answer for unknown users and wrong passwords (A, D) keep it in time too',
    { timeout: 120_000 },
    async () => {
      await indistinguishable(
        () => post('/server/members/login/', { username: member.username, password: 'not the password' }),
        () => post('/server/members/login/', { username: `nobody${n++}`, password: 'not the password' }),
        30,
        BCRYPT_TOLERANCE,
      );
      await indistinguishable(
        () => post('/token/', { email: member.email, password: 'not the password' }),
        () => post('/token/', { email: `nobody${n++}@hardening.test`, password: 'not the password' }),
        30,
        BCRYPT_TOLERANCE,
      );
    },
  );
});
