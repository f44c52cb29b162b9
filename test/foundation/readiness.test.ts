import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Readiness } from '../../protocol/http/common.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { startPrivateFerretDb, startPrivateRedis, type PrivateServer } from '../support/services.ts';

// The gateway runs on private Redis and FerretDB processes that this test stops and restarts.
let redis: PrivateServer;
let mongo: PrivateServer;
let gw: TestGateway;

beforeAll(async () => {
  [redis, mongo] = await Promise.all([startPrivateRedis(), startPrivateFerretDb()]);
  gw = await startTestGateway({ REDIS_URL: redis.url, MONGO_URL: mongo.url });
});

afterAll(async () => {
  await gw?.close();
  await Promise.all([redis?.destroy(), mongo?.destroy()]);
});

async function readiness(): Promise<{ status: number; body: Readiness }> {
  const res = await fetch(`${gw.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Readiness };
}

async function until(expected: number, timeoutMs = 15_000): Promise<{ status: number; body: Readiness }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await readiness();
    if (result.status === expected || Date.now() > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('readiness follows the real dependencies', () => {
  it('is ready when both answer', async () => {
    expect(await readiness()).toEqual({ status: 200, body: { status: 'ready', checks: { mongo: 'up', redis: 'up' } } });
  });

  it('turns 503 naming redis while Redis is stopped, and recovers by itself', async () => {
    await redis.stop();
    expect(await until(503)).toEqual({ status: 503, body: { status: 'unavailable', checks: { mongo: 'up', redis: 'down' } } });
    const health = await fetch(`${gw.url}/healthz`);
    expect(health.status).toBe(200); // liveness is about the process, not its dependencies
    await redis.start();
    expect((await until(200)).body.checks.redis).toBe('up');
  });

  it('turns 503 naming mongo while the MongoDB-wire server is stopped, and recovers by itself', async () => {
    await mongo.stop();
    expect(await until(503)).toEqual({ status: 503, body: { status: 'unavailable', checks: { mongo: 'down', redis: 'up' } } });
    await mongo.start();
    expect((await until(200)).body.checks.mongo).toBe('up');
  });
});
