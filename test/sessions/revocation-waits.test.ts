import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { startPrivateRedis, type PrivateServer } from '../support/services.ts';
import { logIn, signUpMember } from '../hardening/support/accounts.ts';
import { bearer, json, sleep, startNode, type Node } from './support.ts';

// Revocations wait for replicas over the few connections logins and refresh rotations wait on too,
// and a WAIT holds its connection until the replicas answer or REDIS_WAIT_TIMEOUT_MS passes. One
// WAIT covers every earlier write of its connection, so ending many sessions of one master must
// wait once: a WAIT per session let one "log out everywhere" of an account with many sessions
// hold every waiting connection for (sessions / connections) timeouts while a replica lagged,
// and every login and rotation of the process queued behind it.
// A private Redis without a replica (every WAIT runs to its timeout) whose command counts are this file's own.
let redis: PrivateServer;
let gw: TestGateway;
let node: Node;
let admin: Redis;
/** The same stores, waiting for nothing: signs accounts up and logs them in. */
let plain: TestGateway;

beforeAll(async () => {
  redis = await startPrivateRedis();
  gw = await startTestGateway({ REDIS_URL: redis.url, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '100' });
  // Sessions are made by a node that waits for nothing (a login here would be refused the same way).
  node = await startNode({ ...gw.config, REDIS_WAIT_REPLICAS: 0 });
  admin = new Redis(redis.url);
  const { MONGO_DB, REDIS_PREFIX } = gw.config;
  plain = await startTestGateway({ REDIS_URL: redis.url, MONGO_DB: MONGO_DB!, REDIS_PREFIX, REDIS_WAIT_REPLICAS: '0' });
}, 30_000);
afterAll(async () => {
  admin?.disconnect();
  await plain?.close();
  await node?.close();
  await gw?.close();
  await redis?.destroy();
});

const introspect = async (token: string) =>
  (await (await fetch(`${gw.url}/v1/tokens/introspect`, json({ token }))).json()) as { active: boolean };

async function waits(): Promise<number> {
  const stats = await admin.info('commandstats');
  return Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

describe('a revocation of many sessions', () => {
  it('waits for replicas once, not once per session', async () => {
    const userId = 'u-many-sessions';
    const start = () => node.core.sessions.start({ userId, ip: '192.0.2.7', userAgent: 'waits-test' });
    const keep = await start();
    const others = await Promise.all(Array.from({ length: 12 }, start));
    const before = await waits();
    const res = await fetch(`${gw.url}/v1/sessions?exceptCurrent=true`, {
      method: 'DELETE',
      headers: bearer(keep.tokens.accessToken),
    });
    expect(res.status).toBe(503);
    for (const other of others) expect((await introspect(other.tokens.accessToken)).active).toBe(false);
    expect((await introspect(keep.tokens.accessToken)).active).toBe(true);
    expect((await waits()) - before).toBe(1);
  });
});

describe('revocations the gateway makes on its own', () => {
  it('still answer as before when too few replicas acknowledged: a withdrawal ends the sessions', async () => {
    const member = await signUpMember(plain.url, 'pw');
    const other = await logIn(plain.url, member.username, member.password);
    // A password change is not one of them: its client asks again (password-change-retries.test.ts).
    const changed = await fetch(
      `${gw.url}/v1/password/change`,
      json({ currentPassword: member.password, newPassword: `${member.password} new` }, bearer(member.accessToken)),
    );
    expect(changed.status).toBe(503);
    expect((await introspect(other.accessToken)).active).toBe(false);
    expect((await introspect(member.accessToken)).active).toBe(true);
    // Ended before the new password was stored: the old one still stands.
    const withdrawn = await fetch(
      `${gw.url}/v1/accounts/me/withdraw`,
      json({ password: member.password }, bearer(member.accessToken)),
    );
    expect(withdrawn.status).toBe(200);
    expect((await introspect(member.accessToken)).active).toBe(false);
  });
});

describe('a revocation waiting for replicas', () => {
  it('is announced once the master has done it, not after the wait: no process takes the token meanwhile', async () => {
    // A long wait, to look inside it; the other gateway (gw) is a second process of the deployment.
    const { MONGO_DB, REDIS_PREFIX } = gw.config;
    const slow = await startTestGateway({
      REDIS_URL: redis.url,
      MONGO_DB: MONGO_DB!,
      REDIS_PREFIX,
      REDIS_WAIT_REPLICAS: '1',
      REDIS_WAIT_TIMEOUT_MS: '5000',
    });
    try {
      const { session, tokens } = await node.core.sessions.start({
        userId: 'u-announced',
        ip: '192.0.2.8',
        userAgent: 'waits-test',
      });
      const active = async (url: string) =>
        ((await (await fetch(`${url}/v1/tokens/introspect`, json({ token: tokens.accessToken }))).json()) as { active: boolean })
          .active;
      // Verified once on each process, so each holds it in its cache.
      expect(await active(slow.url)).toBe(true);
      expect(await active(gw.url)).toBe(true);
      const logout = fetch(`${slow.url}/v1/sessions/current`, { method: 'DELETE', headers: bearer(tokens.accessToken) });
      while (await admin.exists(`${REDIS_PREFIX}sess:{${session.id}}`)) await sleep(10);
      // The session is gone on the master; the logout still waits for a replica.
      expect(await active(slow.url)).toBe(false);
      expect(await active(gw.url)).toBe(false);
      expect((await logout).status).toBe(503);
    } finally {
      await slow.gateway.close();
    }
  });
});
