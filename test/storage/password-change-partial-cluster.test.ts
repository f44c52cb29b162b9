import { createHash } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../hardening/support/cluster.ts';
import { logIn, signUpMember, type Member } from '../hardening/support/accounts.ts';
import { CHANNEL_ONLY } from '../realtime/support.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { type DistributedRedis, onRedisNode, startDistributedRedis } from '../support/distributed-redis.ts';
import { bearer, errorCode, json } from '../sessions/support.ts';
import { client, latestCode, ROOMY_LIMITS } from '../identity/support.ts';

// A password change or reset ends the account's other sessions, each on its own master of a Redis
// Cluster. When one master refuses the deletion (NOREPLICAS: min-replicas-to-write with too few
// replicas) the request is answered 503 and the client asks again with the same request. That
// retry used to be refused (the new password was already stored, so the current password it named
// was wrong; the reset code was already spent) and the sessions on the refusing master stayed live.
const BASE = 7460;
let redis: DistributedRedis;
let gw: TestGateway;

beforeAll(async () => {
  redis = await startDistributedRedis('cluster', BASE);
  await eventually(() => redis.replicated(), 20_000, 'every master with a replica in sync');
  gw = await startTestGateway({
    ...redis.env,
    ...CHANNEL_ONLY,
    ...ROOMY_LIMITS,
    REDIS_WAIT_REPLICAS: '1',
    REDIS_WAIT_TIMEOUT_MS: '1000',
    VIGIL_LOGIN_PER_IDENTIFIER: '100',
    VIGIL_DEV_OUTBOX: '1',
    VIGIL_DELIVERY_BACKOFF_MS: '50',
  });
}, 90_000);
afterAll(async () => {
  try {
    await gw?.close().catch(() => undefined);
  } finally {
    await redis?.destroy();
  }
});

/** The master holding the session now (only the owner answers EXISTS without a redirect). */
async function masterOf(id: string): Promise<number> {
  const key = `${gw.config.REDIS_PREFIX}sess:{${id}}`;
  for (const port of await redis.masters()) {
    if ((await onRedisNode(port, (n) => n.exists(key).catch(() => -1))) === 1) return port;
  }
  throw new Error(`no master holds session ${id}`);
}

