import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { bearer, errorCode, json, startNode, type Node } from './support.ts';

// A logout is the client's word that the session must end. Redis replicates asynchronously, so a
// deletion the master answered may never reach the replica a failover promotes, and the session
// (with a stolen refresh token) would live again. With REDIS_WAIT_REPLICAS the gateway answers a
// revocation only once replicas hold it, like a login; when they do not answer in time it is still
// done on the master and announced, and the client is told 503 so that it asks again.
// Here the gateway waits for a replica the local Redis does not have: every wait times out. (The
// failover itself, with a replica cut off and the master killed, is test/hardening/fault-redis-failover.)
let gw: TestGateway;
let node: Node;
let mongo: MongoClient;

beforeAll(async () => {
  gw = await startTestGateway({ REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '100' });
  // Sessions are made by a node that waits for nothing (a login here would be refused the same way).
  node = await startNode({ ...gw.config, REDIS_WAIT_REPLICAS: 0 });
  mongo = await MongoClient.connect(gw.config.MONGO_URL);
}, 30_000);
afterAll(async () => {
  await mongo?.close();
  await node?.close();
  await gw?.close();
});

const introspect = async (token: string) =>
  (await (await fetch(`${gw.url}/v1/tokens/introspect`, json({ token }))).json()) as { active: boolean; code?: string };

async function login(userId: string) {
  const { session, tokens } = await node.core.sessions.start({ userId, ip: '192.0.2.9', userAgent: 'replicas-test' });
  return { id: session.id, token: tokens.accessToken, refresh: tokens.refreshToken };
}

describe('revocations too few replicas acknowledged', () => {
  it('logout answers 503 with Retry-After, yet the session is ended, announced and audited; so does the retry', async () => {
    const a = await login('u-unreplicated-logout');
    expect((await introspect(a.token)).active).toBe(true);
    const res = await fetch(`${gw.url}/v1/sessions/current`, { method: 'DELETE', headers: bearer(a.token) });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await errorCode(res)).toBe('DEPENDENCY_UNAVAILABLE');
    expect(await introspect(a.token)).toEqual({ active: false, code: 'TOKEN_REVOKED' });
    const refresh = await fetch(`${gw.url}/v1/sessions/refresh`, json({ refreshToken: a.refresh }));
    expect(refresh.status).toBe(401);
    const audit = await mongo.db(gw.config.MONGO_DB).collection('audit').find({ sessionId: a.id }).toArray();
    expect(audit.map((e) => e.event)).toContain('session.logout');
    // Refused as revoked only once a replica holds the deletion (revocation-retries.test.ts): never here.
    const again = await fetch(`${gw.url}/v1/sessions/current`, { method: 'DELETE', headers: bearer(a.token) });
    expect(again.status).toBe(503);
    expect(await errorCode(again)).toBe('DEPENDENCY_UNAVAILABLE');
  });

  it('ending one session or all of them answers 503 the same way, after ending them', async () => {
    const keep = await login('u-unreplicated-all');
    const other = await login('u-unreplicated-all');
    const third = await login('u-unreplicated-all');
    const one = await fetch(`${gw.url}/v1/sessions/${other.id}`, { method: 'DELETE', headers: bearer(keep.token) });
    expect(one.status).toBe(503);
    expect(await introspect(other.token)).toEqual({ active: false, code: 'TOKEN_REVOKED' });
    const oneAgain = await fetch(`${gw.url}/v1/sessions/${other.id}`, { method: 'DELETE', headers: bearer(keep.token) });
    expect(oneAgain.status).toBe(503); // not 404 while no replica holds the deletion
    const all = await fetch(`${gw.url}/v1/sessions?exceptCurrent=true`, { method: 'DELETE', headers: bearer(keep.token) });
    expect(all.status).toBe(503);
    expect(await introspect(third.token)).toEqual({ active: false, code: 'TOKEN_REVOKED' });
    expect((await introspect(keep.token)).active).toBe(true);
  });

  it('a retried "log out everywhere" is not answered 200 while no replica holds the deletions', async () => {
    // 200 is the answer that says replicas hold the revocation. The first call answers 503 and the
    // client asks again, as told; nothing has reached a replica since, so neither may the retry.
    const keep = await login('u-unreplicated-retry');
    await login('u-unreplicated-retry');
    const url = `${gw.url}/v1/sessions?exceptCurrent=true`;
    expect((await fetch(url, { method: 'DELETE', headers: bearer(keep.token) })).status).toBe(503);
    const retry = await fetch(url, { method: 'DELETE', headers: bearer(keep.token) });
    expect(retry.status).toBe(503);
  });

  it('a retried "log out everywhere" that ended this session too is not refused as revoked either', async () => {
    const a = await login('u-unreplicated-all-retry');
    await login('u-unreplicated-all-retry');
    const url = `${gw.url}/v1/sessions`;
    expect((await fetch(url, { method: 'DELETE', headers: bearer(a.token) })).status).toBe(503);
    const retry = await fetch(url, { method: 'DELETE', headers: bearer(a.token) });
    expect(retry.status).toBe(503);
    expect(retry.headers.get('retry-after')).toBe('1');
  });
});
