import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, latestCode, startLegacyGateway } from '../legacy/support.ts';
import type { TestGateway } from '../support/gateway.ts';
import { clientFrom, OWNER_ADDRESS, type AddressedClient } from './support/from-address.ts';

// Dialect B resets by numeric user id and the FORGET_PASSWORD code that check/auth-code already
// spent on a held proof. The held digest was compared before any limiter, so guesses were free.
// The guesser here sits on the owner's own address with the owner's User-Agent: the one client
// the binding cannot tell apart, so only the attempt count and the limits stand in the way.

const AGENT = { 'user-agent': 'Dalvik/2.1.0 (shared NAT)' };
type BReply = { data: { usable?: boolean; userId?: number; id?: number } | null; error: string | null };

async function provenReset(gw: TestGateway, api: AddressedClient, email: string, authId: string) {
  const signUp = await api.post<BReply>('/api/auth/sign-up', { authId, password: 'owner-first-pass', name: 'Owner', email });
  expect(signUp.status).toBe(200);
  const userId = signUp.body.data!.id!;
  expect((await api.post('/api/auth/send/auth-key', { email, authId, type: 'FORGET_PASSWORD' })).status).toBe(200);
  const authCode = await latestCode(client(gw.url), email);
  const checked = await api.post<BReply>('/api/auth/check/auth-code', { email, authCode, type: 'FORGET_PASSWORD' });
  expect(checked.body.data).toEqual({ usable: true });
  const wrong = String((Number(authCode) + 1) % 1_000_000).padStart(6, '0');
  return { userId, authCode, wrong };
}

describe('B: guessing the reset code held after check/auth-code', () => {
  let gw: TestGateway;
  let api: AddressedClient;
  beforeAll(async () => {
    gw = await startLegacyGateway('b');
    api = clientFrom(gw.url, OWNER_ADDRESS, AGENT);
  });
  afterAll(() => gw.close());

  it('five wrong codes kill the held proof: the right code on the sixth try is refused', async () => {
    const { userId, authCode, wrong } = await provenReset(gw, api, 'guessed@example.com', 'guessed1');
    for (let guess = 0; guess < 5; guess++) {
      const reply = await api.post<BReply>('/api/auth/reset/password', {
        userId,
        authCode: wrong,
        newPassword: 'guesser-pass-1',
      });
      expect([reply.status, reply.body.error]).toEqual([400, '올바르지 않은 접근 권한']);
    }
    const right = await api.post<BReply>('/api/auth/reset/password', { userId, authCode, newPassword: 'guesser-pass-1' });
    expect([right.status, right.body.error]).toEqual([400, '올바르지 않은 접근 권한']);
    const signIn = await api.post<BReply>('/api/auth/sign-in', { authId: 'guessed1', password: 'owner-first-pass' });
    expect(signIn.status).toBe(200);
  });

  it('the owner who typed the code right the first time still resets', async () => {
    const { userId, authCode } = await provenReset(gw, api, 'owner-reset@example.com', 'resetter1');
    const reply = await api.post<BReply>('/api/auth/reset/password', { userId, authCode, newPassword: 'owner-new-pass' });
    expect([reply.status, reply.body.data]).toEqual([200, { userId }]);
    expect((await api.post('/api/auth/sign-in', { authId: 'resetter1', password: 'owner-new-pass' })).status).toBe(200);
  });
});

describe('B: limits run before the held code is compared', () => {
  let gw: TestGateway;
  let api: AddressedClient;
  beforeAll(async () => {
    gw = await startLegacyGateway('b', {
      // the sign-up's claim (of a sign-up proof it does not hold) plus three guesses
      VIGIL_LEGACY_PROOF_CHECKS_PER_CLIENT_HOURLY: '4',
      // check/auth-code's own verification plus three guesses
      VIGIL_CODE_VERIFY_PER_IP_HOURLY: '4',
    });
    api = clientFrom(gw.url, OWNER_ADDRESS, AGENT);
  });
  afterAll(() => gw.close());

  it('once RATE_LIMITED, even the right code is refused (it is never compared)', async () => {
    const { userId, authCode, wrong } = await provenReset(gw, api, 'limited@example.com', 'limited1');
    for (let guess = 0; guess < 3; guess++) {
      const reply = await api.post<BReply>('/api/auth/reset/password', {
        userId,
        authCode: wrong,
        newPassword: 'guesser-pass-1',
      });
      expect(reply.body.error).toBe('올바르지 않은 접근 권한');
    }
    const limited = await api.post<BReply>('/api/auth/reset/password', {
      userId,
      authCode: wrong,
      newPassword: 'guesser-pass-1',
    });
    expect([limited.status, limited.body.error]).toEqual([400, '요청 횟수 초과']);
    const right = await api.post<BReply>('/api/auth/reset/password', { userId, authCode, newPassword: 'guesser-pass-1' });
    expect([right.status, right.body.error]).toEqual([400, '요청 횟수 초과']);
    expect((await api.post('/api/auth/sign-in', { authId: 'limited1', password: 'guesser-pass-1' })).status).toBe(400);
  });
});
