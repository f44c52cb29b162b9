import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import bcrypt from 'bcrypt';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { spawnLoadGateway } from '../scripts/load/spawn-gateway.ts';
import type { AccountDocument } from '../src/identity/accounts/account-store.ts';

/**
 * Login and availability answer times for a known and an unknown username, with ACCOUNTS accounts
 * stored: `node --import tsx bench/identifier-lookups.ts [accounts] [pairs]`. The accounts are
 * written straight into a fresh database the way a deployment that predates identifier claims
 * holds them, and a production-mode gateway child is then started on it (so its start-up time
 * includes any back-fill). Requests go in interleaved pairs (known, unknown), as in
 * test/hardening/enumeration-timing.test.ts; medians and the median paired difference are printed.
 * Logins use a wrong password, so both sides do one bcrypt comparison (cost 10) and answer 401.
 */
const ACCOUNTS = Number(process.argv[2] ?? 3000);
const PAIRS = Number(process.argv[3] ?? 200);
const MONGO_URL = process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const tag = randomUUID().slice(0, 8);
const MONGO_DB = `bench_lookups_${tag}`;
const REDIS_PREFIX = `bench:lookups:${tag}:`;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const round = (ms: number) => Math.round(ms * 100) / 100;

async function timed(url: string, init?: RequestInit): Promise<{ ms: number; status: number }> {
  const started = performance.now();
  const res = await fetch(url, init);
  await res.arrayBuffer();
  return { ms: performance.now() - started, status: res.status };
}

async function seed(mongo: MongoClient): Promise<void> {
  const hash = await bcrypt.hash('the right passphrase', 10);
  const accounts = mongo.db(MONGO_DB).collection<AccountDocument>('accounts');
  const now = new Date();
  for (let from = 0; from < ACCOUNTS; from += 500) {
    const docs: AccountDocument[] = [];
    for (let i = from; i < Math.min(ACCOUNTS, from + 500); i++) {
      docs.push({
        _id: randomUUID(),
        seq: i + 1,
        username: `bench-${i}`,
        usernameKey: `bench-${i}`,
        passwordHash: hash,
        passwordChangedAt: now,
        status: 'active',
        locale: 'en',
        profile: {},
        createdAt: now,
        updatedAt: now,
      });
    }
    await accounts.insertMany(docs);
  }
}

async function main(): Promise<void> {
  const mongo = new MongoClient(MONGO_URL);
  await mongo.connect();
  const redis = new Redis(REDIS_URL);
  try {
    await seed(mongo);
    const started = performance.now();
    const gateway = await spawnLoadGateway(1, false, {
      MONGO_DB,
      REDIS_PREFIX,
      VIGIL_LOCKOUT_MAX_FAILURES: '1000000',
      VIGIL_LOGIN_PER_IDENTIFIER: '1000000',
      VIGIL_AVAILABILITY_PER_IP_PER_MINUTE: '1000000',
    });
    const startSeconds = (performance.now() - started) / 1000;
    try {
      const login = { known: [] as number[], unknown: [] as number[], diff: [] as number[] };
      const availability = { known: [] as number[], unknown: [] as number[], diff: [] as number[] };
      const loginOf = (identifier: string) =>
        timed(`${gateway.url}/v1/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ identifier, password: 'a wrong passphrase' }),
        });
      const availabilityOf = (username: string) => timed(`${gateway.url}/v1/accounts/availability?username=${username}`);
      for (let i = 0; i < PAIRS; i++) {
        const known = `bench-${Math.floor(Math.random() * ACCOUNTS)}`;
        const unknown = `nobody-${i}`;
        for (const [series, call] of [
          [login, loginOf],
          [availability, availabilityOf],
        ] as const) {
          // Alternate which goes first, so neither side always meets a warm or a cold server.
          const [a, b] =
            i % 2 === 0 ? [await call(known), await call(unknown)] : [await call(unknown), await call(known)].reverse();
          if (series === login && (a!.status !== 401 || b!.status !== 401))
            throw new Error(`login answered ${a!.status}/${b!.status}`);
          series.known.push(a!.ms);
          series.unknown.push(b!.ms);
          series.diff.push(a!.ms - b!.ms);
        }
      }
      const report = (name: string, s: typeof login) =>
        `${name}: known ${round(median(s.known))} ms, unknown ${round(median(s.unknown))} ms, median paired difference ${round(median(s.diff))} ms`;
      process.stdout.write(
        [
          `${ACCOUNTS} accounts, ${PAIRS} pairs, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg()
            .map((l) => l.toFixed(2))
            .join(' ')}`,
          `gateway start (spawn to listening, including any back-fill): ${startSeconds.toFixed(1)} s`,
          report('login (wrong password, bcrypt 10)', login),
          report('availability', availability),
          '',
        ].join('\n'),
      );
    } finally {
      await gateway.stop();
    }
  } finally {
    await mongo.db(MONGO_DB).dropDatabase();
    await mongo.close();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${REDIS_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

await main();