/** The master serving the key's slot. */
async function masterOfKey(key: string): Promise<number> {
  const [port] = await redis.masters();
  return onRedisNode(port!, async (node) => {
    const slot = Number(await node.call('CLUSTER', 'KEYSLOT', `${gw.config.REDIS_PREFIX}${key}`));
    const ranges = (await node.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
    return Number(ranges.find(([from, to]) => slot >= from && slot <= to)![2][1]);
  });
}

type Login = Awaited<ReturnType<typeof logIn>>;

/**
 * The thief's logins (the owner's password), until one master holds some and another master, which
 * serves none of `otherKeys` (what the request writes before it ends sessions), holds some too: that
 * one will refuse, so the request fails in the revocation and nowhere else.
 */
async function thiefSessions(owner: Member, otherKeys: string[]): Promise<{ all: Login[]; refusing: number; gone: Login }> {
  const avoid = new Set(await Promise.all(otherKeys.map(masterOfKey)));
  const made: Array<Login & { master: number }> = [];
  for (;;) {
    const refusing = made.find((s) => !avoid.has(s.master))?.master;
    const gone = made.find((s) => s.master !== refusing);
    if (refusing !== undefined && gone) return { all: made, refusing, gone };
    if (made.length >= 40) throw new Error('no thief sessions spread as needed');
    const session = await logIn(gw.url, owner.username, owner.password);
    made.push({ ...session, master: await masterOf(session.sessionId) });
  }
}

const refuseWrites = (port: number, refuse: boolean) =>
  onRedisNode(port, (n) => n.config('SET', 'min-replicas-to-write', refuse ? '2' : '0'));

/** The request failed in the revocation, part-way: a session on another master is gone already. */
async function expectFailedPartWay(thief: { gone: Login }): Promise<void> {
  expect((await fetch(`${gw.url}/v1/accounts/me`, { headers: bearer(thief.gone.accessToken) })).status).toBe(401);
}

/** The audit records of one session's end. */
async function endsAudited(sessionId: string): Promise<Array<{ event: string; detail?: Record<string, unknown> }>> {
  const mongo = new MongoClient(gw.config.MONGO_URL);
  try {
    const records = await mongo
      .db(gw.config.MONGO_DB)
      .collection('audit')
      .find({ sessionId, event: 'session.revoked' })
      .toArray();
    return records.map(({ event, detail }) => ({ event: String(event), detail: detail as Record<string, unknown> }));
  } finally {
    await mongo.close();
  }
}

async function expectEnded(session: Login): Promise<void> {
  const me = await fetch(`${gw.url}/v1/accounts/me`, { headers: bearer(session.accessToken) });
  expect(me.status).toBe(401);
  expect(await errorCode(me)).toBe('TOKEN_REVOKED');
  expect((await fetch(`${gw.url}/v1/sessions/refresh`, json({ refreshToken: session.refreshToken }))).status).toBe(401);
}

describe('a master refusing part of the revocation', () => {
  it('password change: answered 503, and the retry with the same request ends the rest', async () => {
    const owner = await signUpMember(gw.url, 'pcc');
    const thief = await thiefSessions(owner, [`rl:password:check:user:${owner.userId}`, `account-write:{${owner.userId}}`]);
    const newPassword = `${owner.password} changed`;
    const change = () =>
      fetch(`${gw.url}/v1/password/change`, json({ currentPassword: owner.password, newPassword }, bearer(owner.accessToken)));

    await refuseWrites(thief.refusing, true);
    try {
      expect((await change()).status).toBe(503);
      await expectFailedPartWay(thief);
      // Audited although the call failed: its retry finds that session gone and cannot.
      expect(await endsAudited(thief.gone.sessionId)).toEqual([
        { event: 'session.revoked', detail: { reason: 'password changed', partial: true } },
      ]);
    } finally {
      await refuseWrites(thief.refusing, false);
    }
    const retry = await change();
    expect(retry.status).toBe(200);
    for (const session of thief.all) await expectEnded(session);
    expect((await fetch(`${gw.url}/v1/accounts/me`, { headers: bearer(owner.accessToken) })).status).toBe(200);
    expect((await fetch(`${gw.url}/v1/sessions`, json({ identifier: owner.username, password: owner.password }))).status).toBe(
      401,
    );
    await logIn(gw.url, owner.username, newPassword);
  });

  it('password reset by ticket: answered 503, and the retry with the same ticket ends the rest', async () => {
    const owner = await signUpMember(gw.url, 'prc');
    expect((await fetch(`${gw.url}/v1/codes`, json({ channel: 'email', to: owner.email, purpose: 'reset' }))).status).toBe(202);
    const code = await latestCode(client(gw), owner.email);
    const verified = await fetch(
      `${gw.url}/v1/codes/verify`,
      json({ channel: 'email', to: owner.email, purpose: 'reset', code }),
    );
    const { ticket } = (await verified.json()) as { ticket: string };
    const ticketKey = `ticket:${createHash('sha256').update(ticket).digest('base64url')}`;
    const thief = await thiefSessions(owner, [ticketKey, `account-write:{${owner.userId}}`]);
    const newPassword = `${owner.password} reset`;
    const reset = () => fetch(`${gw.url}/v1/password/reset`, json({ ticket, newPassword }));

    await refuseWrites(thief.refusing, true);
    try {
      expect((await reset()).status).toBe(503);
      await expectFailedPartWay(thief);
    } finally {
      await refuseWrites(thief.refusing, false);
    }
    const retry = await reset();
    expect(retry.status).toBe(200);
    for (const session of [...thief.all, owner]) await expectEnded(session);
    await logIn(gw.url, owner.username, newPassword);
  });
});
