import { afterAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../storage/redis.ts';
import { createLogger } from '../observability/logger.ts';
import { connectRedis, createRedis } from '../storage/redis.ts';
import { dropTestData } from '../../test/support/gateway.ts';
import { testConfig } from '../../test/support/config.ts';
import { ConnectionQuota } from './connection-quota.ts';

// Two quotas on separate Redis connections stand for two gateway processes.
const config = testConfig();
const logger = createLogger('silent');
const clients: RedisClient[] = [];

async function gatewayProcess(limit: number, leaseSeconds = 15): Promise<ConnectionQuota> {
  const redis = createRedis(config, 'quota-test');
  clients.push(redis);
  await connectRedis(redis, 10_000);
  const quota = new ConnectionQuota(redis, { limit, leaseSeconds }, logger);
  await quota.start();
  return quota;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

afterAll(async () => {
  for (const redis of clients) redis.disconnect();
  await dropTestData(config);
});

describe('ConnectionQuota', () => {
  it('counts one user across processes and frees slots on release', async () => {
    const a = await gatewayProcess(3);
    const b = await gatewayProcess(3);
    expect(await a.acquire('u1')).toEqual({ admitted: true, count: 1 });
    expect(await b.acquire('u1')).toEqual({ admitted: true, count: 2 });
    expect(await b.acquire('u1')).toEqual({ admitted: true, count: 3 });
    expect(await a.acquire('u1')).toEqual({ admitted: false, count: 3 });
    expect((await a.acquire('u2')).admitted).toBe(true); // other users are unaffected
    b.release('u1');
    await settle();
    expect(await a.acquire('u1')).toEqual({ admitted: true, count: 3 });
  });

  it('admits exactly the limit under concurrent attempts', async () => {
    const a = await gatewayProcess(5);
    const b = await gatewayProcess(5);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).acquire('u-concurrent')));
    expect(results.filter((r) => r.admitted)).toHaveLength(5);
  });

  it("stops counting a crashed process's sockets once its lease lapses", async () => {
    const crashed = await gatewayProcess(1, 3);
    const survivor = await gatewayProcess(1, 3);
    expect((await crashed.acquire('u3')).admitted).toBe(true);
    expect((await survivor.acquire('u3')).admitted).toBe(false);
    // "Crash": the lease is no longer renewed, and no release ever comes.
    await crashed.retire();
    expect((await survivor.acquire('u3')).admitted).toBe(true);
  });

  it('lets a lapsed lease expire by time alone', async () => {
    const crashed = await gatewayProcess(1, 3);
    const survivor = await gatewayProcess(1, 3);
    expect((await crashed.acquire('u4')).admitted).toBe(true);
    // Simulate a process that died without retiring: stop its renewals.
    (crashed as unknown as { timer: NodeJS.Timeout }).timer.close();
    expect((await survivor.acquire('u4')).admitted).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 3_200));
    expect((await survivor.acquire('u4')).admitted).toBe(true);
  });
});
