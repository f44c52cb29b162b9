import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { errorCode, json, sleep } from './support.ts';

// Accounts that exist but may not log in yet get their own catalogued answers — only once the
// password is right, so the status of an account is not revealed to someone guessing.
const ADMIN = 'admin-token-for-status-tests';
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    VIGIL_DEV_OUTBOX: '1',
    VIGIL_REQUIRE_VERIFICATION: '1',
    VIGIL_REQUIRE_APPROVAL: '1',
    VIGIL_ADMIN_TOKEN: ADMIN,
    VIGIL_CODE_RESEND_SECONDS: '0',
  });
});
afterAll(async () => {
  await gw?.close();
});

const login = (body: Record<string, unknown>) => fetch(`${gw.url}/v1/sessions`, json(body));
const admin = (path: string) => fetch(`${gw.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });

async function codeFor(to: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const messages = (await (await fetch(`${gw.url}/v1/dev/outbox?to=${encodeURIComponent(to)}`)).json()) as Array<{
      text: string;
    }>;
    const code = messages.at(-1)?.text.match(/\b(\d{6})\b/)?.[1];
    if (code) return code;
    await sleep(50);
  }
  throw new Error(`no code for ${to}`);
}

describe('login of accounts that are not active', () => {
  it('walks unverified → pending → rejected → approved, with a distinct answer at each step', async () => {
    const email = `status${Date.now()}@example.com`;
    const password = 'a long enough password';
    const created = await fetch(`${gw.url}/v1/accounts`, json({ email, password }));
    expect(created.status).toBe(201);
    const { account } = (await created.json()) as { account: { id: string; status: string } };
    expect(account.status).toBe('unverified');

    expect(await errorCode(await login({ identifier: email, password: 'wrong password' }))).toBe('LOGIN_FAILED');
    const unverified = await login({ identifier: email, password });
    expect(unverified.status).toBe(403);
    expect(await errorCode(unverified)).toBe('ACCOUNT_UNVERIFIED');

    // A login code proves the email: the account moves on to pending (approval required).
    await fetch(`${gw.url}/v1/codes`, json({ channel: 'email', to: email, purpose: 'login' }));
    expect(await errorCode(await login({ email, code: await codeFor(email) }))).toBe('ACCOUNT_PENDING');
    expect(await errorCode(await login({ identifier: email, password }))).toBe('ACCOUNT_PENDING');

    expect((await admin(`/v1/admin/accounts/${account.id}/reject`)).status).toBe(200);
    expect(await errorCode(await login({ identifier: email, password }))).toBe('ACCOUNT_REJECTED');

    expect((await admin(`/v1/admin/accounts/${account.id}/approve`)).status).toBe(200);
    expect((await login({ identifier: email, password })).status).toBe(201);
  });
});
