import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, latestCode, startLegacyGateway, type Client } from '../legacy/support.ts';
import type { TestGateway } from '../support/gateway.ts';
import { ATTACKER_ADDRESS, clientFrom, OWNER_ADDRESS, type AddressedClient } from './support/from-address.ts';

// Legacy flows hold a proof between two steps (E: sms_auth_res, then a password change by user id
// or a sign-up by number; B: check/auth-code, then sign-up by email or reset by user id and code).
// Their clients present no ticket, so the proof is bound to what they do present; a stranger on
// another address (127.0.0.2), or on the same one with another User-Agent, must not spend it.

let gw: TestGateway;
let outboxReader: Client;
let owner: AddressedClient;
let stranger: AddressedClient;
let strangerNextDoor: AddressedClient;
const OWNER_AGENT = { 'user-agent': 'okhttp/4.9.3 (owner phone)' };

beforeAll(async () => {
  gw = await startLegacyGateway('b,e');
  outboxReader = client(gw.url);
  owner = clientFrom(gw.url, OWNER_ADDRESS, OWNER_AGENT);
  stranger = clientFrom(gw.url, ATTACKER_ADDRESS, { 'user-agent': 'curl/8.5.0' });
  strangerNextDoor = clientFrom(gw.url, OWNER_ADDRESS, { 'user-agent': 'python-requests/2.31' });
});
afterAll(() => gw.close());

type EReply = { success: boolean; code: number; data: { item: unknown[] } };
const accounts = () => gw.gateway.mongo.db.collection('accounts');

async function eProvePhone(phone: string, texts: number): Promise<void> {
  expect((await owner.post<EReply>('/api/v1/auth/sms_auth_req', { receiver: phone })).body.success).toBe(true);
  const code = await latestCode(outboxReader, phone, texts);
  const proven = await owner.post<EReply>('/api/v1/auth/sms_auth_res', { num: phone, auth_num: code });
  expect(proven.body.data.item).toEqual([true]);
}

describe('E: password change by user id after someone else’s SMS proof', () => {
  it('a stranger polling password_change for the id gets nothing when the owner proves their phone; the owner’s change still works', async () => {
    const phone = '+821055501001';
    const signUp = await owner.post<EReply>('/api/v1/auth/signup', { num: phone, password: 'owner-first-pass' });
    expect(signUp.body.success).toBe(true);
    const found = await stranger.post<EReply>('/api/v1/auth/num_find', { num: phone });
    const id = found.body.data.item[0] as number;
    expect(typeof id).toBe('number');

    await eProvePhone(phone, 1);
    for (const path of ['/api/v1/auth/password_change', '/api/v1/auth/num_find']) {
      const fromElsewhere = await stranger.post<EReply>(path, { id, password: 'stranger-pass-1' });
      expect([fromElsewhere.status, fromElsewhere.body.code]).toEqual([200, 2006]);
      const fromSameAddress = await strangerNextDoor.post<EReply>(path, { id, password: 'stranger-pass-2' });
      expect([fromSameAddress.status, fromSameAddress.body.code]).toEqual([200, 2006]);
    }

    const changed = await owner.post<EReply>('/api/v1/auth/password_change', { id, password: 'owner-new-pass' });
    expect(changed.body).toMatchObject({ success: true, data: { item: [true] } });
    // Single use: the same client cannot change it twice on one proof.
    const again = await owner.post<EReply>('/api/v1/auth/password_change', { id, password: 'owner-third-pass' });
    expect(again.body.code).toBe(2006);
    expect((await owner.post<EReply>('/api/v1/auth/signin', { num: phone, password: 'owner-new-pass' })).body.success).toBe(true);
    for (const password of ['stranger-pass-1', 'stranger-pass-2', 'owner-third-pass'])
      expect((await owner.post<EReply>('/api/v1/auth/signin', { num: phone, password })).body.success).toBe(false);
  });

  it('a sign-up proof is spent only by the client that earned it', async () => {
    const taken = '+821055501002';
    await eProvePhone(taken, 1);
    const squatter = await stranger.post<EReply>('/api/v1/auth/signup', { num: taken, password: 'stranger-pass-1' });
    expect(squatter.body.success).toBe(true);
    expect((await accounts().findOne({ phone: taken }))?.phoneVerifiedAt).toBeUndefined();

    const mine = '+821055501003';
    await eProvePhone(mine, 1);
    const signUp = await owner.post<EReply>('/api/v1/auth/signup', { num: mine, password: 'owner-first-pass' });
    expect(signUp.body.success).toBe(true);
    expect((await accounts().findOne({ phone: mine }))?.phoneVerifiedAt).toBeInstanceOf(Date);
  });
});

describe('B: a sign-up proof by email', () => {
  type BReply = { data: { usable?: boolean; id?: number } | null; error: string | null };
  async function bProveEmail(email: string): Promise<void> {
    expect((await owner.post('/api/auth/send/auth-key', { email, type: 'SIGN_UP' })).status).toBe(200);
    const authCode = await latestCode(outboxReader, email);
    const checked = await owner.post<BReply>('/api/auth/check/auth-code', { email, authCode, type: 'SIGN_UP' });
    expect(checked.body.data).toEqual({ usable: true });
  }

  it('is spent only by the client that earned it', async () => {
    const taken = 'victim-signup@example.com';
    await bProveEmail(taken);
    const squatter = await stranger.post<BReply>('/api/auth/sign-up', {
      authId: 'squatter1',
      password: 'stranger-pass-1',
      name: 'Squatter',
      email: taken,
    });
    expect(squatter.status).toBe(200);
    expect((await accounts().findOne({ email: taken }))?.emailVerifiedAt).toBeUndefined();

    const mine = 'owner-signup@example.com';
    await bProveEmail(mine);
    const signUp = await owner.post<BReply>('/api/auth/sign-up', {
      authId: 'owner1',
      password: 'owner-first-pass',
      name: 'Owner',
      email: mine,
    });
    expect(signUp.status).toBe(200);
    expect((await accounts().findOne({ email: mine }))?.emailVerifiedAt).toBeInstanceOf(Date);
  });
});

describe('E: polling password_change for one id from many addresses', () => {
  let limited: TestGateway;
  beforeAll(async () => {
    limited = await startLegacyGateway('e', { VIGIL_LEGACY_PROOF_CHECKS_PER_SUBJECT_HOURLY: '3' });
  });
  afterAll(() => limited.close());

  it('is limited per id across clients, before anything is looked up', async () => {
    const pollers = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'].map((address) => clientFrom(limited.url, address));
    const answers: Array<[number, number]> = [];
    for (const poller of pollers) {
      const reply = await poller.post<EReply>('/api/v1/auth/password_change', { id: 1, password: 'stranger-pass-1' });
      answers.push([reply.status, reply.body.code]);
    }
    expect(answers).toEqual([
      [200, 2006],
      [200, 2006],
      [200, 2006],
      [429, 4290],
    ]);
  });
});
