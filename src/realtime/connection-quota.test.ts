import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../storage/redis.ts';
import { createLogger } from '../observability/logger.ts';
import { connectRedis, createRedis } from '../storage/redis.ts';
import { dropTestData } from '../../test/support/gateway.ts';
import { testConfig } from '../../test/support/config.ts';
import { RedisMonitor } from '../../test/support/redis-monitor.ts';
import { ConnectionQuota } from './connection-quota.ts';

// Two quotas on separate Redis connections stand for two gateway processes.
const config = testConfig();
const logger = createLogger('silent');
const clients: RedisClient[] = [];

async function gatewayProcessWith(limit: number, leaseSeconds: number, batch: number): Promise<ConnectionQuota> {
  const redis = createRedis(config, 'quota-test');
  clients.push(redis);
  await connectRedis(redis, 10_000);
  const quota = new ConnectionQuota(redis, { limit, leaseSeconds, batch }, logger);
  await quota.start();
  return quota;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

afterAll(async () => {
  for (const redis of clients) redis.disconnect();
  await dropTestData(config);
});

// One script call per admission (batch 1) and admissions batched per event-loop turn must agree.
describe.each([1, 128])('ConnectionQuota, batch %i', (batch) => {
  const gatewayProcess = (limit: number, leaseSeconds = 15) => gatewayProcessWith(limit, leaseSeconds, batch);
  // Users are per batch size, so the two runs do not share counts.
  const u = (name: string) => `${name}-b${batch}`;

  it('counts one user across processes and frees slots on release', async () => {
    const a = await gatewayProcess(3);
    const b = await gatewayProcess(3);
    expect(await a.acquire(u('u1'))).toEqual({ admitted: true, count: 1 });
    expect(await b.acquire(u('u1'))).toEqual({ admitted: true, count: 2 });
    expect(await b.acquire(u('u1'))).toEqual({ admitted: true, count: 3 });
    expect(await a.acquire(u('u1'))).toEqual({ admitted: false, count: 3 });
    expect((await a.acquire(u('u2'))).admitted).toBe(true); // other users are unaffected
    b.release(u('u1'));
    await settle();
    expect(await a.acquire(u('u1'))).toEqual({ admitted: true, count: 3 });
  });

  it('admits exactly the limit under concurrent attempts', async () => {
    const a = await gatewayProcess(5);
    const b = await gatewayProcess(5);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).acquire(u('u-concurrent'))));
    expect(results.filter((r) => r.admitted)).toHaveLength(5);
  });

  it("stops counting a crashed process's sockets once its lease lapses", async () => {
    const crashed = await gatewayProcess(1, 3);
    const survivor = await gatewayProcess(1, 3);
    expect((await crashed.acquire(u('u3'))).admitted).toBe(true);
    expect((await survivor.acquire(u('u3'))).admitted).toBe(false);
    // "Crash": the lease is no longer renewed, and no release ever comes.
    await crashed.retire();
    expect((await survivor.acquire(u('u3'))).admitted).toBe(true);
  });

  it('lets a lapsed lease expire by time alone', async () => {
    const crashed = await gatewayProcess(1, 3);
    const survivor = await gatewayProcess(1, 3);
    expect((await crashed.acquire(u('u4'))).admitted).toBe(true);
    // Simulate a process that died without retiring: stop its renewals.
    (crashed as unknown as { timer: NodeJS.Timeout }).timer.close();
    expect((await survivor.acquire(u('u4'))).admitted).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 3_200));
    expect((await survivor.acquire(u('u4'))).admitted).toBe(true);
  });
});

describe('ConnectionQuota batches', () => {
  it('admits two sockets of one account in the same batch one after the other, at the limit', async () => {
    const a = await gatewayProcessWith(3, 15, 128);
    expect(await a.acquire('same-batch')).toEqual({ admitted: true, count: 1 });
    expect(await a.acquire('same-batch')).toEqual({ admitted: true, count: 2 });
    // Both in one turn, so one script call: the first takes the last slot, the second sees it taken.
    const [first, second] = await Promise.all([a.acquire('same-batch'), a.acquire('same-batch')]);
    expect(first).toEqual({ admitted: true, count: 3 });
    expect(second).toEqual({ admitted: false, count: 3 });
  });

  it("answers each admission of a mixed batch with its own account's count", async () => {
    const a = await gatewayProcessWith(2, 15, 128);
    const results = await Promise.all(['m1', 'm2', 'm1', 'm3', 'm1', 'm2'].map((user) => a.acquire(user)));
    expect(results).toEqual([
      { admitted: true, count: 1 },
      { admitted: true, count: 1 },
      { admitted: true, count: 2 },
      { admitted: true, count: 1 },
      { admitted: false, count: 2 },
      { admitted: true, count: 2 },
    ]);
  });

  it('splits a turn larger than the batch size into several calls with the same outcome', async () => {
    const a = await gatewayProcessWith(5, 15, 4);
    const results = await Promise.all(Array.from({ length: 11 }, () => a.acquire('split')));
    expect(results.map((r) => r.admitted)).toEqual([...Array<boolean>(5).fill(true), ...Array<boolean>(6).fill(false)]);
    expect(results.map((r) => r.count)).toEqual([1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5]);
  });

  it("drops a dead process's counts inside a batch and counts the live ones", async () => {
    const crashed = await gatewayProcessWith(2, 3, 128);
    const live = await gatewayProcessWith(2, 3, 128);
    expect((await crashed.acquire('dead-in-batch')).admitted).toBe(true);
    expect((await live.acquire('dead-in-batch')).admitted).toBe(true);
    await crashed.retire();
    const results = await Promise.all([live.acquire('dead-in-batch'), live.acquire('dead-in-batch'), live.acquire('other')]);
    expect(results).toEqual([
      { admitted: true, count: 2 },
      { admitted: false, count: 2 },
      { admitted: true, count: 1 },
    ]);
  });
});

describe('ConnectionQuota releases', () => {
  it("sends a turn's releases as one script call, before that turn's admissions", async () => {
    const a = await gatewayProcessWith(1, 15, 128);
    const held = Array.from({ length: 40 }, (_, i) => `mass-close-${i}`);
    for (const user of held) expect((await a.acquire(user)).admitted).toBe(true);
    // Watch what this process's Redis connection sends (MONITOR sees every client; keep ours).
    const quotaRedis = clients.at(-1) as Redis;
    const address = `${quotaRedis.stream.localAddress}:${quotaRedis.stream.localPort}`;
    const sent: string[] = [];
    const monitor = await RedisMonitor.start(config.REDIS_URL, (line) => {
      // `+<time> [<db> <address>] "<command>" …`; ioredis sends EVAL for a script's first use on a connection, EVALSHA after.
      const [, source, command] = /^\+\S+ \[\d+ (\S+)\] "([^"]+)"/.exec(line) ?? [];
      if (source === address)
        sent.push(
          String(command)
            .toLowerCase()
            .replace(/^evalsha$/, 'eval'),
        );
    });
    await settle();
    // A mass disconnect, and one account reconnecting at its limit of one, in the same turn.
    for (const user of held) a.release(user);
    const reconnect = a.acquire(held[0]!);
    expect(await reconnect).toEqual({ admitted: true, count: 1 });
    await settle();
    monitor.stop();
    expect(sent).toEqual(['eval', 'eval']); // the releases, then the admission
    expect((await a.acquire(held[1]!)).count).toBe(1);
  });
});
