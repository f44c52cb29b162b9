import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../hardening/support/cluster.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { startReplicatedRedis, type ReplicatedRedis } from '../support/replicated-redis.ts';
import { bearer, errorCode, startNode, type Node } from './support.ts';

// A revocation too few replicas acknowledged is answered 503 after it is done on the master, and
// the client asks again. The retry finds the session already gone: nothing of its own to delete,
// so nothing of its own to wait for. Its answer (401 for a logout, 404 for one session, 200
// {revoked: 0} for all) still tells the client the session is gone, so it must be 503 too until
// a replica holds the first call's deletion; a failover in between would otherwise bring back a
// session the client was told had ended.
// A private master with a replica this file detaches (REPLICAOF NO ONE) and attaches again.
let pair: ReplicatedRedis;
let gw: TestGateway;
let node: Node;

beforeAll(async () => {
  pair = await startReplicatedRedis();
  gw = await startTestGateway({ REDIS_URL: pair.master.url, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '100' });
  // Sessions are made by a node that waits for nothing (logins are not under test here).
  node = await startNode({ ...gw.config, REDIS_WAIT_REPLICAS: 0 });
}, 30_000);
afterAll(async () => {
  await node?.close();
  await gw?.close();
  await pair?.destroy();
});

async function login(userId: string) {
  const { session, tokens } = await node.core.sessions.start({ userId, ip: '192.0.2.10', userAgent: 'retries-test' });
  return { id: session.id, token: tokens.accessToken };
}

/** Whether the replica still holds the session's key (what a promoted replica would bring back). */
const onReplica = async (sessionId: string) =>
  (await pair.replicaAdmin.exists(`${gw.config.REDIS_PREFIX}sess:{${sessionId}}`)) === 1;

/** The call while the replica is away (503), its retry while still away (503 again), and the retries once it is back. */
async function revokeAndRetry(path: string, token: string): Promise<Response> {
  await pair.detach();
  const request = () => fetch(`${gw.url}${path}`, { method: 'DELETE', headers: bearer(token) });
  expect((await request()).status).toBe(503);
  const retry = await request();
  expect(retry.status).toBe(503);
  expect(retry.headers.get('retry-after')).toBe('1');
  expect(await errorCode(retry)).toBe('DEPENDENCY_UNAVAILABLE');
  await pair.attach();
  // As a client does: again while 503 (a replica's first acknowledgements after a resync can lag).
  return eventually(
    async () => {
      const res = await request();
      return res.status !== 503 && res;
    },
    10_000,
    'an answer once the replica is back',
  );
}

describe('the retry of a revocation answered 503', () => {
  it('logout: refused as revoked only once a replica holds the deletion', async () => {
    const a = await login('u-retry-logout');
    const last = await revokeAndRetry('/v1/sessions/current', a.token);
    expect(last.status).toBe(401);
    expect(await errorCode(last)).toBe('TOKEN_REVOKED');
    expect(await onReplica(a.id)).toBe(false);
  });

  it('ending one session: 404 only once a replica holds the deletion', async () => {
    const keep = await login('u-retry-one');
    const other = await login('u-retry-one');
    const last = await revokeAndRetry(`/v1/sessions/${other.id}`, keep.token);
    expect(last.status).toBe(404);
    expect(await onReplica(other.id)).toBe(false);
    expect(await onReplica(keep.id)).toBe(true);
    // The barrier was written in that session's slot, and expires by itself.
    const ttl = await pair.masterAdmin.pttl(`${gw.config.REDIS_PREFIX}rbar:{${other.id}}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(10_000);
  });

  it("another account's session id is answered as an ended one of the caller's would be, and stays live", async () => {
    // A second account probing ids learns nothing from the barrier: the same 503s, then 404.
    const caller = await login('u-retry-prober');
    const victim = await login('u-retry-victim');
    const last = await revokeAndRetry(`/v1/sessions/${victim.id}`, caller.token);
    expect(last.status).toBe(404);
    expect(await errorCode(last)).toBe('NOT_FOUND');
    expect(await node.core.sessions.isLive(victim.id, 'u-retry-victim')).toBe(true);
    expect(await onReplica(victim.id)).toBe(true);
  });

  it('"log out everywhere else": {revoked: 0} only once a replica holds the deletions', async () => {
    const keep = await login('u-retry-others');
    const others = [await login('u-retry-others'), await login('u-retry-others')];
    const last = await revokeAndRetry('/v1/sessions?exceptCurrent=true', keep.token);
    expect(last.status).toBe(200);
    expect(await last.json()).toEqual({ revoked: 0 });
    for (const s of others) expect(await onReplica(s.id)).toBe(false);
  });

  it('"log out everywhere", this session too: refused as revoked only once a replica holds the deletions', async () => {
    const a = await login('u-retry-all');
    const b = await login('u-retry-all');
    const last = await revokeAndRetry('/v1/sessions', a.token);
    expect(last.status).toBe(401);
    expect(await errorCode(last)).toBe('TOKEN_REVOKED');
    expect(await onReplica(a.id)).toBe(false);
    expect(await onReplica(b.id)).toBe(false);
  });

  it('writes no barrier when it waits for no replica (REDIS_WAIT_REPLICAS=0)', async () => {
    const prefix = `${gw.config.REDIS_PREFIX}nowait:`;
    const plain = await startNode({ ...gw.config, REDIS_PREFIX: prefix, REDIS_WAIT_REPLICAS: 0 });
    try {
      const { sessions } = plain.core;
      const { session } = await sessions.start({ userId: 'u-retry-nowait' });
      expect(await sessions.revoke('u-retry-nowait', session.id, 'logout', {}, { requireReplicas: true })).toBe(true);
      expect(await sessions.revoke('u-retry-nowait', session.id, 'logout', {}, { requireReplicas: true })).toBe(false);
      expect(await sessions.revokeAllForUser('u-retry-nowait', { reason: 'revoke_all', requireReplicas: true })).toBe(0);
      expect(await pair.masterAdmin.keys(`${prefix}*`)).toEqual([]);
    } finally {
      await plain.close();
    }
  });
});
