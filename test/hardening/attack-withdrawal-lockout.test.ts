import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLegacyGateway } from '../legacy/support.ts';
import type { TestGateway } from '../support/gateway.ts';
import { ATTACKER_ADDRESS, clientFrom, OWNER_ADDRESS, type AddressedClient } from './support/from-address.ts';

// Dialect B's withdrawal names an account and a password, without a session. Its wrong guesses
// were counted against the account's current-password budget (10 an hour), the same budget the
// signed-in owner's password change spends: a stranger could lock the owner out of both.

const CHECKS = 10;
let gw: TestGateway;
let owner: AddressedClient;
let stranger: AddressedClient;

beforeAll(async () => {
  gw = await startLegacyGateway('b', { VIGIL_PASSWORD_CHECKS_PER_USER_HOURLY: String(CHECKS) });
  owner = clientFrom(gw.url, OWNER_ADDRESS);
  stranger = clientFrom(gw.url, ATTACKER_ADDRESS);
});
afterAll(() => gw.close());

async function signUp(authId: string, password: string): Promise<void> {
  const reply = await owner.post('/api/auth/sign-up', { authId, password, name: 'Owner', email: `${authId}@example.com` });
  expect(reply.status).toBe(200);
}

async function strangerBurnsChecks(authId: string): Promise<void> {
  const answers = [];
  for (let i = 0; i <= CHECKS; i++)
    answers.push(
      (await stranger.post<{ error: string }>('/api/auth/withdrawal', { authId, password: `guess-${i}-xx` })).body.error,
    );
  // The stranger's own budget runs out: the last guess is refused before the password is checked.
  expect(answers.at(-1)).toBe('요청 횟수 초과');
}

describe('B withdrawal: a stranger burning the current-password checks', () => {
  it('does not lock the owner out of their own password change', async () => {
    await signUp('victim1', 'owner-first-pass');
    await strangerBurnsChecks('victim1');
    const login = await owner.post<{ accessToken: string }>('/v1/sessions', {
      identifier: 'victim1',
      password: 'owner-first-pass',
    });
    expect(login.status).toBe(201);
    const change = await owner.post(
      '/v1/password/change',
      { currentPassword: 'owner-first-pass', newPassword: 'owner-second-pass' },
      { authorization: `Bearer ${login.body.accessToken}` },
    );
    expect(change.status).toBe(200);
  });

  it('does not stop the owner withdrawing from their own device', async () => {
    await signUp('victim2', 'owner-first-pass');
    await strangerBurnsChecks('victim2');
    const withdrawn = await owner.post('/api/auth/withdrawal', { authId: 'victim2', password: 'owner-first-pass' });
    expect([withdrawn.status, withdrawn.body]).toEqual([200, { data: { status: true }, error: null }]);
  });
});
