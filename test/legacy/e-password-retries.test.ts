import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../hardening/support/cluster.ts';
import type { TestGateway } from '../support/gateway.ts';
import { startReplicatedRedis, type ReplicatedRedis } from '../support/replicated-redis.ts';
import { E } from './fixtures/e-phone.ts';
import { client, latestCode, startLegacyGateway, type Client } from './support.ts';

// Dialect E's password change (by user id, after an SMS proof) goes through the core reset: every
// session of the account ends. When too few replicas hold that, it is answered 503 (E's outage
// code 5030, status kept) and the old client asks again, unchanged: its held proof and the core
// ticket behind it must still be there, and the retry must end the sessions.
// A private master with a replica this file detaches, as in test/sessions/revocation-retries.test.ts.
let pair: ReplicatedRedis;
let gw: TestGateway;
let api: Client;
const phone = '+821012345678';
const headers = { 'content-type': E.signUp.headers['Content-Type'] };
const post = <T = Record<string, unknown>>(path: string, body: unknown) => api.post<T>(path, body, headers);
let texts = 0;

beforeAll(async () => {
  pair = await startReplicatedRedis();
  gw = await startLegacyGateway('e', { REDIS_URL: pair.master.url, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '1000' });
  api = client(gw.url);
}, 30_000);
afterAll(async () => {
  await gw?.close();
  await pair?.destroy();
});

async function proveThePhone(): Promise<void> {
  await post(E.smsAuthReq.path, E.smsAuthReq.request);
  const code = Number(await latestCode(api, phone, ++texts));
  const proven = await post(E.smsAuthRes.path, { ...E.smsAuthRes.request, auth_num: code });
  expect(proven.body).toMatchObject({ success: true });
}

const sessionKeys = async (admin: Redis) => admin.keys(`${gw.config.REDIS_PREFIX}sess:*`);

describe('E password change answered 503', () => {
  it('is asked again unchanged, and the retry ends the sessions and sets the password', async () => {
    await proveThePhone();
    expect((await post(E.signUp.path, E.signUp.request)).body).toMatchObject({ success: true });
    const thief = await post<{ data: { item: string[] } }>(E.signIn.path, E.signIn.request);
    expect(thief.body.data.item[0]).toEqual(expect.any(String));
    expect(await sessionKeys(pair.masterAdmin)).toHaveLength(1);

    await proveThePhone();
    const newPassword = '1q2w3e4r5t';
    const change = () => post('/api/v1/auth/password_change', { id: 1, password: newPassword });
    await pair.detach();
    const failed = await change();
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ success: false, code: 5030 });
    await pair.attach();
    const retried = await eventually(
      async () => {
        const reply = await change();
        return reply.status !== 503 && reply;
      },
      10_000,
      'an answer but 503',
    );
    expect([retried.status, retried.body]).toMatchObject([200, { success: true, data: { item: [true] } }]);

    expect(await sessionKeys(pair.masterAdmin)).toEqual([]);
    expect(await sessionKeys(pair.replicaAdmin)).toEqual([]);
    expect((await post(E.signIn.path, E.signIn.request)).body).toMatchObject({ success: false });
    expect((await post(E.signIn.path, { num: E.signIn.request.num, password: newPassword })).body).toMatchObject({
      success: true,
    });
  });
});
