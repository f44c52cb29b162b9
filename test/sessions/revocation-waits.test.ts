import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { startPrivateRedis, type PrivateServer } from '../support/services.ts';
import { bearer, json, startNode, type Node } from './support.ts';

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

beforeAll(async () => {
  redis = await startPrivateRedis();
  gw = await startTestGateway({ REDIS_URL: redis.url, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '100' });
  // Sessions are made by a node that waits for nothing (a login here would be refused the same way).
  node = await startNode({ ...gw.config, REDIS_WAIT_REPLICAS: 0 });
  admin = new Redis(redis.url);
}, 30_000);
afterAll(async () => {
  admin?.disconnect();
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
