import { generate } from 'otplib';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TotpFactors } from '../../src/identity/credentials/totp/totp-factors.ts';
import { connectRedis, createRedis, type RedisClient } from '../../src/storage/redis.ts';
import { testConfig } from '../support/config.ts';
import { dropTestData } from '../support/gateway.ts';

// A code checked against a "not before" later than now (a step-up asked by a gateway whose clock
// runs ahead), or a factor whose last accepted step lies ahead of this machine's clock (set back
// since), used to throw inside otplib: a 500 instead of a refused code.

const config = testConfig();
let mongo: MongoClient;
let redis: RedisClient;
let factors: TotpFactors;

beforeAll(async () => {
  mongo = new MongoClient(config.MONGO_URL, { serverSelectionTimeoutMS: 2_000 });
  await mongo.connect();
  redis = createRedis(config, 'totp-clock-test');
  await connectRedis(redis, 2_000);
  factors = new TotpFactors(mongo.db(config.MONGO_DB), redis, 'Vigil', undefined);
});

afterAll(async () => {
  redis?.disconnect();
  await mongo?.close();
  await dropTestData(config);
});

describe('TOTP against a clock ahead of the machine', () => {
  it('a code checked with a "not before" ten minutes ahead is refused, not an error; later codes still work', async () => {
    const userId = `totp-clock-${process.pid}`;
    const { secret } = await factors.begin(userId, 'clock@example.com');
    await factors.confirm(userId, await generate({ secret, period: 30, epoch: Math.floor(Date.now() / 1000) - 30 }));
    const now = await generate({ secret, period: 30 });
    await expect(factors.verify(userId, now, Date.now() + 600_000)).resolves.toBe(false);
    await expect(factors.verify(userId, now)).resolves.toBe(true);
  });
});
