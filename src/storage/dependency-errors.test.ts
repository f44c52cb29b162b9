import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { testConfig } from '../../test/support/config.ts';
import { dependencyFailure } from './dependency-errors.ts';

// What the real driver throws, not a hand-made error: a request whose MongoDB client is closed
// (the gateway shutting down) gets a catalogued 503 naming mongo, not a 500 that reads as our bug.
async function failureOf(read: Promise<unknown>): Promise<unknown> {
  return read.then(
    () => undefined,
    (error: unknown) => error,
  );
}

function expectMongoUnavailable(err: unknown): void {
  expect(err).toBeInstanceOf(Error);
  const failure = dependencyFailure(err);
  expect(failure?.code, `${(err as Error).name}: ${(err as Error).message}`).toBe('DEPENDENCY_UNAVAILABLE');
  expect(failure?.params).toEqual({ dependency: 'mongo' });
  expect(failure?.headers).toEqual({ 'retry-after': '1' });
}

describe('dependency failures', () => {
  const config = testConfig();
  const accounts = (client: MongoClient) => client.db(config.MONGO_DB).collection('accounts');

  it('answers a read on a closed MongoDB client as DEPENDENCY_UNAVAILABLE (mongo)', async () => {
    const client = await MongoClient.connect(config.MONGO_URL, { serverSelectionTimeoutMS: 2_000 });
    await client.close();
    expectMongoUnavailable(await failureOf(accounts(client).findOne({})));
  });

  it('answers a read in flight while its client closes the same way', async () => {
    // A read that wins the race against close() has nothing to map: try again (it loses at once here).
    let err: unknown;
    for (let attempt = 0; attempt < 5 && err === undefined; attempt++) {
      const client = await MongoClient.connect(config.MONGO_URL, { serverSelectionTimeoutMS: 2_000 });
      const read = failureOf(accounts(client).findOne({}));
      const closed = client.close();
      err = await read;
      await closed;
    }
    expectMongoUnavailable(err);
  });
});
