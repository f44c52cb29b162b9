import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../../protocol/errors.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { json } from './support.ts';

// A burst of password logins larger than the hashing queue: one bcrypt slot, nobody allowed to
// wait, and a cost slow enough (≈ 60 ms here) that the burst arrives while the first is hashed.
// Expected: the overflow is answered at once with a catalogued 503 and Retry-After (accounts that
// exist and ones that do not share the queue: the unit test shows both refused), and the gateway
// answers logins again right after.
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    VIGIL_BCRYPT_COST: '10',
    VIGIL_BCRYPT_CONCURRENCY: '1',
    VIGIL_BCRYPT_QUEUE_MAX: '0',
    VIGIL_LOGIN_PER_IP: '1000',
    VIGIL_LOGIN_PER_IDENTIFIER: '1000',
  });
});
afterAll(async () => {
  await gw?.close();
});

const login = (identifier: string, password: string) => fetch(`${gw.url}/v1/sessions`, json({ identifier, password }));

async function signUp(): Promise<{ username: string; password: string }> {
  const account = { username: `burst${Date.now().toString(36)}`, password: 'correct horse battery' };
  for (;;) {
    const res = await fetch(`${gw.url}/v1/accounts`, json(account));
    if (res.status === 201) return account;
    expect(res.status).toBe(503); // a sign-up hashes too; an earlier test's burst may still be hashing
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a login burst past the hashing queue', () => {
  it('refuses the overflow at once with 503 DEPENDENCY_UNAVAILABLE and Retry-After, and logs in again right after', async () => {
    const account = await signUp();
    const burst = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        i % 2 ? login(account.username, account.password) : login(`nobody-${i}-${account.username}`, 'whatever it is'),
      ),
    );
    const refused = burst.filter((res) => res.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const res of refused) {
      expect(res.headers.get('retry-after')).toBe('1');
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).toBe('DEPENDENCY_UNAVAILABLE');
      expect(body.error.message).toMatch(/password checking/);
    }
    // Every other answer is the ordinary one for its account: nothing else went wrong.
    const answered = burst.filter((res) => res.status !== 503).map((res) => res.status);
    expect(answered.every((status) => status === 201 || status === 401)).toBe(true);

    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_password_hash_waiting 0$/m);
    // The queue is free again: a login goes through.
    let res = await login(account.username, account.password);
    for (let i = 0; res.status === 503 && i < 50; i++) res = await login(account.username, account.password);
    expect(res.status).toBe(201);
  });
});
