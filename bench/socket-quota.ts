import { Redis } from 'ioredis';
import { ConnectionQuota } from '../src/realtime/connection-quota.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startRunRedis } from '../scripts/load/peer-servers.ts';
import { loadAverage, medianRound, packageVersion } from './bench-env.ts';

/*
 * The per-account socket quota's Redis work for a connect burst and a mass disconnect: N sockets
 * admitted and then released, `PER_TURN` per event-loop turn (as uWS delivers them under load),
 * with one script call per socket (batch 1) against one call per turn (batch 128, the default).
 * Reports CPU per socket of this process and of a Redis of the run's own. Rounds alternate.
 *   npx tsx bench/socket-quota.ts [sockets] [rounds]
 */
const SOCKETS = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const PER_TURN = 128;

interface Round {
  connectNodeUs: number;
  connectRedisUs: number;
  closeNodeUs: number;
  closeRedisUs: number;
}

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return field('used_cpu_sys') + field('used_cpu_user');
}

/** Runs `step` for every socket, PER_TURN per turn, and returns µs of CPU per socket here and in Redis. */
async function measure(
  probe: Redis,
  quotaRedis: Redis,
  users: string[],
  step: (user: string) => unknown,
): Promise<[number, number]> {
  const redisBefore = await redisCpuSeconds(probe);
  const before = process.cpuUsage();
  for (let i = 0; i < users.length; i += PER_TURN) {
    await Promise.all(users.slice(i, i + PER_TURN).map(step));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await quotaRedis.ping(); // releases are fire-and-forget: a reply on their connection comes after them
  const used = process.cpuUsage(before);
  const redisUs = ((await redisCpuSeconds(probe)) - redisBefore) * 1e6;
  return [(used.user + used.system) / users.length, redisUs / users.length];
}

async function round(port: number, batch: number): Promise<Round> {
  const redis = new Redis({ port, lazyConnect: true });
  const probe = new Redis({ port, lazyConnect: true });
  await Promise.all([redis.connect(), probe.connect()]);
  await redis.flushall();
  const quota = new ConnectionQuota(redis as never, { limit: 10, leaseSeconds: 60, batch }, createLogger('silent'));
  await quota.start();
  const users = Array.from({ length: SOCKETS }, (_, i) => `bench-user-${i}`);
  const [connectNodeUs, connectRedisUs] = await measure(probe, redis, users, async (user) => {
    if (!(await quota.acquire(user)).admitted) throw new Error(`${user} was refused`);
  });
  const [closeNodeUs, closeRedisUs] = await measure(probe, redis, users, (user) => quota.release(user));
  const left = await probe.keys('ws:{quota}:users:*');
  if (left.length > 0) throw new Error(`${left.length} accounts still counted after every release`);
  await quota.retire();
  redis.disconnect();
  probe.disconnect();
  return { connectNodeUs, connectRedisUs, closeNodeUs, closeRedisUs };
}

const redis = await startRunRedis();
try {
  console.log(`socket quota — ${SOCKETS} sockets, ${PER_TURN} per event-loop turn, ${ROUNDS} rounds alternating, medians`);
  console.log(`node ${process.version}, ioredis ${packageVersion('ioredis')}, load average at start: ${loadAverage()}`);
  const rounds = new Map<number, Round[]>([
    [1, []],
    [128, []],
  ]);
  for (let r = 0; r < ROUNDS; r++) for (const [batch, list] of rounds) list.push(await round(redis.port, batch));
  const fmt = (n: number) => n.toFixed(2).padStart(8);
  console.log('batch   connect µs/socket (gateway, Redis)   close µs/socket (gateway, Redis)');
  for (const [batch, list] of rounds) {
    const m = medianRound(list);
    console.log(
      `${String(batch).padStart(5)}   ${fmt(m.connectNodeUs)} ${fmt(m.connectRedisUs)}              ${fmt(m.closeNodeUs)} ${fmt(m.closeRedisUs)}`,
    );
  }
  console.log(`load average at end: ${loadAverage()}`);
} finally {
  await redis.stop();
}
process.exit(0);
